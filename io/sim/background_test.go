package sim_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmbatch/llmbatch/io/sim"
)

// get sends a GET to url.
func get(tb testing.TB, url string) result {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		tb.Fatalf("NewRequest() error = %v", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return result{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return result{status: resp.StatusCode, header: resp.Header, body: b, err: err}
}

// bgResponse is a background Response with the fields the tests check
// present.
type bgResponse struct {
	wireResponse
	Background  *bool           `json:"background"`
	CompletedAt json.RawMessage `json:"completed_at"`
	RawUsage    json.RawMessage `json:"usage"`
	RawError    *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func decodeBG(tb testing.TB, r result) bgResponse {
	tb.Helper()
	var b bgResponse
	if err := json.Unmarshal(r.body, &b); err != nil {
		tb.Fatalf("decode: %v; body %s", err, r.body)
	}
	b.wireResponse = decodeResponse(tb, r) // its usage, shadowed by RawUsage above
	if b.Background == nil || !*b.Background || b.Object != "response" || !strings.HasPrefix(b.ID, "resp_") {
		tb.Fatalf("not a background response object: %s", r.body)
	}
	return b
}

const bgBody = `{"model":"gpt-5-mini","input":"Classify: the soup was cold","background":true,"metadata":{"row":"r1"}}`

// syncAnswer is the synchronous answer of a fresh server (same seed) to the
// body without "background".
func syncAnswer(t *testing.T, cfg sim.Config, body string) wireResponse {
	t.Helper()
	_, base := start(t, sim.Config{Seed: cfg.Seed})
	return decodeResponse(t, post(t, base+"/responses", strings.Replace(body, `,"background":true`, ``, 1)))
}

func TestBackground_Lifecycle(t *testing.T) {
	cfg := sim.Config{Seed: 3, BackgroundDelay: 100 * time.Millisecond}
	want := syncAnswer(t, cfg, bgBody)
	s, base, clock := startClocked(t, cfg)

	created := decodeBG(t, post(t, base+"/responses", bgBody))
	if created.Status != "queued" || len(created.Output) != 0 || string(created.RawUsage) != "null" || string(created.CompletedAt) != "null" {
		t.Fatalf("create = %+v, want queued with no output, usage or completed_at", created)
	}
	if st := s.Stats(); st.InputTokens != 0 || st.Completed != 0 || st.Background.Created != 1 {
		t.Errorf("after create: Stats = %+v, want nothing billed, 1 created", st)
	}
	url := base + "/responses/" + created.ID
	for _, step := range []struct {
		advance time.Duration
		want    string
	}{{0, "queued"}, {60 * time.Millisecond, "in_progress"}, {39 * time.Millisecond, "in_progress"}, {time.Millisecond, "completed"}, {time.Hour, "completed"}} {
		clock.Advance(step.advance)
		got := decodeBG(t, get(t, url))
		if got.Status != step.want || got.ID != created.ID {
			t.Fatalf("after +%v: status %q id %s, want %q %s", step.advance, got.Status, got.ID, step.want, created.ID)
		}
		if got.Status != "completed" {
			continue
		}
		if got.outputText() != want.outputText() || got.Usage.normalize(t) != want.Usage.normalize(t) {
			t.Errorf("final = %q %+v, want the synchronous %q %+v", got.outputText(), got.Usage.normalize(t), want.outputText(), want.Usage.normalize(t))
		}
		if got.Metadata["row"] != "r1" || string(got.CompletedAt) == "null" || got.RawError != nil {
			t.Errorf("final lacks metadata/completed_at or has an error: %s", got.CompletedAt)
		}
	}
	u := want.Usage.normalize(t)
	st := s.Stats()
	if st.Background.Created != 1 || st.Background.Completed != 1 || st.Background.Gets != 5 ||
		st.InputTokens != u.input || st.OutputTokens != u.output || st.Completed != 1 ||
		st.Background.InputTokens != u.input || st.Endpoints[sim.EndpointResponses].OutputTokens != u.output {
		t.Errorf("Stats = %+v, want 1 created, 1 completed, 5 gets, usage %+v billed once", st, u)
	}
	if got := s.Creations(); len(got) != 1 || got["Classify: the soup was cold"] != 1 {
		t.Errorf("Creations() = %v", got)
	}
	// The same counts reach a client that reads GET /_sim/stats.
	var wire sim.Stats
	if r := get(t, strings.TrimSuffix(base, "/v1")+"/_sim/stats"); json.Unmarshal(r.body, &wire) != nil ||
		wire.Creations["Classify: the soup was cold"] != 1 || wire.Background.Gets != 5 || wire.Background.Completed != 1 {
		t.Errorf("GET /_sim/stats = %s", r.body)
	}
	if _, completed := s.Count(bodySHA(bgBody)); completed != 1 {
		t.Errorf("Count(body) completed = %d, want 1", completed)
	}
	// A second creation of the same row is a new response, and counted.
	again := decodeBG(t, post(t, base+"/responses", bgBody))
	if again.ID == created.ID {
		t.Errorf("second creation reused id %s", again.ID)
	}
	if got := s.Creations()["Classify: the soup was cold"]; got != 2 {
		t.Errorf("Creations() after a second create = %d, want 2", got)
	}
}

// TestBackground_RealClock polls a background response to completion over
// loopback on the real clock, as a client does.
func TestBackground_RealClock(t *testing.T) {
	cfg := sim.Config{Seed: 9, BackgroundDelay: 50 * time.Millisecond, BackgroundJitter: 20 * time.Millisecond}
	body := `{"model":"o3","input":[{"role":"user","content":"why is the sky blue"}],"background":true,"max_output_tokens":400}`
	want := syncAnswer(t, cfg, body)
	s, base := start(t, cfg)
	id := decodeBG(t, post(t, base+"/responses", body)).ID
	seen := map[string]bool{}
	var final bgResponse
	for i := 0; ; i++ {
		final = decodeBG(t, get(t, base+"/responses/"+id))
		seen[final.Status] = true
		if final.Status != "queued" && final.Status != "in_progress" {
			break
		}
		if i > 1000 {
			t.Fatal("not final after 1000 polls")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if final.Status != "completed" || final.outputText() != want.outputText() || final.Usage.normalize(t) != want.Usage.normalize(t) {
		t.Errorf("final %s %q %+v, want completed %q %+v", final.Status, final.outputText(), final.Usage.normalize(t), want.outputText(), want.Usage.normalize(t))
	}
	if len(final.Output) != 2 || final.Output[0].Type != "reasoning" {
		t.Errorf("final output = %+v, want a reasoning item and a message", final.Output)
	}
	if st := s.Stats(); st.Background.Completed != 1 || st.OutputTokens != want.Usage.normalize(t).output {
		t.Errorf("Stats = %+v", st)
	}
}

func TestBackground_Cancel(t *testing.T) {
	s, base, clock := startClocked(t, sim.Config{BackgroundDelay: time.Minute})
	id := decodeBG(t, post(t, base+"/responses", bgBody)).ID
	clock.Advance(40 * time.Second) // in_progress
	for i := range 2 {              // cancelling twice answers the same object
		got := decodeBG(t, post(t, base+"/responses/"+id+"/cancel", ``))
		if got.Status != "cancelled" || len(got.Output) != 0 || string(got.RawUsage) != "null" {
			t.Fatalf("cancel #%d = %s %+v, want cancelled with no output or usage", i+1, got.Status, got)
		}
	}
	clock.Advance(time.Hour) // past its delay: still cancelled, never billed
	if got := decodeBG(t, get(t, base+"/responses/"+id)); got.Status != "cancelled" {
		t.Errorf("GET after cancel = %s, want cancelled", got.Status)
	}
	st := s.Stats()
	if st.Background.Cancelled != 1 || st.Background.Completed != 0 || st.Background.Cancels != 2 || st.InputTokens != 0 || st.Completed != 0 {
		t.Errorf("Stats = %+v, want 1 cancelled, nothing billed", st)
	}

	// A completed response cannot be cancelled; an unknown one is 404.
	done := decodeBG(t, post(t, base+"/responses", `{"input":"x","background":true}`)).ID
	clock.Advance(2 * time.Minute)
	if e := decodeError(t, post(t, base+"/responses/"+done+"/cancel", ``), 400); !strings.Contains(e.Error.Message, "completed") {
		t.Errorf("cancel completed: %q", e.Error.Message)
	}
	decodeError(t, post(t, base+"/responses/resp_nope/cancel", ``), 404)
	decodeError(t, get(t, base+"/responses/resp_nope"), 404)
	// Only GET on a response, only POST on cancel.
	decodeError(t, post(t, base+"/responses/"+done, `{}`), 405)
	decodeError(t, get(t, base+"/responses/"+done+"/cancel"), 405)
}

func TestBackground_FailedShare(t *testing.T) {
	s, base := start(t, sim.Config{Seed: 1, BackgroundFail: 0.3})
	var ids []string
	for i := range 100 {
		body := `{"input":"row ` + string(rune('a'+i%26)) + strings.Repeat("x", i) + `","background":true}`
		ids = append(ids, decodeBG(t, post(t, base+"/responses", body)).ID)
	}
	failed := 0
	for _, id := range ids {
		got := decodeBG(t, get(t, base+"/responses/"+id))
		switch got.Status {
		case "failed":
			failed++
			if got.RawError == nil || got.RawError.Code != "server_error" || got.RawError.Message == "" || string(got.RawUsage) != "null" {
				t.Errorf("failed response: %+v", got)
			}
		case "completed":
		default:
			t.Errorf("status %s, want completed or failed", got.Status)
		}
	}
	if failed < 15 || failed > 45 {
		t.Errorf("failed = %d of 100, want about 30", failed)
	}
	st := s.Stats()
	if st.Background.Failed != failed || st.Background.Completed != 100-failed || st.Completed != 100-failed {
		t.Errorf("Stats = %+v, want %d failed", st.Background, failed)
	}
}

func TestBackground_Expiry(t *testing.T) {
	s, base, clock := startClocked(t, sim.Config{BackgroundDelay: time.Second, BackgroundExpireAfter: time.Minute})
	id := decodeBG(t, post(t, base+"/responses", bgBody)).ID
	clock.Advance(time.Second + 59*time.Second) // completed 59s ago
	if got := decodeBG(t, get(t, base+"/responses/"+id)); got.Status != "completed" {
		t.Fatalf("status %s, want completed", got.Status)
	}
	clock.Advance(time.Second)
	if e := decodeError(t, get(t, base+"/responses/"+id), 404); !strings.Contains(e.Error.Message, id) {
		t.Errorf("404 message %q does not name %s", e.Error.Message, id)
	}
	decodeError(t, post(t, base+"/responses/"+id+"/cancel", ``), 404)
	st := s.Stats()
	if st.Background.Expired != 1 || st.Background.Completed != 1 || st.Completed != 1 {
		t.Errorf("Stats = %+v, want 1 completed (billed once) and 1 expired", st.Background)
	}

	// One never polled is billed by the clock and expires all the same.
	decodeBG(t, post(t, base+"/responses", `{"input":"never polled","background":true}`))
	clock.Advance(2 * time.Minute)
	if st := s.Stats(); st.Background.Completed != 2 || st.Background.Expired != 2 {
		t.Errorf("unpolled: Stats = %+v, want 2 completed, 2 expired", st.Background)
	}
}

func TestBackground_CreateFaults(t *testing.T) {
	t.Run("StoreFalse", func(t *testing.T) {
		s, base := start(t, sim.Config{})
		e := decodeError(t, post(t, base+"/responses", `{"input":"x","background":true,"store":false}`), 400)
		if e.Error.Param == nil || *e.Error.Param != "store" {
			t.Errorf("param = %v, want store", e.Error.Param)
		}
		if st := s.Stats(); st.Background.Created != 0 {
			t.Errorf("created %d", st.Background.Created)
		}
	})
	t.Run("RateLimited", func(t *testing.T) {
		s, base := start(t, sim.Config{RateLimit: 1})
		decodeError(t, post(t, base+"/responses", bgBody), 429)
		if st := s.Stats(); st.Background.Created != 0 || len(s.Creations()) != 0 {
			t.Errorf("a refused create created a response: %+v", st.Background)
		}
	})
	t.Run("TPM", func(t *testing.T) {
		s, base := start(t, sim.Config{TPM: 10})
		decodeError(t, post(t, base+"/responses", `{"input":"`+strings.Repeat("long ", 40)+`","background":true}`), 429)
		if st := s.Stats(); st.Background.Created != 0 || st.Faults[sim.LimitTPM] != 1 {
			t.Errorf("Stats = %+v", st)
		}
	})
	t.Run("Malformed", func(t *testing.T) {
		// The response exists though its id never reached the client.
		s, base := start(t, sim.Config{Malformed: 1})
		r := post(t, base+"/responses", bgBody)
		if r.status != 200 || json.Valid(r.body) {
			t.Fatalf("answer %d %s, want a cut 200", r.status, r.body)
		}
		if st := s.Stats(); st.Background.Created != 1 || st.Background.Completed != 1 {
			t.Errorf("Stats = %+v, want created and completed", st.Background)
		}
	})
	t.Run("Incomplete", func(t *testing.T) {
		_, base := start(t, sim.Config{Incomplete: 1})
		id := decodeBG(t, post(t, base+"/responses", bgBody)).ID
		got := decodeBG(t, get(t, base+"/responses/"+id))
		if got.Status != "incomplete" || got.IncompleteDetails == nil || got.IncompleteDetails.Reason != "max_output_tokens" {
			t.Errorf("final = %s %+v, want incomplete (max_output_tokens)", got.Status, got.IncompleteDetails)
		}
		decodeError(t, post(t, base+"/responses/"+id+"/cancel", ``), 400)
	})
	t.Run("Unauthorized", func(t *testing.T) {
		_, base := start(t, sim.Config{APIKey: "sk-test"})
		id := decodeBG(t, post(t, base+"/responses", bgBody, "Authorization", "Bearer sk-test")).ID
		decodeError(t, get(t, base+"/responses/"+id), 401)
	})
}

// TestBackground_PollFaults: GETs draw injected 429s and 5xx too; a poller
// that retries them sees the same final object, billed once.
func TestBackground_PollFaults(t *testing.T) {
	fs, fbase := start(t, sim.Config{Seed: 5, RateLimit: 0.3, ServerError: 0.3})
	var fid string
	for fid == "" {
		r := post(t, fbase+"/responses", bgBody)
		if r.status == 200 {
			fid = decodeBG(t, r).ID
		}
	}
	statuses := map[int]int{}
	for range 40 {
		r := get(t, fbase+"/responses/"+fid)
		statuses[r.status]++
		if r.status == 200 && decodeBG(t, r).Status != "completed" {
			t.Fatalf("status %s", decodeBG(t, r).Status)
		}
		if r.status == 429 && r.header.Get("retry-after-ms") == "" {
			t.Errorf("429 without retry-after-ms")
		}
	}
	if statuses[200] == 0 || statuses[429] == 0 || statuses[200] == 40 {
		t.Errorf("GET statuses = %v, want a mix of 200, 429 and 5xx", statuses)
	}
	if st := fs.Stats(); st.Background.Gets != 40 || st.Background.Completed != 1 || st.Faults[sim.FaultRateLimit] == 0 {
		t.Errorf("Stats = %+v", st)
	}
}

// TestBackground_BehindGateway polls through a gateway that mounts the API
// under a prefix and adds its own headers, as LiteLLM or Portkey do.
func TestBackground_BehindGateway(t *testing.T) {
	s := sim.New(sim.Config{BackgroundDelay: 0})
	defer s.Close()
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("x-litellm-call-id", "abc")
		http.StripPrefix("/openai", s).ServeHTTP(w, r)
	}))
	defer gw.Close()
	id := decodeBG(t, post(t, gw.URL+"/openai/v1/responses", bgBody)).ID
	if got := decodeBG(t, get(t, gw.URL+"/openai/v1/responses/"+id)); got.Status != "completed" {
		t.Errorf("status %s", got.Status)
	}
	if got := decodeBG(t, get(t, gw.URL+"/openai/responses/"+id)); got.Status != "completed" {
		t.Errorf("without /v1: status %s", got.Status)
	}
	// Files and batches through the same gateway.
	j := makeJob("/v1/embeddings", 5, func(i int) any { return map[string]any{"model": "text-embedding-3-small", "input": fmt.Sprint(i)} })
	b := createBatch(t, gw.URL+"/openai/v1", uploadOK(t, gw.URL+"/openai/v1", j.file), j.endpoint)
	b = decodeBatch(t, get(t, gw.URL+"/openai/v1/batches/"+b.ID))
	if out := download(t, gw.URL+"/openai/v1", b.OutputFileID); b.Status != "completed" || len(out) != 5 {
		t.Errorf("batch behind gateway: %s, %d lines", b.Status, len(out))
	}
}

// TestBackground_Concurrent creates and polls from several goroutines;
// the counts add up and every response is billed once.
func TestBackground_Concurrent(t *testing.T) {
	s, base := start(t, sim.Config{BackgroundDelay: 20 * time.Millisecond, BackgroundJitter: 10 * time.Millisecond, BackgroundFail: 0.1})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 10 {
				id := decodeBG(t, post(t, base+"/responses", fmt.Sprintf(`{"input":"w%d r%d","background":true}`, w, i))).ID
				for {
					st := decodeBG(t, get(t, base+"/responses/"+id)).Status
					if st == "completed" || st == "failed" {
						break
					}
					time.Sleep(2 * time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
	st := s.Stats()
	b := st.Background
	if b.Created != 80 || b.Completed+b.Failed != 80 || st.Completed != b.Completed || len(st.Creations) != 80 || b.Gets < 80 {
		t.Errorf("Stats = %+v", st)
	}
}

// TestBackground_NoBackground: a server without background mode answers
// the create synchronously and keeps nothing.
func TestBackground_NoBackground(t *testing.T) {
	s, base := start(t, sim.Config{NoBackground: true})
	got := decodeResponse(t, post(t, base+"/responses", bgBody))
	if got.Status != "completed" || got.outputText() == "" {
		t.Errorf("create = %+v, want a synchronous completed answer", got)
	}
	decodeError(t, get(t, base+"/responses/"+got.ID), 404)
	if st := s.Stats(); st.Background.Created != 0 || st.Completed != 1 || st.InputTokens == 0 {
		t.Errorf("Stats = %+v", st)
	}
}
