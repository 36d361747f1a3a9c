package httpapi_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/llmbatch/llmbatch/io/httpapi"
	"github.com/llmbatch/llmbatch/io/responses"
)

// Request builds what Send sends: the same URL, headers and body; the
// headers it returns are the caller's to change.
func TestClient_Request(t *testing.T) {
	var got *http.Request
	var gotBody []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		gotBody, _ = io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, okBody)
	}))
	defer srv.Close()
	c := &httpapi.Client{BaseURL: srv.URL + "/v1/", APIKey: "sk-request-test-1234", Header: http.Header{"X-Team": {"a"}}, UserAgent: "llmbatch"}
	body := []byte(`{"model":"m","input":"hi"}`)
	req, err := c.Request(context.Background(), "/responses", body)
	if err != nil {
		t.Fatal(err)
	}
	if req.Method != http.MethodPost || req.URL.String() != srv.URL+"/v1/responses" {
		t.Errorf("Request() = %s %s, want POST %s/v1/responses", req.Method, req.URL, srv.URL)
	}
	b, _ := io.ReadAll(req.Body)
	if string(b) != string(body) {
		t.Errorf("Request() body = %s, want %s", b, body)
	}
	req.Header.Set("X-Team", "changed") // must not reach Send
	if _, err := c.Send(context.Background(), "/responses", body, responses.API{}); err != nil {
		t.Fatalf("Send() error = %v", err)
	}
	if string(gotBody) != string(body) || got.URL.Path != "/v1/responses" {
		t.Errorf("sent %s %s, want the body and path Request showed", got.URL.Path, gotBody)
	}
	want := map[string]string{"Authorization": "Bearer sk-request-test-1234", "X-Team": "a", "User-Agent": "llmbatch",
		"Content-Type": "application/json", "Accept": "application/json"}
	for name, v := range want {
		if g := got.Header.Get(name); g != v {
			t.Errorf("sent %s: %q, want %q", name, g, v)
		}
	}
	req2, _ := c.Request(context.Background(), "/responses", body)
	for name, v := range want {
		if g := req2.Header.Get(name); g != v {
			t.Errorf("Request() %s: %q, want %q (as sent)", name, g, v)
		}
	}
}
