package pipeline_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/llmbatch/llmbatch/io/api"
	"github.com/llmbatch/llmbatch/io/httpapi"
	"github.com/llmbatch/llmbatch/io/sim"
	"github.com/llmbatch/llmbatch/pipeline"
)

// sendLog is an Endpoint that answers 200 (announcing 6000 RPM in its
// headers) except for its fifth call, a 429 with retry-after-ms 300, and
// records when each call started and ended.
type sendLog struct {
	mu           sync.Mutex
	calls        int
	starts       []time.Time
	limitedAt    time.Time // when the 429 was answered
	limitedStart time.Time
}

func (s *sendLog) Send(ctx context.Context, _ string, body []byte, _ httpapi.Decoder) (*httpapi.Answer, error) {
	s.mu.Lock()
	s.calls++
	n := s.calls
	start := time.Now()
	s.starts = append(s.starts, start)
	s.mu.Unlock()
	rl := httpapi.RateLimit{LimitRequests: 6000, RemainingRequests: 5000, ResetRequests: time.Second,
		LimitTokens: -1, RemainingTokens: -1, ResetTokens: -1}
	time.Sleep(5 * time.Millisecond)
	if n == 5 {
		rl.RemainingRequests = 0
		s.mu.Lock()
		s.limitedAt, s.limitedStart = time.Now(), start
		s.mu.Unlock()
		return &httpapi.Answer{StatusCode: 429, RateLimit: rl},
			&httpapi.Error{Class: httpapi.Retryable, StatusCode: 429, Code: "rate_limit_exceeded",
				RateLimited: true, RetryAfter: 300 * time.Millisecond}
	}
	body, _ = json.Marshal(map[string]any{"object": "response", "status": "completed", "output": []any{},
		"usage": map[string]int{"input_tokens": 5, "output_tokens": 1, "total_tokens": 6}})
	return &httpapi.Answer{StatusCode: 200, RateLimit: rl, Body: body,
		Result: api.Result{Status: "completed", Usage: api.Usage{InputTokens: 5, OutputTokens: 1, TotalTokens: 6}}}, nil
}

func TestRun_RateLimitPausesThePoolAndResumesGradually(t *testing.T) {
	dir := t.TempDir()
	ep := &sendLog{}
	cfg := pipeline.Config{Source: pipeline.Source{Input: writeInput(t, dir, 60)}, Template: pipeline.Template{Model: "m"}, Output: filepath.Join(dir, "out.jsonl"),
		Endpoint: ep, Concurrency: 16}
	sum, err := pipeline.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Rows.OK != 60 || sum.Run.RateLimited != 1 {
		t.Fatalf("ok %d, 429s %d; want 60 and 1", sum.Rows.OK, sum.Run.RateLimited)
	}
	var after []time.Time
	for _, s := range ep.starts {
		if s.After(ep.limitedStart) && !s.Before(ep.limitedAt) {
			after = append(after, s)
		}
		// No attempt starts between the 429's answer and the end of the
		// pause it asked for, but for those a worker had already let
		// through when the answer was being read (the pool learns of the
		// 429 when its worker does: a few ms at most, more on a loaded
		// machine).
		const admitted = 5 * time.Millisecond
		if !s.Before(ep.limitedAt.Add(admitted)) && s.Before(ep.limitedAt.Add(300*time.Millisecond)) {
			t.Errorf("an attempt started %v after the 429, inside its 300ms pause", s.Sub(ep.limitedAt))
		}
	}
	// After the pause, the pool resumes at the learned 6000 RPM (one every
	// 10 ms) after a burst of a tenth of a second's worth (10), not with
	// every worker at once.
	slices.SortFunc(after, func(a, b time.Time) int { return a.Compare(b) })
	if len(after) < 30 {
		t.Fatalf("%d attempts after the 429, want at least 30", len(after))
	}
	if span := after[29].Sub(after[0]); span < 150*time.Millisecond {
		t.Errorf("the first 30 attempts after the pause span %v, want at least 150ms (a burst of 10, then one every 10ms)", span)
	}
}

func TestRun_PacesToLimits(t *testing.T) {
	for _, tt := range []struct {
		name     string
		rpm, tpm int
	}{
		{"Learned", 0, 0},
		{"Flags", 1200, 100_000},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// Buckets start empty, so any burst above 20 requests a second
			// would be answered 429.
			srv, base := startSim(t, sim.Config{RPM: 1200, TPM: 100_000, StartEmpty: true, Latency: 5 * time.Millisecond})
			dir := t.TempDir()
			obs := &attemptLog{}
			cfg := pipeline.Config{Source: pipeline.Source{Input: writeInput(t, dir, 30)}, Template: pipeline.Template{Model: "gpt-4.1-mini"}, Output: filepath.Join(dir, "out.jsonl"),
				BaseURL: base, Concurrency: 16, RPM: tt.rpm, TPM: tt.tpm, Observer: obs}
			sum, err := pipeline.Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if sum.Rows.OK != 30 {
				t.Errorf("ok %d, want 30", sum.Rows.OK)
			}
			// The first request meets the empty bucket; after that, pacing
			// keeps the endpoint from refusing more than a stray one. A
			// job that learns its limits from the answers also sends,
			// before the first answer comes back, the few requests of its
			// opening (a window that doubles every 10 ms: more of them
			// on a loaded machine, where the first answer is slow), which
			// the empty bucket may refuse too.
			opening, refusedLater := obs.split()
			allowed := 2
			if tt.rpm == 0 {
				allowed += opening
			}
			if st := srv.Stats(); st.ByStatus[429] > allowed || sum.Run.RateLimited > int64(allowed) || refusedLater > 2 {
				t.Errorf("429 answers: sim %d, summary %d, %d to requests sent after the first answer; want at most %d (%d sent before it), 2 after it",
					st.ByStatus[429], sum.Run.RateLimited, refusedLater, allowed, opening)
			}
		})
	}
}

// TestRun_ReusesConnectionsOnErrors checks that answers of every kind
// (200, 400, 429, 5xx) leave their connection reusable: the bodies are
// read to the end and closed.
func TestRun_ReusesConnectionsOnErrors(t *testing.T) {
	srv, base := startSim(t, sim.Config{Seed: 3, BadRequest: 0.2, RateLimit: 0.1, ServerError: 0.1, RetryAfter: time.Millisecond})
	var dials atomic.Int64
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 8
	d := &net.Dialer{}
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		return d.DialContext(ctx, network, addr)
	}
	dir := t.TempDir()
	cfg := pipeline.Config{Source: pipeline.Source{Input: writeInput(t, dir, 200)}, Template: pipeline.Template{Model: "gpt-4.1-mini"}, Output: filepath.Join(dir, "out.jsonl"),
		BaseURL: base, Concurrency: 4, HTTPClient: &http.Client{Transport: tr}, RetryInitial: time.Millisecond, RetryMax: 5 * time.Millisecond}
	if _, err := pipeline.Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	st := srv.Stats()
	if st.ByStatus[400] == 0 || st.ByStatus[429] == 0 {
		t.Fatalf("sim answered %v; want some 400s and 429s", st.ByStatus)
	}
	// net/http may dial a spare connection when one frees up just after a
	// dial began; a body left unread would cost a connection per answer.
	if n := dials.Load(); n > 8 {
		t.Errorf("%d connections for %d requests with concurrency 4; want at most 8 (answers drained and reused)", n, st.Requests)
	}
}

// TestRun_BurstOf429sHalvesTheWindowOnce fronts the sim with a gateway
// that holds each request 50 ms and answers 429 (retry-after-ms 300) to
// every request it answers in the 100 ms after its 60th answer, so the
// requests in flight at concurrency 16 meet a burst of 429s: the window is halved once for the pause, not once
// per 429, and the retries after the pause go out several at a time.
func TestRun_BurstOf429sHalvesTheWindowOnce(t *testing.T) {
	_, simBase := startSim(t, sim.Config{Seed: 4})
	target, err := url.Parse(strings.TrimSuffix(simBase, "/v1"))
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	var (
		mu        sync.Mutex
		n         int
		burstFrom time.Time
		burstEnd  time.Time // when the last 429 was answered
		limited   int
		inFlight  int
		after     []int // requests in flight at each arrival after the pause
	)
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		inFlight++
		if !burstEnd.IsZero() && len(after) < 8 {
			after = append(after, inFlight)
		}
		mu.Unlock()
		defer func() {
			mu.Lock()
			inFlight--
			mu.Unlock()
		}()
		time.Sleep(50 * time.Millisecond)
		mu.Lock()
		n++
		now := time.Now()
		if n == 60 {
			burstFrom = now
		}
		if !burstFrom.IsZero() && now.Sub(burstFrom) < 100*time.Millisecond {
			limited++
			burstEnd = now
			mu.Unlock()
			w.Header().Set("retry-after-ms", "300")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			io.WriteString(w, `{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}`)
			return
		}
		mu.Unlock()
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(gw.Close)

	var halvings []int
	var hmu sync.Mutex
	defer pipeline.SetHalvedHook(func(w int) {
		hmu.Lock()
		halvings = append(halvings, w)
		hmu.Unlock()
	})()
	dir := t.TempDir()
	cfg := baseConfig(dir, writeInput(t, dir, 160), gw.URL+"/v1")
	cfg.Concurrency = 16
	sum, err := pipeline.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d 429s in the burst; window halved to %v; requests in flight at the first arrivals after the pause: %v", limited, halvings, after)
	if sum.Rows.OK != 160 {
		t.Fatalf("ok %d, want 160", sum.Rows.OK)
	}
	if limited < 8 {
		// A machine loaded by other work spreads the arrivals: no burst
		// formed, so there is nothing to judge.
		t.Skipf("only %d 429s in the 100 ms window: no burst formed", limited)
	}
	if len(halvings) != 1 || halvings[0] != 8 {
		t.Errorf("window halved to %v after one burst of %d 429s, want once, to 8", halvings, limited)
	}
	// One at a time (a window halved per 429) would show 1, 1, 2, 2.
	if len(after) < 4 || slices.Max(after[:4]) < 3 {
		t.Errorf("requests in flight at the first arrivals after the pause: %v, want the halved window's several at a time", after)
	}
}

// TestRun_OpensBeforeTheFirstAnswer fronts a slow sim (400 ms an answer)
// with a gateway that counts the requests that arrive before it sends its
// first answer: a job without flags must not hold its whole --concurrency
// to one probe for a round trip, with or without x-ratelimit-* headers.
// The limits announced are far above what the job needs, so their first
// answer lets the window open fully.
func TestRun_OpensBeforeTheFirstAnswer(t *testing.T) {
	for _, tt := range []struct {
		name string
		sim  sim.Config
	}{
		{"NoHeaders", sim.Config{Seed: 5, Latency: 400 * time.Millisecond}},
		{"AmpleHeaders", sim.Config{Seed: 5, Latency: 400 * time.Millisecond, RPM: 1_000_000, TPM: 100_000_000}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv, simBase := startSim(t, tt.sim)
			target, err := url.Parse(strings.TrimSuffix(simBase, "/v1"))
			if err != nil {
				t.Fatal(err)
			}
			proxy := httputil.NewSingleHostReverseProxy(target)
			var (
				mu       sync.Mutex
				answered bool
				before   int // requests arrived before the first answer
			)
			gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				if !answered {
					before++
				}
				mu.Unlock()
				proxy.ServeHTTP(w, r)
				mu.Lock()
				answered = true
				mu.Unlock()
			}))
			t.Cleanup(gw.Close)
			dir := t.TempDir()
			cfg := baseConfig(dir, writeInput(t, dir, 64), gw.URL+"/v1")
			cfg.Concurrency = 32
			sum, err := pipeline.Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if sum.Rows.OK != 64 || srv.Stats().ByStatus[429] != 0 {
				t.Fatalf("ok %d, sim answered %v; want 64 rows ok and no 429", sum.Rows.OK, srv.Stats().ByStatus)
			}
			mu.Lock()
			defer mu.Unlock()
			// The window doubles every openingStep (10 ms) while the
			// first answer is awaited: 32 within 50 ms of the first send.
			if before < 16 {
				t.Errorf("%d requests sent before the first answer, want at least 16 of --concurrency 32", before)
			}
		})
	}
}

// attemptLog is an Observer that keeps every attempt's send and answer
// times and status.
type attemptLog struct {
	mu       sync.Mutex
	attempts []loggedAttempt
}

type loggedAttempt struct {
	sent, answered time.Time
	status         int
}

func (l *attemptLog) Start(func() pipeline.Progress) {}

func (l *attemptLog) Attempt(a pipeline.Attempt) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.attempts = append(l.attempts, loggedAttempt{sent: now.Add(-a.Latency), answered: now, status: a.Status})
}

// split returns how many attempts were sent before the first answer
// arrived, and how many attempts sent after it were answered 429.
func (l *attemptLog) split() (opening, refusedLater int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.attempts) == 0 {
		return 0, 0
	}
	first := l.attempts[0].answered
	for _, a := range l.attempts {
		if a.answered.Before(first) {
			first = a.answered
		}
	}
	for _, a := range l.attempts {
		switch {
		case a.sent.Before(first):
			opening++
		case a.status == 429:
			refusedLater++
		}
	}
	return opening, refusedLater
}
