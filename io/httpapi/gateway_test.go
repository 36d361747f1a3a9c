package httpapi_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/llmbatch/llmbatch/io/httpapi"
	"github.com/llmbatch/llmbatch/io/responses"
)

// Answers as gateways (LiteLLM, FastAPI servers, RFC 7807) shape them.
func TestClient_SendGatewayAnswers(t *testing.T) {
	const litellmQuota = `{"error":{"message":"litellm.RateLimitError: RateLimitError: OpenAIException - {\"error\": {\"message\": \"You exceeded your current quota\", \"type\": \"insufficient_quota\", \"param\": null, \"code\": \"insufficient_quota\"}}","type":"throttling_error","param":null,"code":"429"}}`
	tests := []struct {
		name      string
		status    int
		header    map[string]string
		body      string
		class     httpapi.Class
		code, typ string
		quota     bool
		msg       string // a part of the message
		after     time.Duration
		requestID string
	}{
		{name: "LiteLLMWrappedQuota", status: 429, body: litellmQuota, class: httpapi.Fatal, code: "429", typ: "throttling_error", quota: true, msg: "litellm.RateLimitError"},
		{name: "LiteLLMBudget400", status: 400, body: `{"error":{"message":"Budget has been exceeded! Current cost: 0.51, Max budget: 0.5","type":"budget_exceeded","param":null,"code":"400"}}`,
			class: httpapi.Fatal, code: "400", typ: "budget_exceeded", quota: true, msg: "Budget has been exceeded"},
		{name: "LiteLLMBudget429", status: 429, body: `{"error":{"message":"ExceededBudget: User=u over budget. Spend=1.2, Budget=1.0","type":"budget_exceeded","code":"429"}}`,
			class: httpapi.Fatal, code: "429", typ: "budget_exceeded", quota: true},
		{name: "LiteLLMRateLimit", status: 429, header: map[string]string{"llm_provider-retry-after": "3"},
			body:  `{"error":{"message":"litellm.RateLimitError: rate limit","type":"throttling_error","code":"429"}}`,
			class: httpapi.Retryable, code: "429", typ: "throttling_error", after: 3 * time.Second},
		{name: "RetryAfterMSFirst", status: 429, header: map[string]string{"retry-after-ms": "200", "retry-after": "5", "llm_provider-retry-after": "9"},
			body: `{}`, class: httpapi.Retryable, code: httpapi.CodeHTTP, after: 200 * time.Millisecond},
		{name: "RetryAfterBeforeProvider", status: 429, header: map[string]string{"retry-after": "5", "llm_provider-retry-after": "9"},
			body: `{}`, class: httpapi.Retryable, code: httpapi.CodeHTTP, after: 5 * time.Second},
		{name: "ErrorString", status: 400, body: `{"error":"model not allowed for this key"}`, class: httpapi.RowFailed, code: httpapi.CodeHTTP, msg: "model not allowed"},
		{name: "FastAPIDetail", status: 422, body: `{"detail":"input is required"}`, class: httpapi.RowFailed, code: httpapi.CodeHTTP, msg: "input is required"},
		{name: "FastAPIDetailList", status: 422, body: `{"detail":[{"loc":["body","input"],"msg":"field required"}]}`, class: httpapi.RowFailed, code: httpapi.CodeHTTP, msg: "field required"},
		{name: "RFC7807", status: 404, body: `{"type":"about:blank","title":"No such model","status":404}`, class: httpapi.RowFailed, code: httpapi.CodeHTTP, msg: "No such model"},
		{name: "TopLevelMessage", status: 503, body: `{"message":"upstream busy"}`, class: httpapi.Retryable, code: httpapi.CodeHTTP, msg: "upstream busy"},
		{name: "ProviderRequestID", status: 400, header: map[string]string{"llm_provider-x-request-id": "req_up", "x-litellm-call-id": "call_1"},
			body: `{}`, class: httpapi.RowFailed, code: httpapi.CodeHTTP, requestID: "req_up"},
		{name: "LiteLLMCallID", status: 400, header: map[string]string{"x-litellm-call-id": "call_1"},
			body: `{}`, class: httpapi.RowFailed, code: httpapi.CodeHTTP, requestID: "call_1"},
		{name: "GoogleQuotaIsRateLimit", status: 429, body: `{"error":{"message":"Quota exceeded for aiplatform.googleapis.com/generate_content_requests_per_minute","code":"429"}}`,
			class: httpapi.Retryable, code: "429"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.header {
					w.Header()[k] = []string{v} // as sent, not canonicalised
				}
				w.WriteHeader(tt.status)
				w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			c := &httpapi.Client{BaseURL: srv.URL, APIKey: "sk-gateway-key"}
			ans, err := c.Send(context.Background(), "/responses", []byte(`{}`), responses.API{})
			var e *httpapi.Error
			if !errors.As(err, &e) {
				t.Fatalf("Send() = %v, want a *httpapi.Error", err)
			}
			if e.Class != tt.class || e.Code != tt.code || e.Type != tt.typ || e.Quota != tt.quota {
				t.Errorf("Send() = class %v code %q type %q quota %v, want %v %q %q %v", e.Class, e.Code, e.Type, e.Quota, tt.class, tt.code, tt.typ, tt.quota)
			}
			if !strings.Contains(e.Message, tt.msg) {
				t.Errorf("Message = %q, want it to contain %q", e.Message, tt.msg)
			}
			if e.RetryAfter != tt.after {
				t.Errorf("RetryAfter = %v, want %v", e.RetryAfter, tt.after)
			}
			if tt.requestID != "" && (ans.RequestID != tt.requestID || e.RequestID != tt.requestID) {
				t.Errorf("RequestID = %q / %q, want %q", ans.RequestID, e.RequestID, tt.requestID)
			}
		})
	}
}

func TestClient_SendBodySizes(t *testing.T) {
	pad := strings.Repeat("y", 300<<10) // several chunks
	big := `{"object":"response","status":"completed","output":[{"type":"message","content":[{"type":"output_text","text":"` + pad + `"}]}],"usage":{"input_tokens":3,"output_tokens":4}}`
	tests := []struct {
		name    string
		max     int64
		length  bool // send Content-Length
		code    string
		wantLen int
	}{
		{"ChunkedFits", 1 << 20, false, "", len(pad)},
		{"ChunkedExactLimit", int64(len(big)), false, "", len(pad)},
		{"ChunkedOver", int64(len(big)) - 1, false, httpapi.CodeTooLarge, 0},
		{"LengthOver", int64(len(big)) - 1, true, httpapi.CodeTooLarge, 0},
		{"LengthFits", int64(len(big)), true, "", len(pad)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.length {
					w.Header().Set("Content-Length", strconv.Itoa(len(big)))
				}
				for i := 0; i < len(big); i += 1000 {
					w.Write([]byte(big[i:min(i+1000, len(big))]))
				}
			}))
			defer srv.Close()
			c := &httpapi.Client{BaseURL: srv.URL, MaxBodyBytes: tt.max}
			ans, err := c.Send(context.Background(), "/responses", []byte(`{}`), responses.API{})
			code := ""
			var e *httpapi.Error
			if errors.As(err, &e) {
				code = e.Code
			}
			if code != tt.code || len(ans.Result.OutputText) != tt.wantLen {
				t.Errorf("Send() = %q, %d bytes of text; want %q, %d", code, len(ans.Result.OutputText), tt.code, tt.wantLen)
			}
			if tt.code == "" && ans.Result.Usage.TotalTokens != 7 {
				t.Errorf("usage %+v", ans.Result.Usage)
			}
		})
	}
}
