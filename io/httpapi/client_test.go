package httpapi_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/llmbatch/llmbatch/io/api"
	"github.com/llmbatch/llmbatch/io/httpapi"
	"github.com/llmbatch/llmbatch/io/responses"
)

const okBody = `{"id":"resp_1","object":"response","status":"completed","model":"gpt-5-mini-2025-08-07",
 "output":[{"type":"reasoning","id":"rs_1","summary":[]},
  {"type":"message","role":"assistant","content":[{"type":"output_text","text":"posi"},{"type":"refusal","refusal":"x"},{"type":"output_text","text":"tive"}]}],
 "usage":{"input_tokens":30,"input_tokens_details":{"cached_tokens":10},"output_tokens":20,"output_tokens_details":{"reasoning_tokens":12},"total_tokens":50}}`

func TestClient_Send(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		header   map[string]string
		body     string
		class    httpapi.Class
		code     string
		after    time.Duration
		limited  bool
		wantText string
	}{
		{name: "Completed", status: 200, body: okBody, class: httpapi.OK, wantText: "positive"},
		{name: "Incomplete", status: 200, body: `{"object":"response","status":"incomplete","incomplete_details":{"reason":"max_output_tokens"},"output":[]}`,
			class: httpapi.RowFailed, code: api.CodeIncomplete},
		{name: "FailedServerError", status: 200, body: `{"object":"response","status":"failed","error":{"code":"server_error","message":"boom"},"output":[]}`,
			class: httpapi.Retryable, code: "server_error"},
		{name: "FailedInvalidPrompt", status: 200, body: `{"object":"response","status":"failed","error":{"code":"invalid_prompt","message":"no"},"output":[]}`,
			class: httpapi.RowFailed, code: "invalid_prompt"},
		{name: "NotJSON", status: 200, body: `<html>gateway</html>`, class: httpapi.Retryable, code: httpapi.CodeMalformed},
		{name: "CutShort", status: 200, body: okBody[:80], class: httpapi.Retryable, code: httpapi.CodeMalformed},
		{name: "NotAResponse", status: 200, body: `{"hello":"world"}`, class: httpapi.RowFailed, code: httpapi.CodeNotResponse},
		{name: "BadRequest", status: 400, body: `{"error":{"message":"bad field","type":"invalid_request_error","param":null,"code":null}}`,
			class: httpapi.RowFailed, code: "invalid_request_error"},
		{name: "Unauthorized", status: 401, body: `{"error":{"message":"Incorrect API key","type":"invalid_request_error","code":"invalid_api_key"}}`,
			class: httpapi.Fatal, code: "invalid_api_key"},
		{name: "Forbidden", status: 403, body: `{}`, class: httpapi.Fatal, code: httpapi.CodeHTTP},
		{name: "PaymentRequired", status: 402, body: ``, class: httpapi.Fatal, code: httpapi.CodeHTTP},
		{name: "NotFound", status: 404, body: `{"error":{"message":"no model","code":"model_not_found"}}`, class: httpapi.RowFailed, code: "model_not_found"},
		{name: "TooLarge", status: 413, body: ``, class: httpapi.RowFailed, code: httpapi.CodeHTTP},
		{name: "Unprocessable", status: 422, body: `{}`, class: httpapi.RowFailed, code: httpapi.CodeHTTP},
		{name: "RateLimited", status: 429, header: map[string]string{"retry-after-ms": "1500", "retry-after": "9"},
			body:  `{"error":{"message":"slow down","type":"requests","code":"rate_limit_exceeded"}}`,
			class: httpapi.Retryable, code: "rate_limit_exceeded", after: 1500 * time.Millisecond, limited: true},
		{name: "RateLimitedSeconds", status: 429, header: map[string]string{"retry-after": "2"}, body: `{}`,
			class: httpapi.Retryable, code: httpapi.CodeHTTP, after: 2 * time.Second, limited: true},
		{name: "Quota", status: 429, body: `{"error":{"message":"quota","type":"insufficient_quota","code":"insufficient_quota"}}`,
			class: httpapi.Fatal, code: "insufficient_quota"},
		{name: "Timeout408", status: 408, body: ``, class: httpapi.Retryable, code: httpapi.CodeHTTP},
		{name: "Conflict409", status: 409, body: ``, class: httpapi.Retryable, code: httpapi.CodeHTTP},
		{name: "ServerError", status: 500, body: `{"error":{"message":"oops","type":"server_error"}}`, class: httpapi.Retryable, code: "server_error"},
		{name: "Overloaded", status: 503, body: `{"error":{"message":"busy","type":"service_unavailable_error","code":"server_is_overloaded"}}`,
			class: httpapi.Retryable, code: "server_is_overloaded"},
		{name: "ShouldRetryFalse", status: 503, header: map[string]string{"x-should-retry": "false"}, body: ``, class: httpapi.RowFailed, code: httpapi.CodeHTTP},
		{name: "ShouldRetryTrue", status: 400, header: map[string]string{"x-should-retry": "true"}, body: ``, class: httpapi.Retryable, code: httpapi.CodeHTTP},
		{name: "ShouldRetryNotOverFatal", status: 401, header: map[string]string{"x-should-retry": "true"}, body: ``, class: httpapi.Fatal, code: httpapi.CodeHTTP},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/v1/responses" || r.Header.Get("Authorization") != "Bearer sk-k" {
					t.Errorf("request %s with auth %q", r.URL.Path, r.Header.Get("Authorization"))
				}
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.Header().Set("x-request-id", "req_42")
				if tt.name == "CutShort" {
					w.Header().Set("Content-Length", "2000")
				}
				w.WriteHeader(tt.status)
				w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			c := &httpapi.Client{BaseURL: srv.URL + "/v1", APIKey: "sk-k"}
			ans, err := c.Send(context.Background(), "/responses", []byte(`{"model":"m","input":"x"}`), responses.API{})
			class := httpapi.OK
			var e *httpapi.Error
			if err != nil {
				if !errors.As(err, &e) {
					t.Fatalf("Send() error %T %v, want *httpapi.Error", err, err)
				}
				class = e.Class
			}
			if class != tt.class {
				t.Fatalf("class = %v (%v), want %v", class, err, tt.class)
			}
			if ans == nil || ans.StatusCode != tt.status || ans.RequestID != "req_42" {
				t.Fatalf("answer = %+v", ans)
			}
			if e != nil {
				if e.Code != tt.code {
					t.Errorf("code = %q, want %q", e.Code, tt.code)
				}
				if e.RetryAfter != tt.after {
					t.Errorf("RetryAfter = %v, want %v", e.RetryAfter, tt.after)
				}
				if e.RateLimited != tt.limited {
					t.Errorf("RateLimited = %v, want %v", e.RateLimited, tt.limited)
				}
				if strings.Contains(e.Error(), "sk-k") {
					t.Errorf("error text contains the key: %v", e)
				}
			}
			if tt.wantText != "" {
				if ans.Result.OutputText != tt.wantText {
					t.Errorf("OutputText = %q, want %q", ans.Result.OutputText, tt.wantText)
				}
				want := api.Usage{InputTokens: 30, CachedInputTokens: 10, OutputTokens: 20, ReasoningTokens: 12, TotalTokens: 50}
				if ans.Result.Usage != want {
					t.Errorf("Usage = %+v, want %+v", ans.Result.Usage, want)
				}
				if ans.Result.Model != "gpt-5-mini-2025-08-07" || len(ans.Body) == 0 {
					t.Errorf("Model = %q, body %d bytes", ans.Result.Model, len(ans.Body))
				}
			}
		})
	}
}

func TestClient_SendConnectionError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hj, _ := w.(http.Hijacker)
		conn, _, _ := hj.Hijack()
		conn.Close()
	}))
	defer srv.Close()
	c := &httpapi.Client{BaseURL: srv.URL, APIKey: "sk-secret-key"}
	_, err := c.Send(context.Background(), "/responses", []byte(`{}`), responses.API{})
	var e *httpapi.Error
	if !errors.As(err, &e) || e.Class != httpapi.Retryable || e.Code != httpapi.CodeConnection {
		t.Fatalf("Send() error = %#v, want a retryable connection error", err)
	}
	if strings.Contains(err.Error(), "sk-secret-key") {
		t.Errorf("error contains the key: %v", err)
	}
}

func TestClient_SendRawAuthAndHeaders(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("Authorization"); got != "raw-key" {
			t.Errorf("Authorization = %q, want raw-key", got)
		}
		if got := r.Header.Get("X-Team"); got != "labels" {
			t.Errorf("X-Team = %q", got)
		}
		w.Write([]byte(okBody))
	}))
	defer srv.Close()
	c := &httpapi.Client{BaseURL: srv.URL, APIKey: "raw-key", RawAuth: true, Header: http.Header{"X-Team": {"labels"}}}
	if _, err := c.Send(context.Background(), "/responses", []byte(`{}`), responses.API{}); err != nil {
		t.Fatal(err)
	}
}

func TestParseUsage(t *testing.T) {
	want := api.Usage{InputTokens: 100, CachedInputTokens: 40, OutputTokens: 30, ReasoningTokens: 20, TotalTokens: 130}
	tests := []struct {
		name, raw string
		want      api.Usage
	}{
		{"OpenAI", `{"input_tokens":100,"input_tokens_details":{"cached_tokens":40},"output_tokens":30,"output_tokens_details":{"reasoning_tokens":20},"total_tokens":130}`, want},
		{"Chat", `{"prompt_tokens":100,"prompt_tokens_details":{"cached_tokens":40},"completion_tokens":30,"completion_tokens_details":{"reasoning_tokens":20},"total_tokens":130}`, want},
		{"NoTotal", `{"input_tokens":100,"input_tokens_details":{"cached_tokens":40},"output_tokens":30,"output_tokens_details":{"reasoning_tokens":20}}`, want},
		{"FloatCounts", `{"prompt_tokens":100.0,"prompt_tokens_details":{"cached_tokens":40},"completion_tokens":30,"completion_tokens_details":{"reasoning_tokens":2e1},"total_tokens":130}`, want},
		{"Null", `null`, api.Usage{}},
		{"Empty", ``, api.Usage{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := api.ParseUsage([]byte(tt.raw))
			if err != nil || got != tt.want {
				t.Errorf("ParseUsage() = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestParseRateLimit(t *testing.T) {
	h := http.Header{}
	h.Set("x-ratelimit-limit-requests", "60")
	h.Set("x-ratelimit-remaining-tokens", "149984")
	h.Set("x-ratelimit-reset-requests", "1s")
	h.Set("x-ratelimit-reset-tokens", "6m0s")
	got := httpapi.ParseRateLimit(h)
	want := httpapi.RateLimit{LimitRequests: 60, LimitTokens: -1, RemainingRequests: -1, RemainingTokens: 149984,
		ResetRequests: time.Second, ResetTokens: 6 * time.Minute}
	if got != want {
		t.Errorf("ParseRateLimit() = %+v, want %+v", got, want)
	}
	// One such header among others, none, and more headers than the
	// quick look takes: each read as by name.
	none := httpapi.RateLimit{LimitRequests: -1, LimitTokens: -1, RemainingRequests: -1, RemainingTokens: -1, ResetRequests: -1, ResetTokens: -1}
	for n := range 40 {
		h := http.Header{"Content-Type": {"application/json"}, "Date": {"x"}, "Content-Length": {"10"}}
		for i := range n {
			h.Set(fmt.Sprintf("X-Other-%d", i), "1")
		}
		if got := httpapi.ParseRateLimit(h); got != none {
			t.Fatalf("%d other headers: %+v", n, got)
		}
		h.Set("x-ratelimit-remaining-requests", "7")
		w := none
		w.RemainingRequests = 7
		if got := httpapi.ParseRateLimit(h); got != w {
			t.Fatalf("%d other headers and a remaining count: %+v", n, got)
		}
	}
}

func TestClient_SendOddAnswers(t *testing.T) {
	tests := []struct {
		name, body string
		delay      bool
		class      httpapi.Class
		code       string
		keepBody   bool
	}{
		{name: "WrongShape", body: `{"status":"completed","output":[{"type":"message","content":"hi"}],"usage":{"input_tokens":5,"output_tokens":2}}`,
			class: httpapi.RowFailed, code: httpapi.CodeNotResponse, keepBody: true},
		{name: "TopLevelArray", body: `[1,2]`, class: httpapi.RowFailed, code: httpapi.CodeNotResponse, keepBody: true},
		{name: "StallsPastTimeout", delay: true, class: httpapi.Retryable, code: httpapi.CodeTimeout},
		// The body is kept as received (the journal redacts it); error
		// texts built from a body never hold the key.
		{name: "EchoesKey", body: `{"object":"response","status":"completed","output":[],"echo":"sk-secret-echo"}`, class: httpapi.OK, keepBody: true},
		{name: "EchoesKeyNotJSON", body: `<html>bad key sk-secret-echo</html>`, class: httpapi.Retryable, code: httpapi.CodeMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.delay {
					w.Header().Set("Content-Length", "100")
					w.WriteHeader(200)
					w.(http.Flusher).Flush()
					<-r.Context().Done()
					return
				}
				w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			c := &httpapi.Client{BaseURL: srv.URL, APIKey: "sk-secret-echo"}
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			ans, err := c.Send(ctx, "/responses", []byte(`{}`), responses.API{})
			class, code := httpapi.OK, ""
			var e *httpapi.Error
			if errors.As(err, &e) {
				class, code = e.Class, e.Code
			}
			if class != tt.class || code != tt.code {
				t.Fatalf("Send() = %v %q (%v), want %v %q", class, code, err, tt.class, tt.code)
			}
			if tt.keepBody && len(ans.Body) == 0 {
				t.Errorf("body not kept")
			}
			if tt.keepBody && string(ans.Body) != tt.body {
				t.Errorf("Body = %s, want it as received: %s", ans.Body, tt.body)
			}
			if err != nil && strings.Contains(err.Error(), "sk-secret-echo") {
				t.Errorf("the key leaked into the error: %v", err)
			}
			if tt.name == "WrongShape" && ans.Result.Usage.InputTokens != 5 {
				t.Errorf("usage of a wrongly shaped answer lost: %+v", ans.Result.Usage)
			}
		})
	}
}
