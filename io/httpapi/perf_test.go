package httpapi_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmbatch/llmbatch/io/httpapi"
	"github.com/llmbatch/llmbatch/io/responses"
)

// TestClient_SendHeadersOnEveryRequest: the headers built once are sent
// the same on every request, concurrent ones included, and a caller's
// Content-Type does not win over ours (as before they were built once).
// The answers' headers are sent in lower case, as many servers do: the
// request id, the rate limit and the retry wait are read all the same.
func TestClient_SendHeadersOnEveryRequest(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for name, want := range map[string]string{"Authorization": "Bearer sk-test-12345678", "X-Team": "labels",
			"Content-Type": "application/json", "Accept": "application/json", "User-Agent": "llmbatch"} {
			if got := r.Header.Values(name); len(got) != 1 || got[0] != want {
				t.Errorf("%s = %q, want %q", name, got, want)
			}
		}
		h := w.Header()
		h["x-request-id"] = []string{"req_1"}
		h["x-ratelimit-remaining-requests"] = []string{"41"}
		h["x-ratelimit-reset-tokens"] = []string{"6m0s"}
		h["retry-after-ms"] = []string{"1500"}
		w.WriteHeader(http.StatusTooManyRequests)
		w.Write([]byte(`{"error":{"code":"rate_limit_exceeded","message":"slow down"}}`))
	}))
	defer srv.Close()
	c := &httpapi.Client{BaseURL: srv.URL, APIKey: "sk-test-12345678", UserAgent: "llmbatch",
		Header: http.Header{"X-Team": {"labels"}, "Content-Type": {"text/plain"}}}
	done := make(chan struct{})
	for i := range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			ctx := context.Background()
			ans, err := c.Send(ctx, "/responses", []byte(`{}`), responses.API{})
			e, ok := err.(*httpapi.Error)
			if !ok || !e.RateLimited || e.RetryAfter != 1500*time.Millisecond {
				t.Errorf("request %d: error %#v, want a 429 with a 1.5s wait", i, err)
				return
			}
			if ans.RequestID != "req_1" || ans.RateLimit.RemainingRequests != 41 || ans.RateLimit.ResetTokens != 6*time.Minute {
				t.Errorf("request %d: request id %q, rate limit %+v", i, ans.RequestID, ans.RateLimit)
			}
		}()
	}
	for range 8 {
		<-done
	}
	if got := c.Header.Get("Content-Type"); got != "text/plain" {
		t.Errorf("the caller's Header was changed: Content-Type %q", got)
	}
}

// TestHeaderLookupsDoNotAllocate: reading an answer's headers (request id,
// rate limit) costs no allocation per answer; net/http stores header keys
// in canonical form, which the look-ups use as they are.
func TestHeaderLookupsDoNotAllocate(t *testing.T) {
	h := http.Header{}
	for i, name := range []string{"x-request-id", "x-ratelimit-limit-requests", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-requests"} {
		h.Set(name, fmt.Sprint(i+1))
	}
	h.Set("Content-Type", "application/json")
	allocs := testing.AllocsPerRun(100, func() {
		rl := httpapi.ParseRateLimit(h)
		if rl.LimitRequests != 2 || rl.RemainingTokens != 3 || rl.ResetRequests != 4*time.Second {
			t.Fatalf("rate limit %+v", rl)
		}
	})
	if allocs != 0 {
		t.Errorf("ParseRateLimit: %v allocations, want 0", allocs)
	}
}

// TestClient_SendURLParsedOnce: requests to several paths of one client,
// concurrent ones among them, each go to their own path below a base URL
// with a path of its own, with their own body; a base URL that does not
// parse fails every request the same way.
func TestClient_SendURLParsedOnce(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if want := `{"path":"` + r.URL.Path + `"}`; string(body) != want || r.ContentLength != int64(len(want)) || r.Host != strings.TrimPrefix(srvURL(r), "http://") {
			t.Errorf("request to %s (host %s): body %s, length %d", r.URL.Path, r.Host, body, r.ContentLength)
		}
		w.Write([]byte(`{"status":"completed","output":[]}`))
	}))
	defer srv.Close()
	c := &httpapi.Client{BaseURL: srv.URL + "/proxy/v1/"}
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			path := []string{"/responses", "/chat/completions"}[i%2]
			if _, err := c.Send(context.Background(), path, []byte(`{"path":"/proxy/v1`+path+`"}`), responses.API{}); err != nil && i%2 == 0 {
				t.Errorf("%s: %v", path, err)
			}
		})
	}
	wg.Wait()
	bad := &httpapi.Client{BaseURL: "http://[::1"}
	for range 2 {
		_, err := bad.Send(context.Background(), "/responses", []byte(`{}`), responses.API{})
		if e, ok := err.(*httpapi.Error); !ok || e.Class != httpapi.Fatal || e.Code != "bad_request_url" {
			t.Errorf("bad base URL: %v", err)
		}
	}
}

// srvURL is the URL the test server was reached at.
func srvURL(r *http.Request) string {
	return "http://" + r.Context().Value(http.LocalAddrContextKey).(net.Addr).String()
}
