package httpapi_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmbatch/llmbatch/io/httpapi"
	"github.com/llmbatch/llmbatch/io/responses"
)

// wrapped is a RoundTripper that is not an *http.Transport (Send then
// gives each request headers of its own).
type wrapped struct{ rt http.RoundTripper }

func (w wrapped) RoundTrip(r *http.Request) (*http.Response, error) { return w.rt.RoundTrip(r) }

// Send hands most requests to the transport straight, skipping
// http.Client. What a server sees and what Send returns must be what
// http.Client.Do gives (a Timeout forces that path): plain answers,
// followed and refused redirects of every status, a loop of redirects,
// Basic auth from the URL's user info, and a connection refused.
func TestClient_SendDirectIsClientDo(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, fmt.Sprintf("%s %s auth=%q type=%q referer=%q len=%d body=%s", r.Method, r.URL.Path,
			r.Header.Get("Authorization"), r.Header.Get("Content-Type"), r.Header.Get("Referer"), r.ContentLength, body))
		mu.Unlock()
		switch p := r.URL.Path; {
		case strings.HasPrefix(p, "/v1/status/"):
			var code int
			fmt.Sscan(strings.TrimPrefix(p, "/v1/status/"), &code)
			http.Redirect(w, r, "/v1/responses", code)
		case p == "/v1/loop":
			http.Redirect(w, r, "/v1/loop", http.StatusTemporaryRedirect)
		case p == "/v1/away":
			http.Redirect(w, r, "http://127.0.0.1:1/v1/responses", http.StatusTemporaryRedirect)
		case p == "/v1/nolocation":
			w.WriteHeader(http.StatusTemporaryRedirect)
		default:
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, okBody)
		}
	}))
	defer srv.Close()
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadURL := "http://" + dead.Addr().String()
	dead.Close()

	userinfo := strings.Replace(srv.URL, "http://", "http://ann:pw@", 1)
	cases := []struct{ base, key, path string }{
		{srv.URL + "/v1", "sk-direct-test-1234", "/responses"},
		{srv.URL + "/v1", "", "/responses"},
		{userinfo + "/v1", "", "/responses"},
		{userinfo + "/v1", "sk-direct-test-1234", "/responses"},
		{srv.URL + "/v1", "sk-direct-test-1234", "/status/301"},
		{srv.URL + "/v1", "sk-direct-test-1234", "/status/302"},
		{srv.URL + "/v1", "sk-direct-test-1234", "/status/303"},
		{srv.URL + "/v1", "sk-direct-test-1234", "/status/307"},
		{srv.URL + "/v1", "sk-direct-test-1234", "/status/308"},
		{srv.URL + "/v1", "sk-direct-test-1234", "/loop"},
		{srv.URL + "/v1", "sk-direct-test-1234", "/away"},
		{srv.URL + "/v1", "sk-direct-test-1234", "/nolocation"},
		{deadURL + "/v1", "sk-direct-test-1234", "/responses"},
	}
	clients := map[string]func() *http.Client{
		"DefaultClient": func() *http.Client { return nil },
		"OwnTransport":  func() *http.Client { return &http.Client{Transport: &http.Transport{}} },
		"Wrapped":       func() *http.Client { return &http.Client{Transport: wrapped{http.DefaultTransport}} },
	}
	body := []byte(`{"model":"m","input":"hi"}`)
	outcome := func(hc *http.Client, base, key, path string) string {
		mu.Lock()
		seen = nil
		mu.Unlock()
		c := &httpapi.Client{BaseURL: base, APIKey: key, HTTPClient: hc, UserAgent: "llmbatch"}
		ans, err := c.Send(context.Background(), path, body, responses.API{})
		mu.Lock()
		defer mu.Unlock()
		s := fmt.Sprintf("requests %q", seen)
		if ans != nil {
			s += fmt.Sprintf(" status %d text %q", ans.StatusCode, ans.Result.OutputText)
		}
		if err != nil {
			e := err.(*httpapi.Error)
			s += fmt.Sprintf(" error %v %s %d %q", e.Class, e.Code, e.StatusCode, strings.ReplaceAll(e.Message, dead.Addr().String(), "DEAD"))
		}
		return s
	}
	for _, tc := range cases {
		// The reference: http.Client.Do, which a Timeout makes Send use.
		want := outcome(&http.Client{Timeout: time.Hour}, tc.base, tc.key, tc.path)
		for name, hc := range clients {
			if got := outcome(hc(), tc.base, tc.key, tc.path); !reflect.DeepEqual(got, want) {
				t.Errorf("%s %s (key %t) %s:\n got %s\nwant %s", name, tc.base, tc.key != "", tc.path, got, want)
			}
		}
	}
}

// A redirect policy that changes the request it is shown (via[0]) changes
// that request alone, not the headers every request shares.
func TestClient_RedirectPolicyCannotChangeSharedHeaders(t *testing.T) {
	var mu sync.Mutex
	var mutated []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		mutated = append(mutated, r.URL.Path+"="+r.Header.Get("X-Mutated"))
		mu.Unlock()
		if r.URL.Path == "/v1/old" {
			http.Redirect(w, r, "/v1/responses", http.StatusPermanentRedirect)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, okBody)
	}))
	defer srv.Close()
	hc := &http.Client{CheckRedirect: func(req *http.Request, via []*http.Request) error {
		via[0].Header.Set("X-Mutated", "yes")
		return nil
	}}
	c := &httpapi.Client{BaseURL: srv.URL + "/v1", APIKey: "sk-direct-test-1234", HTTPClient: hc}
	for _, path := range []string{"/old", "/responses"} {
		if _, err := c.Send(context.Background(), path, []byte(`{}`), responses.API{}); err != nil {
			t.Fatalf("Send(%s): %v", path, err)
		}
	}
	if want := []string{"/v1/old=", "/v1/responses=", "/v1/responses="}; !reflect.DeepEqual(mutated, want) {
		t.Errorf("X-Mutated seen: %q, want %q (the policy's change must not reach later requests)", mutated, want)
	}
}

// AsError is errors.As for *Error: nil for nil and for other errors, the
// *Error itself or wrapped, and no allocation for nil or an *Error.
func TestAsError(t *testing.T) {
	e := &httpapi.Error{Code: "x"}
	for _, tt := range []struct {
		err  error
		want *httpapi.Error
	}{{nil, nil}, {io.EOF, nil}, {e, e}, {fmt.Errorf("wrapped: %w", e), e}} {
		if got := httpapi.AsError(tt.err); got != tt.want {
			t.Errorf("AsError(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { httpapi.AsError(nil); httpapi.AsError(e) }); n != 0 {
		t.Errorf("AsError allocates %v times for nil and an *Error", n)
	}
}

// Over HTTPS with HTTP/2, as real endpoints answer: concurrent requests
// on the direct path (headers shared with the transport) arrive with the
// key and headers, and the race detector sees no write to them.
func TestClient_SendHTTP2Concurrent(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor != 2 || r.Header.Get("Authorization") != "Bearer sk-direct-test-1234" || r.Header.Get("X-Team") != "a" {
			w.WriteHeader(400)
			fmt.Fprintf(w, `{"error":{"message":"proto %d, auth %q, team %q"}}`, r.ProtoMajor, r.Header.Get("Authorization"), r.Header.Get("X-Team"))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, okBody)
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	tr := srv.Client().Transport.(*http.Transport).Clone()
	tr.ForceAttemptHTTP2 = true
	c := &httpapi.Client{BaseURL: srv.URL + "/v1", APIKey: "sk-direct-test-1234", Header: http.Header{"X-Team": {"a"}}, HTTPClient: &http.Client{Transport: tr}}
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range 10 {
				if _, err := c.Send(context.Background(), "/responses", []byte(`{}`), responses.API{}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}
