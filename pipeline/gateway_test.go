package pipeline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/llmbatch/llmbatch/io/httpapi"
	"github.com/llmbatch/llmbatch/io/sim"
	"github.com/llmbatch/llmbatch/pipeline"
)

// front serves s behind handler fn, which may call next to get the
// simulator's answer.
func front(t *testing.T, s *sim.Server, fn func(w http.ResponseWriter, r *http.Request, next func() *httptest.ResponseRecorder)) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fn(w, r, func() *httptest.ResponseRecorder {
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, r)
			return rec
		})
	}))
	t.Cleanup(srv.Close)
	return srv
}

func journalTokens(t *testing.T, path string) (in, out int64) {
	for _, r := range readJournal(t, path) {
		in += r.Usage.InputTokens
		out += r.Usage.OutputTokens
	}
	return in, out
}

// A --body with "stream": true is refused before any request.
func TestRun_StreamBodyRefused(t *testing.T) {
	dir := t.TempDir()
	s, base := startSim(t, sim.Config{})
	cfg := baseConfig(dir, writeInput(t, dir, 5), base)
	cfg.Body = []byte(`{"stream": true, "temperature": 0}`)
	_, err := pipeline.Run(context.Background(), cfg)
	var uerr *pipeline.UsageError
	if !errors.As(err, &uerr) || !strings.Contains(err.Error(), `"stream"`) {
		t.Fatalf("Run() error = %v, want a *UsageError about stream", err)
	}
	if n := s.Stats().Requests; n != 0 {
		t.Errorf("simulator got %d requests, want 0", n)
	}
}

// A Batch-API line whose body streams is a bad row; the others go.
func TestRun_StreamBatchLineIsBadRow(t *testing.T) {
	dir := t.TempDir()
	_, base := startSim(t, sim.Config{})
	in := filepath.Join(dir, "batch.jsonl")
	os.WriteFile(in, []byte(`{"custom_id":"a","method":"POST","url":"/v1/responses","body":{"model":"gpt-5-mini","input":"hi"}}
{"custom_id":"b","method":"POST","url":"/v1/responses","body":{"model":"gpt-5-mini","input":"hi","stream":true}}
`), 0o644)
	cfg := baseConfig(dir, in, base)
	cfg.IDColumn, cfg.Prompt = "", ""
	if _, err := pipeline.Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	for _, r := range readJournal(t, cfg.Output) {
		switch r.CustomID {
		case "a":
			if r.Error != nil {
				t.Errorf("a: %+v", r.Error)
			}
		case "b":
			if r.Error == nil || r.Error.Code != "bad_input" || !strings.Contains(r.Error.Message, "batch.jsonl:2") || !strings.Contains(r.Error.Message, "stream") {
				t.Errorf("b: error %+v, want bad_input naming batch.jsonl:2 and stream", r.Error)
			}
		}
	}
}

// An endpoint that streams although not asked: each row fails once, is
// not retried, and the usage of the terminal event is counted.
func TestRun_EventStreamAnswerNotRetried(t *testing.T) {
	dir := t.TempDir()
	s, _ := startSim(t, sim.Config{Seed: 5})
	f := front(t, s, func(w http.ResponseWriter, r *http.Request, next func() *httptest.ResponseRecorder) {
		rec := next()
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(rec.Code)
		var resp map[string]any
		json.Unmarshal(rec.Body.Bytes(), &resp)
		created, _ := json.Marshal(map[string]any{"type": "response.created", "sequence_number": 0, "response": map[string]any{"status": "in_progress"}})
		done, _ := json.Marshal(map[string]any{"type": "response.completed", "sequence_number": 1, "response": resp})
		fmt.Fprintf(w, "event: response.created\ndata: %s\n\nevent: response.completed\ndata: %s\n\n", created, done)
	})
	const n = 10
	cfg := baseConfig(dir, writeInput(t, dir, n), f.URL+"/v1")
	sum, err := pipeline.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	if st.Requests != n || sum.Run.Retries != 0 {
		t.Errorf("simulator got %d requests, %d retries; want %d, 0", st.Requests, sum.Run.Retries, n)
	}
	recs := readJournal(t, cfg.Output)
	for _, r := range recs {
		if r.Error == nil || r.Error.Code != httpapi.CodeStream || r.Error.Retryable || r.Attempts != 1 {
			t.Errorf("%s: error %+v after %d attempts, want %s, not retryable, 1 attempt", r.CustomID, r.Error, r.Attempts, httpapi.CodeStream)
		}
	}
	if in, out := journalTokens(t, cfg.Output); in != st.InputTokens || out != st.OutputTokens || in == 0 {
		t.Errorf("journal tokens %d/%d, simulator billed %d/%d", in, out, st.InputTokens, st.OutputTokens)
	}
}

// LiteLLM passes OpenAI's insufficient_quota on inside a throttling_error,
// and its own budget_exceeded as a 400: both stop the job at once.
func TestRun_GatewayQuotaStops(t *testing.T) {
	for _, tt := range []struct {
		name   string
		status int
		body   string
	}{
		{"WrappedQuota", 429, `{"error":{"message":"litellm.RateLimitError: RateLimitError: OpenAIException - {\"error\": {\"message\": \"You exceeded your current quota\", \"type\": \"insufficient_quota\", \"code\": \"insufficient_quota\"}}","type":"throttling_error","param":null,"code":"429"}}`},
		{"Budget400", 400, `{"error":{"message":"Budget has been exceeded! Current cost: 0.51, Max budget: 0.5","type":"budget_exceeded","param":null,"code":"400"}}`},
		{"Budget429", 429, `{"error":{"message":"Budget has been exceeded!","type":"budget_exceeded","param":null,"code":"429"}}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			var requests atomic.Int64
			s, _ := startSim(t, sim.Config{})
			f := front(t, s, func(w http.ResponseWriter, r *http.Request, next func() *httptest.ResponseRecorder) {
				requests.Add(1)
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			})
			cfg := baseConfig(dir, writeInput(t, dir, 40), f.URL+"/v1")
			cfg.Concurrency, cfg.MaxAttempts = 2, 8
			_, err := pipeline.Run(context.Background(), cfg)
			var serr *pipeline.StopError
			if !errors.As(err, &serr) || !strings.Contains(serr.Reason, "quota, credit or budget") {
				t.Fatalf("Run() error = %v, want a *StopError about quota or budget", err)
			}
			if n := requests.Load(); n > 2 {
				t.Errorf("%d requests, want at most 2 (one per worker)", n)
			}
			if recs := readJournal(t, cfg.Output); len(recs) != 0 {
				t.Errorf("journal has %d records, want none (the rows stay pending)", len(recs))
			}
		})
	}
}

// A gateway's error whose code is only the status number keeps its type
// in the journal; its text is read from error.message.
func TestRun_GatewayErrorTypeKept(t *testing.T) {
	dir := t.TempDir()
	s, _ := startSim(t, sim.Config{})
	f := front(t, s, func(w http.ResponseWriter, r *http.Request, next func() *httptest.ResponseRecorder) {
		w.Header().Set("llm_provider-x-request-id", "req_upstream")
		w.WriteHeader(400)
		io.WriteString(w, `{"error":{"message":"litellm.BadRequestError: unsupported parameter","type":"invalid_request_error","param":null,"code":"400"}}`)
	})
	cfg := baseConfig(dir, writeInput(t, dir, 3), f.URL+"/v1")
	if _, err := pipeline.Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	for _, r := range readJournal(t, cfg.Output) {
		if r.Error == nil || r.Error.Code != "400" || r.Error.Type != "invalid_request_error" || !strings.Contains(r.Error.Message, "unsupported parameter") ||
			r.Response == nil || r.Response.RequestID != "req_upstream" {
			t.Errorf("%s: error %+v response %+v", r.CustomID, r.Error, r.Response)
		}
	}
}

// LiteLLM's 429s carry their wait only in llm_provider-retry-after.
func TestRun_ProviderRetryAfterHonoured(t *testing.T) {
	dir := t.TempDir()
	s, _ := startSim(t, sim.Config{})
	var mu sync.Mutex
	var times []time.Time
	f := front(t, s, func(w http.ResponseWriter, r *http.Request, next func() *httptest.ResponseRecorder) {
		mu.Lock()
		times = append(times, time.Now())
		first := len(times) == 1
		mu.Unlock()
		if first {
			w.Header().Set("llm_provider-retry-after", "2")
			w.WriteHeader(429)
			io.WriteString(w, `{"error":{"message":"litellm.RateLimitError: rate limited","type":"throttling_error","code":"429"}}`)
			return
		}
		rec := next()
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
	})
	cfg := baseConfig(dir, writeInput(t, dir, 1), f.URL+"/v1")
	if _, err := pipeline.Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if len(times) != 2 {
		t.Fatalf("%d requests, want 2", len(times))
	}
	// A lower bound only: the retry must not come before the server's wait.
	if gap := times[1].Sub(times[0]); gap < 1900*time.Millisecond {
		t.Errorf("retried after %v, want at least the 2s the server asked for", gap)
	}
}

// A 307 to another port does not carry the key (nor the prompt) there;
// a 307 on the same origin is followed.
func TestRun_RedirectToOtherOriginRefused(t *testing.T) {
	for _, tt := range []struct {
		name   string
		client *http.Client
	}{{"DefaultClient", nil}, {"CallersClient", &http.Client{}}} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s, base := startSim(t, sim.Config{APIKey: "sk-redirect-secret-0123"})
			redir := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, base+"/responses?token=abc", http.StatusTemporaryRedirect)
			}))
			defer redir.Close()
			cfg := baseConfig(dir, writeInput(t, dir, 4), redir.URL+"/v1")
			cfg.APIKey, cfg.HTTPClient = "sk-redirect-secret-0123", tt.client
			if _, err := pipeline.Run(context.Background(), cfg); err != nil {
				t.Fatal(err)
			}
			if n := s.Stats().Requests; n != 0 {
				t.Errorf("the other origin got %d requests, want 0", n)
			}
			for _, r := range readJournal(t, cfg.Output) {
				if r.Error == nil || r.Error.Code != httpapi.CodeRedirect || !strings.Contains(r.Error.Message, base+"/responses") ||
					strings.Contains(r.Error.Message, "token=") || r.Error.StatusCode != 307 {
					t.Errorf("%s: error %+v, want %s naming %s/responses without its query", r.CustomID, r.Error, httpapi.CodeRedirect, base)
				}
			}
		})
	}
	t.Run("SameOrigin", func(t *testing.T) {
		dir := t.TempDir()
		s, _ := startSim(t, sim.Config{APIKey: "sk-redirect-secret-0123"})
		f := front(t, s, func(w http.ResponseWriter, r *http.Request, next func() *httptest.ResponseRecorder) {
			if r.URL.Path == "/old/responses" {
				http.Redirect(w, r, "/v1/responses", http.StatusPermanentRedirect)
				return
			}
			rec := next()
			w.WriteHeader(rec.Code)
			w.Write(rec.Body.Bytes())
		})
		cfg := baseConfig(dir, writeInput(t, dir, 4), f.URL+"/old")
		cfg.APIKey = "sk-redirect-secret-0123"
		sum, err := pipeline.Run(context.Background(), cfg)
		if err != nil || sum.Rows.OK != 4 {
			t.Fatalf("Run() = %+v, %v; want 4 rows ok", sum.Rows, err)
		}
	})
}

// An answer with invalid UTF-8 inside a JSON string: the journal line is
// valid UTF-8 and valid JSON, and the usage is counted.
func TestRun_InvalidUTF8AnswerJournalled(t *testing.T) {
	dir := t.TempDir()
	s, _ := startSim(t, sim.Config{Seed: 9})
	f := front(t, s, func(w http.ResponseWriter, r *http.Request, next func() *httptest.ResponseRecorder) {
		rec := next()
		body := append([]byte("{\"note\":\"caf\xe9 \xff\xfe ok\","), rec.Body.Bytes()[1:]...)
		w.WriteHeader(rec.Code)
		w.Write(body)
	})
	cfg := baseConfig(dir, writeInput(t, dir, 5), f.URL+"/v1")
	if _, err := pipeline.Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(cfg.Output)
	for i, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		if !utf8.Valid(line) || !json.Valid(line) {
			t.Errorf("line %d is not valid UTF-8 JSON: %q", i+1, line[:min(len(line), 80)])
		}
		if !bytes.Contains(line, []byte("caf\uFFFD \uFFFD\uFFFD ok")) {
			t.Errorf("line %d: invalid bytes not replaced one for one by U+FFFD", i+1)
		}
	}
	st := s.Stats()
	if in, out := journalTokens(t, cfg.Output); in != st.InputTokens || out != st.OutputTokens || in == 0 {
		t.Errorf("journal tokens %d/%d, simulator billed %d/%d", in, out, st.InputTokens, st.OutputTokens)
	}
}
