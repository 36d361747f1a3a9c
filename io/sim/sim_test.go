package sim_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmbatch/llmbatch/io/sim"
)

// result is one HTTP exchange; err is set when there was no (whole) answer.
type result struct {
	status int
	header http.Header
	body   []byte
	err    error
}

// start runs a Server on loopback for the test's lifetime.
func start(tb testing.TB, cfg sim.Config) (*sim.Server, string) {
	tb.Helper()
	s := sim.New(cfg)
	base, err := s.Start("127.0.0.1:0")
	if err != nil {
		tb.Fatalf("Start() error = %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close() error = %v", err)
		}
	})
	return s, base
}

// post sends body to url; hdr holds header name/value pairs.
func post(tb testing.TB, url, body string, hdr ...string) result {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		tb.Fatalf("NewRequest() error = %v", err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return result{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return result{status: resp.StatusCode, header: resp.Header, body: b, err: err}
}

// wireResponse is the part of a Response the tests read.
type wireResponse struct {
	ID                string `json:"id"`
	Object            string `json:"object"`
	Status            string `json:"status"`
	Model             string `json:"model"`
	CreatedAt         int64  `json:"created_at"`
	Error             any    `json:"error"`
	IncompleteDetails *struct {
		Reason string `json:"reason"`
	} `json:"incomplete_details"`
	Output []struct {
		Type    string `json:"type"`
		ID      string `json:"id"`
		Role    string `json:"role"`
		Status  string `json:"status"`
		Content []struct {
			Type        string `json:"type"`
			Text        string `json:"text"`
			Annotations []any  `json:"annotations"`
		} `json:"content"`
	} `json:"output"`
	Usage        wireUsage       `json:"usage"`
	Metadata     map[string]any  `json:"metadata"`
	Instructions *string         `json:"instructions"`
	Text         json.RawMessage `json:"text"`
}

// outputText joins the output_text parts of message items, as the SDKs do.
func (r wireResponse) outputText() string {
	var b strings.Builder
	for _, it := range r.Output {
		if it.Type != "message" {
			continue
		}
		for _, c := range it.Content {
			if c.Type == "output_text" {
				b.WriteString(c.Text)
			}
		}
	}
	return b.String()
}

type tokenDetails struct {
	Cached    *int64 `json:"cached_tokens"`
	Reasoning *int64 `json:"reasoning_tokens"`
}

// wireUsage accepts both usage shapes.
type wireUsage struct {
	InputTokens             *int64        `json:"input_tokens"`
	InputTokensDetails      *tokenDetails `json:"input_tokens_details"`
	OutputTokens            *int64        `json:"output_tokens"`
	OutputTokensDetails     *tokenDetails `json:"output_tokens_details"`
	PromptTokens            *int64        `json:"prompt_tokens"`
	PromptTokensDetails     *tokenDetails `json:"prompt_tokens_details"`
	CompletionTokens        *int64        `json:"completion_tokens"`
	CompletionTokensDetails *tokenDetails `json:"completion_tokens_details"`
	TotalTokens             *int64        `json:"total_tokens"`
}

// tokens is a usage in one shape-free form.
type tokens struct {
	shape                                   string
	input, cached, output, reasoning, total int64
}

// normalize reads u, failing the test if it is not exactly one whole shape.
func (u wireUsage) normalize(tb testing.TB) tokens {
	tb.Helper()
	val := func(p *int64) int64 {
		if p == nil {
			tb.Fatalf("usage field missing in %+v", u)
			return 0
		}
		return *p
	}
	var t tokens
	switch {
	case u.InputTokens != nil && u.PromptTokens == nil:
		if u.InputTokensDetails == nil || u.OutputTokensDetails == nil {
			tb.Fatalf("usage details missing")
		}
		t = tokens{sim.UsageOpenAI, val(u.InputTokens), val(u.InputTokensDetails.Cached), val(u.OutputTokens), val(u.OutputTokensDetails.Reasoning), val(u.TotalTokens)}
	case u.PromptTokens != nil && u.InputTokens == nil:
		if u.PromptTokensDetails == nil || u.CompletionTokensDetails == nil {
			tb.Fatalf("usage details missing")
		}
		t = tokens{sim.UsageChat, val(u.PromptTokens), val(u.PromptTokensDetails.Cached), val(u.CompletionTokens), val(u.CompletionTokensDetails.Reasoning), val(u.TotalTokens)}
	default:
		tb.Fatalf("usage is neither shape: %+v", u)
	}
	return t
}

func decodeResponse(tb testing.TB, r result) wireResponse {
	tb.Helper()
	if r.err != nil {
		tb.Fatalf("request error = %v", r.err)
	}
	if r.status != http.StatusOK {
		tb.Fatalf("status = %d, want 200; body %s", r.status, r.body)
	}
	var w wireResponse
	if err := json.Unmarshal(r.body, &w); err != nil {
		tb.Fatalf("decode response: %v; body %s", err, r.body)
	}
	return w
}

// wireError is an OpenAI error body.
type wireError struct {
	Error struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    *string `json:"code"`
	} `json:"error"`
}

func decodeError(tb testing.TB, r result, wantStatus int) wireError {
	tb.Helper()
	if r.err != nil {
		tb.Fatalf("request error = %v", r.err)
	}
	if r.status != wantStatus {
		tb.Fatalf("status = %d, want %d; body %s", r.status, wantStatus, r.body)
	}
	if got, want := r.header.Get("Content-Type"), "application/json"; got != want {
		tb.Errorf("Content-Type = %q, want %q", got, want)
	}
	if got := r.header.Get("x-request-id"); !strings.HasPrefix(got, "req_") {
		tb.Errorf("x-request-id = %q, want req_<hex>", got)
	}
	var e wireError
	dec := json.NewDecoder(strings.NewReader(string(r.body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		tb.Fatalf("decode error body: %v; body %s", err, r.body)
	}
	if e.Error.Message == "" || e.Error.Type == "" {
		tb.Errorf("error body %s lacks message or type", r.body)
	}
	return e
}

func code(e wireError) string {
	if e.Error.Code == nil {
		return "<null>"
	}
	return *e.Error.Code
}

func bodySHA(body string) string {
	sum := sha256.Sum256([]byte(body))
	return hex.EncodeToString(sum[:])
}

func TestServer_Completed(t *testing.T) {
	const instructions = "Be brief." // 9 bytes
	tests := []struct {
		name          string
		usage         string
		body          string
		wantModel     string
		wantReasoning bool
		wantInput     int64
	}{
		{
			name:          "DefaultModelOpenAIShape",
			usage:         "",
			body:          `{"input":"hello world!","instructions":"` + instructions + `","metadata":{"row":"7"}}`,
			wantModel:     "gpt-5-mini",
			wantReasoning: true,
			wantInput:     (12+9+3)/4 + 8, // ceil(21/4) + 4 per message, instructions count as one
		},
		{
			name:      "ChatShape",
			usage:     sim.UsageChat,
			body:      `{"model":"gpt-4o-mini","input":"hello world!","temperature":0.2}`,
			wantModel: "gpt-4o-mini",
			wantInput: 3 + 4,
		},
		{
			name:  "MessageItems",
			usage: sim.UsageOpenAI,
			body: `{"model":"gpt-4.1","input":[` +
				`{"role":"user","content":"abcd"},` +
				`{"type":"message","role":"user","content":[{"type":"input_text","text":"efgh"},{"type":"input_image","image_url":"data:x"}]},` +
				`{"role":"assistant","content":[{"type":"output_text","text":"ij"}]}]}`,
			wantModel: "gpt-4.1",
			wantInput: (4+4+2+3)/4 + 12,
		},
		{
			name:          "ReasoningModelChat",
			usage:         sim.UsageChat,
			body:          `{"model":"o4-mini","input":"x"}`,
			wantModel:     "o4-mini",
			wantReasoning: true,
			wantInput:     1 + 4,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, base := start(t, sim.Config{Seed: 1, Usage: tt.usage})
			r := post(t, base+"/responses", tt.body)
			w := decodeResponse(t, r)
			if got := r.header.Get("x-request-id"); !strings.HasPrefix(got, "req_") || len(got) < 12 {
				t.Errorf("x-request-id = %q, want req_<hex>", got)
			}
			if _, err := strconv.Atoi(r.header.Get("openai-processing-ms")); err != nil {
				t.Errorf("openai-processing-ms = %q, want an integer", r.header.Get("openai-processing-ms"))
			}
			if got, want := r.header.Get("Content-Type"), "application/json"; got != want {
				t.Errorf("Content-Type = %q, want %q", got, want)
			}
			if r.header.Get("x-ratelimit-limit-requests") != "" {
				t.Errorf("x-ratelimit-limit-requests present without RPM")
			}
			if !strings.HasPrefix(w.ID, "resp_") || w.Object != "response" || w.Status != "completed" || w.Error != nil || w.IncompleteDetails != nil {
				t.Errorf("response = id %q object %q status %q error %v incomplete %v", w.ID, w.Object, w.Status, w.Error, w.IncompleteDetails)
			}
			if got, want := w.Model, tt.wantModel; got != want {
				t.Errorf("model = %q, want %q", got, want)
			}
			if w.CreatedAt == 0 {
				t.Errorf("created_at = 0")
			}
			if got := w.outputText(); !slices.Contains([]string{"positive", "negative", "neutral"}, got) {
				t.Errorf("output text = %q, want a label", got)
			}
			var types []string
			for _, it := range w.Output {
				types = append(types, it.Type)
			}
			want := []string{"message"}
			if tt.wantReasoning {
				want = []string{"reasoning", "message"}
			}
			if !slices.Equal(types, want) {
				t.Errorf("output item types = %v, want %v", types, want)
			}
			msg := w.Output[len(w.Output)-1]
			if msg.Role != "assistant" || msg.Status != "completed" || !strings.HasPrefix(msg.ID, "msg_") || msg.Content[0].Annotations == nil {
				t.Errorf("message item = %+v", msg)
			}

			u := w.Usage.normalize(t)
			wantShape := tt.usage
			if wantShape == "" {
				wantShape = sim.UsageOpenAI
			}
			if u.shape != wantShape {
				t.Errorf("usage shape = %q, want %q", u.shape, wantShape)
			}
			if got, want := u.input, tt.wantInput; got != want {
				t.Errorf("input tokens = %d, want %d", got, want)
			}
			if got, want := u.total, u.input+u.output; got != want {
				t.Errorf("total tokens = %d, want %d", got, want)
			}
			if u.cached != 0 && u.cached != u.input/4 {
				t.Errorf("cached tokens = %d, want 0 or %d", u.cached, u.input/4)
			}
			if ok := u.reasoning >= 16 && u.reasoning < 64; tt.wantReasoning && !ok || !tt.wantReasoning && u.reasoning != 0 {
				t.Errorf("reasoning tokens = %d, reasoning model %v", u.reasoning, tt.wantReasoning)
			}
			if got, want := u.output, int64(len(w.outputText())+3)/4+u.reasoning; got != want {
				t.Errorf("output tokens = %d, want %d", got, want)
			}
		})
	}
}

func TestServer_Echoes(t *testing.T) {
	_, base := start(t, sim.Config{})
	body := `{"model":"gpt-4o","input":"x","instructions":"sys","temperature":0.3,"max_output_tokens":500,` +
		`"metadata":{"row":"1"},"text":{"format":{"type":"json_object"}}}`
	var got map[string]json.RawMessage
	if err := json.Unmarshal(post(t, base+"/responses", body).body, &got); err != nil {
		t.Fatal(err)
	}
	for field, want := range map[string]string{
		"instructions":        `"sys"`,
		"temperature":         `0.3`,
		"max_output_tokens":   `500`,
		"metadata":            `{"row":"1"}`,
		"text":                `{"format":{"type":"json_object"}}`,
		"error":               `null`,
		"parallel_tool_calls": `true`,
		"tools":               `[]`,
		"tool_choice":         `"auto"`,
	} {
		if string(got[field]) != want {
			t.Errorf("%s = %s, want %s", field, got[field], want)
		}
	}
}

func TestServer_Deterministic(t *testing.T) {
	bodies := []string{
		`{"input":"I loved it"}`,
		`{"model":"gpt-4o","input":"meh"}`,
		`{"model":"o3","input":[{"role":"user","content":"a"}],"instructions":"b"}`,
		`{"input":"x","text":{"format":{"type":"json_schema","name":"r","schema":{"type":"object","properties":{"n":{"type":"integer"},"ok":{"type":"boolean"}}}}}}`,
	}
	type answer struct {
		id, text string
		usage    tokens
	}
	get := func(t *testing.T, base, body string) answer {
		w := decodeResponse(t, post(t, base+"/responses", body))
		return answer{w.ID, w.outputText(), w.Usage.normalize(t)}
	}
	_, a := start(t, sim.Config{Seed: 42})
	_, b := start(t, sim.Config{Seed: 42})
	for i, body := range bodies {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			first := get(t, a, body)
			if again := get(t, a, body); again != first {
				t.Errorf("same server again = %+v, want %+v", again, first)
			}
			if other := get(t, b, body); other != first {
				t.Errorf("same seed, other server = %+v, want %+v", other, first)
			}
		})
	}

	// Another seed changes at least some texts.
	_, c := start(t, sim.Config{Seed: 43})
	differ := 0
	for i := range 30 {
		body := fmt.Sprintf(`{"model":"gpt-4o","input":"row %d"}`, i)
		if get(t, a, body).text != get(t, c, body).text {
			differ++
		}
	}
	if differ == 0 {
		t.Errorf("seeds 42 and 43 gave the same text for 30 inputs")
	}

	// The text depends on the input, not on other fields.
	x := get(t, a, `{"model":"gpt-4o","input":"same"}`)
	y := get(t, a, `{"model":"gpt-4o","input":"same","temperature":0}`)
	if x.text != y.text {
		t.Errorf("text changed with temperature: %q vs %q", x.text, y.text)
	}
}

func TestServer_JSONSchema(t *testing.T) {
	tests := []struct {
		name   string
		format string
		check  func(t *testing.T, v map[string]any)
	}{
		{
			name: "Flat",
			format: `{"type":"json_schema","name":"r","strict":true,"schema":{"type":"object","additionalProperties":false,
				"properties":{"label":{"type":"string","enum":["pos","neg"]},"score":{"type":"integer","minimum":3,"maximum":5},
				"p":{"type":"number"},"ok":{"type":"boolean"},"why":{"type":"string"},"tags":{"type":"array","items":{"type":"string"}}},
				"required":["label","score","p","ok","why","tags"]}}`,
			check: func(t *testing.T, v map[string]any) {
				if l := v["label"]; l != "pos" && l != "neg" {
					t.Errorf("label = %v, want an enum member", l)
				}
				if s, ok := v["score"].(float64); !ok || s < 3 || s > 5 || s != math.Trunc(s) {
					t.Errorf("score = %v, want an integer in [3,5]", v["score"])
				}
				if _, ok := v["p"].(float64); !ok {
					t.Errorf("p = %v, want a number", v["p"])
				}
				if _, ok := v["ok"].(bool); !ok {
					t.Errorf("ok = %v, want a boolean", v["ok"])
				}
				if s, ok := v["why"].(string); !ok || s == "" {
					t.Errorf("why = %v, want a string", v["why"])
				}
				if a, ok := v["tags"].([]any); !ok || len(a) != 1 {
					t.Errorf("tags = %v, want one element", v["tags"])
				}
			},
		},
		{
			name: "NestedRefNullable",
			format: `{"type":"json_schema","name":"r","schema":{"type":"object",
				"$defs":{"item":{"type":"object","properties":{"k":{"type":"string"},"n":{"type":["integer","null"]}},"required":["k","n"]}},
				"properties":{"items":{"type":"array","items":{"$ref":"#/$defs/item"},"minItems":2},
				"note":{"anyOf":[{"type":"null"},{"type":"string"}]},"inner":{"properties":{"deep":{"const":"c"}}}},
				"required":["items","note","inner"]}}`,
			check: func(t *testing.T, v map[string]any) {
				items, ok := v["items"].([]any)
				if !ok || len(items) != 2 {
					t.Fatalf("items = %v, want 2 elements", v["items"])
				}
				for _, it := range items {
					m, _ := it.(map[string]any)
					if _, ok := m["k"].(string); !ok {
						t.Errorf("item = %v, want k a string", it)
					}
					if _, ok := m["n"].(float64); !ok {
						t.Errorf("item = %v, want n a number", it)
					}
				}
				if _, ok := v["note"].(string); !ok {
					t.Errorf("note = %v, want a string", v["note"])
				}
				if inner, _ := v["inner"].(map[string]any); inner["deep"] != "c" {
					t.Errorf("inner = %v, want deep c", v["inner"])
				}
			},
		},
		{
			name:   "JSONObject",
			format: `{"type":"json_object"}`,
			check: func(t *testing.T, v map[string]any) {
				if l, _ := v["label"].(string); !slices.Contains([]string{"positive", "negative", "neutral"}, l) {
					t.Errorf("label = %v, want a label", v["label"])
				}
			},
		},
	}
	_, base := start(t, sim.Config{Seed: 9})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i := range 5 {
				body := fmt.Sprintf(`{"input":"row %d","text":{"format":%s}}`, i, tt.format)
				w := decodeResponse(t, post(t, base+"/responses", body))
				var v map[string]any
				if err := json.Unmarshal([]byte(w.outputText()), &v); err != nil {
					t.Fatalf("output %q is not a JSON object: %v", w.outputText(), err)
				}
				var f struct {
					Schema struct {
						Required []string `json:"required"`
					} `json:"schema"`
				}
				if err := json.Unmarshal([]byte(tt.format), &f); err != nil {
					t.Fatal(err)
				}
				for _, k := range f.Schema.Required {
					if _, ok := v[k]; !ok {
						t.Errorf("output %s lacks required key %q", w.outputText(), k)
					}
				}
				tt.check(t, v)
			}
		})
	}
}

func TestServer_Faults(t *testing.T) {
	const n = 300
	const p = 0.3
	tests := []struct {
		name  string
		cfg   sim.Config
		fault string
		is    func(r result) bool
	}{
		{"RateLimit", sim.Config{RateLimit: p, RetryAfter: 1500 * time.Millisecond}, sim.FaultRateLimit, func(r result) bool {
			return r.status == 429 && r.header.Get("retry-after-ms") == "1500" && r.header.Get("retry-after") == "2" &&
				strings.Contains(string(r.body), `"rate_limit_exceeded"`)
		}},
		{"ServerError", sim.Config{ServerError: p}, sim.FaultServerError, func(r result) bool {
			return (r.status == 500 || r.status == 502 || r.status == 503) && strings.Contains(string(r.body), `"server_error"`)
		}},
		{"Reset", sim.Config{Reset: p}, sim.FaultReset, func(r result) bool { return r.err != nil }},
		{"Malformed", sim.Config{Malformed: p}, sim.FaultMalformed, func(r result) bool {
			return r.err == nil && r.status == 200 && !json.Valid(r.body)
		}},
		{"Incomplete", sim.Config{Incomplete: p}, sim.FaultIncomplete, func(r result) bool {
			return r.status == 200 && strings.Contains(string(r.body), `"status":"incomplete"`) &&
				strings.Contains(string(r.body), `"reason":"max_output_tokens"`)
		}},
		{"Slow", sim.Config{Slow: p, SlowDelay: time.Millisecond}, sim.FaultSlow, func(r result) bool {
			return false // indistinguishable on the wire; counted through Stats
		}},
		{"BadRequest", sim.Config{BadRequest: p}, sim.FaultBadRequest, func(r result) bool {
			return r.status == 400 && strings.Contains(string(r.body), `"invalid_request_error"`)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, base := start(t, tt.cfg)
			seen := 0
			for i := range n {
				r := post(t, base+"/responses", fmt.Sprintf(`{"model":"gpt-4o","input":"row %d"}`, i))
				if tt.is(r) {
					seen++
				} else if r.err != nil || r.status != 200 || !json.Valid(r.body) {
					t.Errorf("row %d: unexpected answer %d %s (err %v)", i, r.status, r.body, r.err)
				}
			}
			st := s.Stats()
			if tt.fault != sim.FaultSlow {
				if got, want := st.Faults[tt.fault], seen; got != want {
					t.Errorf("Stats().Faults[%q] = %d, want %d seen on the wire", tt.fault, got, want)
				}
			}
			if got := st.Faults[tt.fault]; got < n*p/2 || got > n*p*3/2 {
				t.Errorf("%s faults = %d of %d, want about %v", tt.fault, got, n, n*p)
			}
			if got, want := st.Requests, n; got != want {
				t.Errorf("Stats().Requests = %d, want %d", got, want)
			}
		})
	}
}

func TestServer_RetriedBodySucceeds(t *testing.T) {
	s, base := start(t, sim.Config{
		Seed: 5, RateLimit: 0.15, ServerError: 0.15, Reset: 0.15, Malformed: 0.15, Incomplete: 0.15,
		RetryAfter: time.Millisecond,
	})
	const rows, maxAttempts = 20, 60
	for i := range rows {
		body := fmt.Sprintf(`{"input":"row %d"}`, i)
		attempts := 0
		for {
			attempts++
			if attempts > maxAttempts {
				t.Fatalf("row %d: no success in %d attempts", i, maxAttempts)
			}
			r := post(t, base+"/responses", body)
			if r.err == nil && r.status == 200 && json.Valid(r.body) && strings.Contains(string(r.body), `"status":"completed"`) {
				break
			}
		}
		req, done := s.Count(bodySHA(body))
		if req != attempts || done != 1 {
			t.Errorf("row %d: Count() = %d, %d, want %d, 1", i, req, done, attempts)
		}
	}

	// The same sequence of attempts on a fresh server with the same seed
	// sees the same faults.
	s2, base2 := start(t, sim.Config{
		Seed: 5, RateLimit: 0.15, ServerError: 0.15, Reset: 0.15, Malformed: 0.15, Incomplete: 0.15,
		RetryAfter: time.Millisecond,
	})
	for i := range rows {
		body := fmt.Sprintf(`{"input":"row %d"}`, i)
		want, _ := s.Count(bodySHA(body))
		for range want {
			post(t, base2+"/responses", body)
		}
		if _, done := s2.Count(bodySHA(body)); done != 1 {
			t.Errorf("row %d: replay completed %d times in %d attempts, want 1", i, done, want)
		}
	}
}

func TestServer_BadRequestIsPermanent(t *testing.T) {
	_, base := start(t, sim.Config{BadRequest: 0.5})
	for i := range 10 {
		body := fmt.Sprintf(`{"input":"row %d"}`, i)
		first := post(t, base+"/responses", body).status
		for range 3 {
			if got := post(t, base+"/responses", body).status; got != first {
				t.Errorf("row %d: status %d after %d", i, got, first)
			}
		}
	}
}

func TestServer_Unauthorized(t *testing.T) {
	const key = "sk-test-SECRET-0123456789"
	const wrong = "sk-wrong-OTHER-9876543210"
	tests := []struct {
		name   string
		header []string
		want   int
	}{
		{"NoHeader", nil, 401},
		{"WrongBearer", []string{"Authorization", "Bearer " + wrong}, 401},
		{"WrongRaw", []string{"Authorization", wrong}, 401},
		{"PrefixOfKey", []string{"Authorization", "Bearer " + key[:10]}, 401},
		{"Bearer", []string{"Authorization", "Bearer " + key}, 200},
		{"LowercaseBearer", []string{"Authorization", "bearer " + key}, 200},
		{"Raw", []string{"Authorization", key}, 200},
	}
	_, base := start(t, sim.Config{APIKey: key})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := post(t, base+"/responses", `{"input":"hi"}`, tt.header...)
			if r.status != tt.want {
				t.Fatalf("status = %d, want %d; body %s", r.status, tt.want, r.body)
			}
			if tt.want != 401 {
				return
			}
			e := decodeError(t, r, 401)
			if got, want := code(e), "invalid_api_key"; got != want {
				t.Errorf("code = %q, want %q", got, want)
			}
			if got, want := e.Error.Type, "invalid_request_error"; got != want {
				t.Errorf("type = %q, want %q", got, want)
			}
			for _, secret := range []string{key, wrong, key[:10], wrong[:10]} {
				if strings.Contains(string(r.body), secret) {
					t.Errorf("body %s contains %q", r.body, secret)
				}
			}
		})
	}
}

func TestServer_QuotaAfter(t *testing.T) {
	s, base := start(t, sim.Config{QuotaAfter: 3})
	var got []int
	for i := range 6 {
		r := post(t, base+"/responses", fmt.Sprintf(`{"input":"row %d"}`, i))
		got = append(got, r.status)
		if r.status == 429 {
			e := decodeError(t, r, 429)
			if e.Error.Type != "insufficient_quota" || code(e) != "insufficient_quota" {
				t.Errorf("quota error = %+v, want type and code insufficient_quota", e.Error)
			}
		}
	}
	if want := []int{200, 200, 200, 429, 429, 429}; !slices.Equal(got, want) {
		t.Errorf("statuses = %v, want %v", got, want)
	}
	if got, want := s.Stats().Faults[sim.FaultQuota], 3; got != want {
		t.Errorf("quota faults = %d, want %d", got, want)
	}
}

// fakeClock is a settable clock for the rate limiter.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// startClocked is start with a fake clock.
func startClocked(t *testing.T, cfg sim.Config) (*sim.Server, string, *fakeClock) {
	t.Helper()
	clock := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	s := sim.New(cfg)
	sim.SetClock(s, clock.Now)
	base, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, base, clock
}

func parseDurationHeader(t *testing.T, h http.Header, name string) time.Duration {
	t.Helper()
	d, err := time.ParseDuration(h.Get(name))
	if err != nil {
		t.Fatalf("%s = %q: %v", name, h.Get(name), err)
	}
	return d
}

func TestServer_RPM(t *testing.T) {
	s, base, clock := startClocked(t, sim.Config{RPM: 60})
	for i := range 60 {
		r := post(t, base+"/responses", fmt.Sprintf(`{"input":"row %d"}`, i))
		if r.status != 200 {
			t.Fatalf("request %d: status %d, want 200", i+1, r.status)
		}
		if got, want := r.header.Get("x-ratelimit-limit-requests"), "60"; got != want {
			t.Errorf("x-ratelimit-limit-requests = %q, want %q", got, want)
		}
		if got, want := r.header.Get("x-ratelimit-remaining-requests"), strconv.Itoa(59-i); got != want {
			t.Errorf("x-ratelimit-remaining-requests = %q, want %q", got, want)
		}
		if got, want := parseDurationHeader(t, r.header, "x-ratelimit-reset-requests"), time.Duration(i+1)*time.Second; got != want {
			t.Errorf("x-ratelimit-reset-requests = %v, want %v", got, want)
		}
		if r.header.Get("x-ratelimit-limit-tokens") != "" {
			t.Errorf("token headers present without TPM")
		}
	}
	r := post(t, base+"/responses", `{"input":"row 61"}`)
	e := decodeError(t, r, 429)
	if e.Error.Type != "requests" || code(e) != "rate_limit_exceeded" {
		t.Errorf("error = %+v, want type requests, code rate_limit_exceeded", e.Error)
	}
	if !strings.Contains(e.Error.Message, "Limit 60, Used 60, Requested 1. Please try again in 1s.") {
		t.Errorf("message = %q", e.Error.Message)
	}
	if got, want := r.header.Get("retry-after-ms"), "1000"; got != want {
		t.Errorf("retry-after-ms = %q, want %q", got, want)
	}
	if got, want := r.header.Get("retry-after"), "1"; got != want {
		t.Errorf("retry-after = %q, want %q", got, want)
	}
	if got, want := r.header.Get("x-ratelimit-remaining-requests"), "0"; got != want {
		t.Errorf("x-ratelimit-remaining-requests = %q, want %q", got, want)
	}
	if got, want := parseDurationHeader(t, r.header, "x-ratelimit-reset-requests"), time.Minute; got != want {
		t.Errorf("x-ratelimit-reset-requests = %v, want %v", got, want)
	}

	// The denied request consumed nothing: half the wait is still not enough,
	// the whole wait is.
	clock.Advance(500 * time.Millisecond)
	if r := post(t, base+"/responses", `{"input":"row 61"}`); r.status != 429 || r.header.Get("retry-after-ms") != "500" {
		t.Errorf("after 0.5s: status %d retry-after-ms %q, want 429 and 500", r.status, r.header.Get("retry-after-ms"))
	}
	clock.Advance(500 * time.Millisecond)
	if r := post(t, base+"/responses", `{"input":"row 61"}`); r.status != 200 {
		t.Errorf("after 1s: status %d, want 200", r.status)
	}
	if got, want := s.Stats().Faults[sim.LimitRPM], 2; got != want {
		t.Errorf("rpm refusals = %d, want %d", got, want)
	}
}

func TestServer_TPM(t *testing.T) {
	// "abcdefgh" costs 2+4 = 6 input tokens, plus max_output_tokens 94: 100.
	const body = `{"model":"gpt-4o","input":"abcdefgh","max_output_tokens":94}`
	_, base, clock := startClocked(t, sim.Config{TPM: 250})
	for i, want := range []int{200, 200, 429} {
		r := post(t, base+"/responses", body)
		if r.status != want {
			t.Fatalf("request %d: status %d, want %d", i+1, r.status, want)
		}
		if want == 200 {
			continue
		}
		e := decodeError(t, r, 429)
		if e.Error.Type != "tokens" || code(e) != "rate_limit_exceeded" {
			t.Errorf("error = %+v, want type tokens", e.Error)
		}
		// 50 left, 100 needed: 50 tokens at 250/min = 12s.
		if got, want := r.header.Get("retry-after-ms"), "12000"; got != want {
			t.Errorf("retry-after-ms = %q, want %q", got, want)
		}
		if got, want := r.header.Get("x-ratelimit-remaining-tokens"), "50"; got != want {
			t.Errorf("x-ratelimit-remaining-tokens = %q, want %q", got, want)
		}
		if got, want := parseDurationHeader(t, r.header, "x-ratelimit-reset-tokens"), 48*time.Second; got != want {
			t.Errorf("x-ratelimit-reset-tokens = %v, want %v", got, want)
		}
	}
	clock.Advance(12 * time.Second)
	if r := post(t, base+"/responses", body); r.status != 200 {
		t.Errorf("after the wait: status %d, want 200", r.status)
	}

	// A request larger than the whole limit can never fit.
	r := post(t, base+"/responses", `{"input":"x","max_output_tokens":1000}`)
	e := decodeError(t, r, 429)
	if !strings.Contains(e.Error.Message, "Limit 250, Requested 1005") || r.header.Get("x-should-retry") != "false" || r.header.Get("retry-after") != "" {
		t.Errorf("too large: message %q, x-should-retry %q, retry-after %q", e.Error.Message, r.header.Get("x-should-retry"), r.header.Get("retry-after"))
	}
}

func TestServer_MaxOutputTokens(t *testing.T) {
	tests := []struct {
		name           string
		body           string
		wantStatus     string
		wantOutput     int64
		wantTextPrefix bool // the text is a (possibly empty) prefix of a label
	}{
		{"ReasoningModelCut", `{"model":"gpt-5-mini","input":"x","max_output_tokens":16}`, "incomplete", 16, true},
		{"PlainModelCut", `{"model":"gpt-4o","input":"x","max_output_tokens":1}`, "incomplete", 1, true},
		{"Enough", `{"model":"gpt-4o","input":"x","max_output_tokens":100}`, "completed", 2, false},
	}
	_, base := start(t, sim.Config{Seed: 3})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := decodeResponse(t, post(t, base+"/responses", tt.body))
			if w.Status != tt.wantStatus {
				t.Fatalf("status = %q, want %q", w.Status, tt.wantStatus)
			}
			u := w.Usage.normalize(t)
			if u.output != tt.wantOutput || u.total != u.input+u.output || u.reasoning > u.output {
				t.Errorf("usage = %+v, want output %d", u, tt.wantOutput)
			}
			if tt.wantStatus == "incomplete" {
				if w.IncompleteDetails == nil || w.IncompleteDetails.Reason != "max_output_tokens" {
					t.Errorf("incomplete_details = %+v, want reason max_output_tokens", w.IncompleteDetails)
				}
				text := w.outputText()
				if !strings.HasPrefix("positive", text) && !strings.HasPrefix("negative", text) && !strings.HasPrefix("neutral", text) {
					t.Errorf("text %q is not a label prefix", text)
				}
			}
		})
	}
}

func TestServer_Routes(t *testing.T) {
	s, base := start(t, sim.Config{})
	root := strings.TrimSuffix(base, "/v1")
	tests := []struct {
		name       string
		method     string
		url        string
		body       string
		wantStatus int
		wantParam  string
	}{
		{"NoV1", "POST", root + "/responses", `{"input":"x"}`, 200, ""},
		{"V1", "POST", base + "/responses", `{"input":"x"}`, 200, ""},
		{"UnknownPath", "POST", base + "/completions", `{}`, 404, ""},
		{"WrongMethod", "GET", base + "/responses", ``, 405, ""},
		{"NotJSON", "POST", base + "/responses", `{"input":`, 400, ""},
		{"NotObject", "POST", base + "/responses", `["input"]`, 400, ""},
		{"NoInput", "POST", base + "/responses", `{"model":"gpt-4o"}`, 400, "input"},
		{"NullInput", "POST", base + "/responses", `{"input":null}`, 400, "input"},
		{"NumberInput", "POST", base + "/responses", `{"input":3}`, 400, "input"},
		{"BadType", "POST", base + "/responses", `{"input":"x","max_output_tokens":"many"}`, 400, "max_output_tokens"},
		{"NoSchema", "POST", base + "/responses", `{"input":"x","text":{"format":{"type":"json_schema","name":"r"}}}`, 400, "text.format.schema"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, tt.url, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			r := result{status: resp.StatusCode, header: resp.Header, body: b}
			if tt.wantStatus == 200 {
				decodeResponse(t, r)
				return
			}
			e := decodeError(t, r, tt.wantStatus)
			if tt.wantStatus == 400 && e.Error.Type != "invalid_request_error" {
				t.Errorf("type = %q, want invalid_request_error", e.Error.Type)
			}
			if tt.wantParam != "" && (e.Error.Param == nil || *e.Error.Param != tt.wantParam) {
				t.Errorf("param = %v, want %q (message %q)", e.Error.Param, tt.wantParam, e.Error.Message)
			}
		})
	}
	// 404 and 405 are not requests to the route; 400s are.
	if got, want := s.Stats().Requests, 2+7; got != want {
		t.Errorf("Stats().Requests = %d, want %d", got, want)
	}
}

func TestServer_TooLarge(t *testing.T) {
	const limit = 1 << 10
	tests := []struct {
		name string
		size int
		want int
	}{
		{"AtLimit", limit, http.StatusOK},
		{"OverLimit", limit + 1, http.StatusRequestEntityTooLarge},
	}
	s := sim.New(sim.Config{})
	defer s.Close()
	sim.SetMaxBody(s, limit)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const open, end = `{"input":"`, `"}`
			body := open + strings.Repeat("0", tt.size-len(open)-len(end)) + end
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/responses", strings.NewReader(body)))
			if got := rec.Code; got != tt.want {
				t.Errorf("status = %d, want %d; body %s", got, tt.want, rec.Body)
			}
		})
	}
	if got, want := s.Stats().ByStatus[413], 1; got != want {
		t.Errorf("ByStatus[413] = %d, want %d", got, want)
	}
}

func TestServer_StatsEndpoint(t *testing.T) {
	s, base := start(t, sim.Config{Usage: sim.UsageChat})
	bodies := []string{`{"input":"a"}`, `{"input":"b"}`, `{"input":"a"}`}
	for _, b := range bodies {
		decodeResponse(t, post(t, base+"/responses", b))
	}
	post(t, base+"/responses", `{}`)
	root := strings.TrimSuffix(base, "/v1")
	for _, url := range []string{root + "/_sim/stats", base + "/_sim/stats"} {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		var got sim.Stats
		err = json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("decode %s: %v", url, err)
		}
		want := s.Stats()
		if got.Requests != 4 || got.Completed != 3 || got.ByStatus[200] != 3 || got.ByStatus[400] != 1 {
			t.Errorf("GET %s = %+v, want 4 requests, 3 completed, 3×200, 1×400", url, got)
		}
		if got.InputTokens != want.InputTokens || got.OutputTokens != want.OutputTokens || got.InputTokens != 3*(1+4) {
			t.Errorf("tokens = %d/%d, want %d/%d and input 15", got.InputTokens, got.OutputTokens, want.InputTokens, want.OutputTokens)
		}
		if got, want := got.PerBody[bodySHA(`{"input":"a"}`)], [2]int{2, 2}; got != want {
			t.Errorf("PerBody[a] = %v, want %v", got, want)
		}
		if len(got.PerBody) != 3 {
			t.Errorf("PerBody has %d bodies, want 3", len(got.PerBody))
		}
	}
	resp, err := http.Post(root+"/_sim/stats", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 {
		t.Errorf("POST /_sim/stats = %d, want 405", resp.StatusCode)
	}
}

func TestServer_Count(t *testing.T) {
	s, base := start(t, sim.Config{Incomplete: 0.5, Seed: 11})
	const body = `{"input":"counted"}`
	completed := 0
	for range 8 {
		if w := decodeResponse(t, post(t, base+"/responses", body)); w.Status == "completed" {
			completed++
		}
	}
	tests := []struct {
		name          string
		sha           string
		wantRequests  int
		wantCompleted int
	}{
		{"Seen", bodySHA(body), 8, completed},
		{"UpperHex", strings.ToUpper(bodySHA(body)), 8, completed},
		{"Unseen", bodySHA(`{"input":"other"}`), 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, done := s.Count(tt.sha)
			if req != tt.wantRequests || done != tt.wantCompleted {
				t.Errorf("Count() = %d, %d, want %d, %d", req, done, tt.wantRequests, tt.wantCompleted)
			}
		})
	}
}

func TestServer_LatencyHonoursCancellation(t *testing.T) {
	s := sim.New(sim.Config{Latency: time.Hour})
	base, err := s.Start("")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/responses", strings.NewReader(`{"input":"x"}`))
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("Do() succeeded, want a deadline error")
	} else if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Do() error = %v, want deadline exceeded", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := s.Stats().ByStatus; got[sim.StatusClientClosed]+got[sim.StatusNoAnswer] != 1 {
		t.Errorf("ByStatus = %v, want the request counted as abandoned", got)
	}
}

func TestServer_CloseEndsInFlight(t *testing.T) {
	s := sim.New(sim.Config{Latency: time.Hour})
	base, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		r := post(t, base+"/responses", `{"input":"x"}`)
		errc <- r.err
	}()
	waitFor(t, func() bool { return s.Stats().Requests == 1 })
	if err := s.Close(); err != nil {
		t.Fatalf("Close() error = %v", err)
	}
	if err := <-errc; err == nil {
		t.Errorf("in-flight request got an answer, want a closed connection")
	}
	if got := s.Stats().ByStatus[sim.StatusNoAnswer]; got != 1 {
		t.Errorf("ByStatus[0] = %d, want 1", got)
	}
	if _, err := s.Start(""); err == nil {
		t.Errorf("Start() after Close succeeded")
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close() error = %v", err)
	}
}

// waitFor polls cond until it holds, failing after 5s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	deadline := time.After(5 * time.Second)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatal("condition not met in 5s")
		}
	}
}

func TestServer_Concurrent(t *testing.T) {
	s, base := start(t, sim.Config{ServerError: 0.2, Malformed: 0.1, LatencyJitter: time.Millisecond, RPM: 1000, TPM: 100000})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 25 {
				post(t, base+"/responses", fmt.Sprintf(`{"input":"w%d r%d"}`, w, i))
			}
		})
	}
	wg.Wait()
	st := s.Stats()
	sum := 0
	for _, n := range st.ByStatus {
		sum += n
	}
	if st.Requests != 200 || sum != 200 {
		t.Errorf("Requests = %d, sum(ByStatus) = %d, want 200 each", st.Requests, sum)
	}
}

func TestConfig_RegisterFlags(t *testing.T) {
	t.Setenv("SIM_TEST_KEY", "sk-from-env")
	var c sim.Config
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.RegisterFlags(fs)
	args := []string{
		"-seed", "7", "-latency", "5ms", "-latency-jitter", "2ms", "-usage", "chat", "-model", "gpt-4o",
		"-api-key-env", "SIM_TEST_KEY", "-rate-limit", "0.1", "-server-error", "0.2", "-reset", "0.3",
		"-malformed", "0.05", "-slow", "0.01", "-slow-delay", "3s", "-incomplete", "0.02", "-bad-request", "0.03",
		"-retry-after", "250ms", "-quota-after", "100", "-rpm", "60", "-tpm", "1000",
		"-no-responses", "-shuffle-embeddings",
		"-background-delay", "2s", "-background-jitter", "1s", "-background-fail", "0.1", "-background-expire-after", "1m", "-no-background",
		"-batch-delay", "5s", "-batch-fail", "0.05", "-batch-expire-after", "3s", "-batch-max-lines", "100",
		"-batch-max-bytes", "4096", "-batch-token-limit", "9000",
	}
	if err := fs.Parse(args); err != nil {
		t.Fatalf("Parse() error = %v", err)
	}
	want := sim.Config{
		Seed: 7, Latency: 5 * time.Millisecond, LatencyJitter: 2 * time.Millisecond, Usage: "chat", APIKey: "sk-from-env",
		Model: "gpt-4o", RateLimit: 0.1, ServerError: 0.2, Reset: 0.3, Malformed: 0.05, Slow: 0.01, SlowDelay: 3 * time.Second,
		Incomplete: 0.02, BadRequest: 0.03, RetryAfter: 250 * time.Millisecond, QuotaAfter: 100, RPM: 60, TPM: 1000,
		NoResponses: true, ShuffleEmbeddings: true,
		BackgroundDelay: 2 * time.Second, BackgroundJitter: time.Second, BackgroundFail: 0.1, BackgroundExpireAfter: time.Minute, NoBackground: true,
		BatchDelay: 5 * time.Second, BatchFail: 0.05, BatchExpireAfter: 3 * time.Second, BatchMaxLines: 100,
		BatchMaxBytes: 4096, BatchTokenLimit: 9000,
	}
	if c != want {
		t.Errorf("Config = %+v, want %+v", c, want)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate() = %v", err)
	}

	var d sim.Config
	fs = flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	d.RegisterFlags(fs)
	if err := fs.Parse([]string{"-api-key-env", "SIM_TEST_UNSET_VAR"}); err == nil {
		t.Errorf("Parse(-api-key-env UNSET) succeeded")
	}
	if d.SlowDelay != 2*time.Second || d.RetryAfter != time.Second || d.Model != "gpt-5-mini" || d.Usage != "openai" ||
		d.BatchMaxLines != 50_000 || d.BatchMaxBytes != 200_000_000 {
		t.Errorf("defaults = %+v", d)
	}
}

func TestConfig_Validate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     sim.Config
		wantErr bool
	}{
		{"Zero", sim.Config{}, false},
		{"Full", sim.Config{RateLimit: 1, Usage: "chat"}, false},
		{"DeepSeekUsage", sim.Config{Usage: sim.UsageDeepSeek, NoResponses: true, ShuffleEmbeddings: true}, false},
		{"ProbabilityAbove1", sim.Config{Reset: 1.5}, true},
		{"NegativeProbability", sim.Config{Slow: -0.1}, true},
		{"NaN", sim.Config{Malformed: math.NaN()}, true},
		{"NegativeLatency", sim.Config{Latency: -time.Second}, true},
		{"NegativeRPM", sim.Config{RPM: -1}, true},
		{"UnknownUsage", sim.Config{Usage: "anthropic"}, true},
		{"BackgroundFailAbove1", sim.Config{BackgroundFail: 2}, true},
		{"NegativeBatchDelay", sim.Config{BatchDelay: -time.Second}, true},
		{"NegativeBatchMaxLines", sim.Config{BatchMaxLines: -1}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.cfg.Validate(); (err != nil) != tt.wantErr {
				t.Errorf("Validate() = %v, want error %v", err, tt.wantErr)
			}
		})
	}
}

func BenchmarkServer(b *testing.B) {
	s, base := start(b, sim.Config{Seed: 1})
	body := `{"model":"gpt-5-mini","input":"I loved it","text":{"format":{"type":"json_schema","name":"r","schema":` +
		`{"type":"object","properties":{"label":{"type":"string","enum":["positive","negative","neutral"]},"score":{"type":"number"}}}}}}`
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if r := post(b, base+"/responses", body); r.status != http.StatusOK {
				b.Errorf("status %d", r.status)
			}
		}
	})
	b.ReportMetric(float64(s.Stats().Requests)/b.Elapsed().Seconds(), "req/s")
}
