package pipeline

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/llmbatch/llmbatch/io/api"
	"github.com/llmbatch/llmbatch/io/httpapi"
	"github.com/llmbatch/llmbatch/retry"
)

// fakeClock is a settable clock for the pacer.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time      { return c.t }
func (c *fakeClock) add(d time.Duration) { c.t = c.t.Add(d) }
func newTestPacer(cfg Config) (*pacer, *fakeClock) {
	c := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	cfg = cfg.withDefaults()
	p := newPacer(&cfg, &retry.Gate{})
	p.now = c.now
	p.mu.Lock()
	p.req, p.tok, p.rpm, p.tpm = nil, nil, 0, 0
	p.apply(c.now()) // limiters on the fake clock
	p.mu.Unlock()
	return p, c
}

// noLimits is the RateLimit of an answer without x-ratelimit-* headers.
var noLimits = httpapi.RateLimit{LimitRequests: -1, LimitTokens: -1, RemainingRequests: -1,
	RemainingTokens: -1, ResetRequests: -1, ResetTokens: -1}

// delays reserves n attempts at the same instant and returns their waits.
func delays(p *pacer, now time.Time, n int, est *estimate) []time.Duration {
	var ds []time.Duration
	for range n {
		_, d := p.reserve(now, est)
		ds = append(ds, d)
	}
	return ds
}

func TestPacer_SpreadsToRPM(t *testing.T) {
	p, c := newTestPacer(Config{RPM: 600}) // one request every 100 ms
	got := delays(p, c.now(), 5, &estimate{})
	for i, d := range got {
		if want := time.Duration(i) * 100 * time.Millisecond; d != want {
			t.Errorf("attempt %d waits %v, want %v (all: %v)", i, d, want, got)
		}
	}
}

func TestPacer_TokensAboveBurstDoNotDeadlock(t *testing.T) {
	p, c := newTestPacer(Config{TPM: 6000}) // 100 tokens a second, burst 10
	est := &estimate{done: true, input: 250, maxOut: 50}
	got := delays(p, c.now(), 2, est)
	// The first takes the 10-token burst and waits for the other 290; the
	// second waits for its 300 more.
	if got[0] != 2900*time.Millisecond || got[1] != 5900*time.Millisecond {
		t.Errorf("waits = %v, want [2.9s 5.9s]", got)
	}
}

func TestPacer_LearnsLimitsFromHeaders(t *testing.T) {
	p, c := newTestPacer(Config{Concurrency: 8})
	if p.window != 1 {
		t.Fatalf("window before the first answer = %d, want 1 (one probe request)", p.window)
	}
	tk, _ := p.reserve(c.now(), &estimate{})
	p.inflight++
	rl := httpapi.RateLimit{LimitRequests: 1200, LimitTokens: 90_000, RemainingRequests: 1199,
		RemainingTokens: 89_000, ResetRequests: 50 * time.Millisecond, ResetTokens: time.Second}
	p.end(tk, &httpapi.Answer{StatusCode: 200, RateLimit: rl}, nil)
	if p.rpm != 1200 || p.tpm != 90_000 {
		t.Errorf("paced to rpm %d tpm %d, want 1200 and 90000", p.rpm, p.tpm)
	}
	if p.window != 8 {
		t.Errorf("window after one answer with room for 1199 requests = %d, want 8 (all of --concurrency)", p.window)
	}
	c.add(time.Second)
	got := delays(p, c.now(), 3, &estimate{})
	want := []time.Duration{0, 0, 50 * time.Millisecond} // burst: a tenth of a second's worth
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("waits after learning 1200 RPM = %v, want %v", got, want)
			break
		}
	}

	// A flag stricter than the endpoint's limit wins.
	p2, _ := newTestPacer(Config{RPM: 60})
	p2.end(&ticket{}, &httpapi.Answer{StatusCode: 200, RateLimit: rl}, nil)
	if p2.rpm != 60 {
		t.Errorf("rpm = %d with --rpm 60 and a learned 1200, want 60", p2.rpm)
	}

	// An endpoint that announces no limits is not paced, and the window
	// opens at once.
	p3, _ := newTestPacer(Config{Concurrency: 8})
	p3.end(&ticket{}, &httpapi.Answer{StatusCode: 200, RateLimit: noLimits}, nil)
	if p3.req != nil || p3.tok != nil || p3.window != 8 {
		t.Errorf("no headers: req %v tok %v window %d, want no limiters and window 8", p3.req, p3.tok, p3.window)
	}
}

func TestPacer_SlowsDownWhenRemainingIsLow(t *testing.T) {
	p, c := newTestPacer(Config{RPM: 6000}) // 100 a second, burst 10
	c.add(time.Second)
	tk, _ := p.reserve(c.now(), &estimate{}) // leaves 9
	// Another client uses the same limit: the endpoint has 2 left.
	rl := noLimits
	rl.RemainingRequests = 2
	p.end(tk, &httpapi.Answer{StatusCode: 200, RateLimit: rl}, nil)
	got := delays(p, c.now(), 4, &estimate{})
	if got[1] != 0 || got[2] != 10*time.Millisecond {
		t.Errorf("waits with 2 left = %v, want the second at 0 and the third at 10ms", got)
	}
}

func TestPacer_RateLimitPausesAndResumesGradually(t *testing.T) {
	p, c := newTestPacer(Config{RPM: 6000, Concurrency: 16}) // 100 a second, burst 10
	p.window = 16
	c.add(time.Second)
	tk, _ := p.reserve(c.now(), &estimate{})
	rl := httpapi.RateLimit{LimitRequests: 6000, RemainingRequests: 0, ResetRequests: time.Minute,
		LimitTokens: -1, RemainingTokens: -1, ResetTokens: -1}
	e := &httpapi.Error{Class: httpapi.Retryable, StatusCode: 429, RateLimited: true}
	p.end(tk, &httpapi.Answer{StatusCode: 429, RateLimit: rl}, e)
	if p.window != 8 {
		t.Errorf("window after a 429 = %d, want 8 (halved)", p.window)
	}
	// With no Retry-After, the pause comes from the headers: the time one
	// request needs at 6000 a minute.
	if d := p.pauseFor(rl, tk); d != 10*time.Millisecond {
		t.Errorf("pauseFor() = %v, want 10ms", d)
	}
	// The buckets were drained: after a 200 ms pause the workers get one
	// burst's worth (what the endpoint refilled meanwhile), then one every
	// 10 ms, not all at once.
	c.add(200 * time.Millisecond)
	got := delays(p, c.now(), 14, &estimate{})
	for i, d := range got {
		want := time.Duration(max(0, i-9)) * 10 * time.Millisecond
		if d != want {
			t.Errorf("attempt %d after the pause waits %v, want %v (all: %v)", i, d, want, got)
			break
		}
	}
}

func TestPacer_CorrectsTokensFromUsage(t *testing.T) {
	p, c := newTestPacer(Config{TPM: 60_000}) // 1000 a second, burst 100
	c.add(time.Second)
	est := &estimate{done: true, input: 50, maxOut: 16}
	tk, _ := p.reserve(c.now(), est) // charged 66
	// The endpoint counted 80 input tokens: 30 more are owed, and later
	// estimates are scaled up.
	p.end(tk, &httpapi.Answer{StatusCode: 200, RateLimit: noLimits, Result: api.Result{Usage: api.Usage{InputTokens: 80, OutputTokens: 3}}}, nil)
	if lvl := p.tok.TokensAt(c.now()); lvl != 100-66-30 {
		t.Errorf("tokens left = %v, want %v", lvl, 100-66-30)
	}
	if p.ratio <= 1 {
		t.Errorf("ratio = %v, want above 1 after an underestimate", p.ratio)
	}
	// An overestimate becomes credit for the next request.
	tk, _ = p.reserve(c.now(), est)
	p.end(tk, &httpapi.Answer{StatusCode: 200, RateLimit: noLimits, Result: api.Result{Usage: api.Usage{InputTokens: 10}}}, nil)
	if p.credit <= 0 {
		t.Errorf("credit = %v after an overestimate, want > 0", p.credit)
	}
}

func TestPacer_BeginStopsWithContext(t *testing.T) {
	p, _ := newTestPacer(Config{Concurrency: 4})
	p.window = 1
	p.inflight = 1 // the probe is out
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.begin(ctx, nil, &estimate{}); !errors.Is(err, context.Canceled) {
		t.Errorf("begin() = %v, want context.Canceled", err)
	}
}

// TestPacer_BeginWaitsForThePause: with a free slot and no bucket (the
// quick admission), an attempt still waits while the pool is paused, and
// a done context still stops it.
func TestPacer_BeginWaitsForThePause(t *testing.T) {
	p, _ := newTestPacer(Config{Concurrency: 4})
	p.gate.PauseFor(time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if tk, err := p.begin(ctx, nil, &estimate{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("begin during a pause = %v, %v; want it to wait until the context ends", tk, err)
	}
	p2, _ := newTestPacer(Config{Concurrency: 4})
	done, stop := context.WithCancel(context.Background())
	stop()
	if _, err := p2.begin(done, nil, &estimate{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("begin with a done context = %v", err)
	}
	if tk, err := p2.begin(context.Background(), nil, &estimate{}); err != nil || tk == nil || p2.inflight != 1 {
		t.Fatalf("begin = %v, %v; in flight %d", tk, err, p2.inflight)
	}
}

// TestPacer_HalvesOncePerPause: a burst of 429s to attempts that were all
// in flight when the first arrived halves the window once; a 429 to an
// attempt sent after that halves it again.
func TestPacer_HalvesOncePerPause(t *testing.T) {
	p, c := newTestPacer(Config{Concurrency: 16})
	p.window = 16
	c.add(time.Second)
	var burst []*ticket
	for range 16 {
		tk, _ := p.reserve(c.now(), &estimate{})
		p.inflight++
		burst = append(burst, tk)
	}
	e := &httpapi.Error{Class: httpapi.Retryable, StatusCode: 429, RateLimited: true, RetryAfter: time.Second}
	limited := &httpapi.Answer{StatusCode: 429, RateLimit: noLimits}
	for i, tk := range burst {
		c.add(time.Millisecond)
		p.end(tk, limited, e)
		if p.window != 8 {
			t.Fatalf("window after %d 429s of one burst = %d, want 8 (halved once)", i+1, p.window)
		}
	}
	// The next attempt, sent after the burst, is limited again: a new pause.
	tk, _ := p.reserve(c.now(), &estimate{})
	p.inflight++
	p.end(tk, limited, e)
	if p.window != 4 || p.halvings != 2 {
		t.Errorf("window %d after a 429 to an attempt sent after the burst, %d halvings; want 4 and 2", p.window, p.halvings)
	}
}

// TestPacer_NoHalvingForAttemptsSentBeforeThePauseEnds: an attempt sent
// while the pool's pause still runs (before its end) is part of it.
func TestPacer_NoHalvingForAttemptsSentBeforeThePauseEnds(t *testing.T) {
	p, c := newTestPacer(Config{Concurrency: 16})
	p.window = 16
	e := &httpapi.Error{Class: httpapi.Retryable, StatusCode: 429, RateLimited: true}
	limited := &httpapi.Answer{StatusCode: 429, RateLimit: noLimits}
	first, _ := p.reserve(c.now(), &estimate{})
	p.inflight++
	p.end(first, limited, e)
	p.gate.PauseFor(time.Hour) // the pool's pause after the first 429
	// An attempt admitted after the halving but before the pause ends (it
	// raced the pause's start) belongs to the same pause.
	tk, _ := p.reserve(c.now(), &estimate{})
	p.inflight++
	p.end(tk, limited, e)
	if p.window != 8 || p.halvings != 1 {
		t.Errorf("window %d, %d halvings; want 8 and 1", p.window, p.halvings)
	}
}

// TestPacer_FirstAnswerSetsTheWindow: the first answer opens the window as
// far as its headers allow.
func TestPacer_FirstAnswerSetsTheWindow(t *testing.T) {
	limits := func(reqs, toks int64) httpapi.RateLimit {
		return httpapi.RateLimit{LimitRequests: 10_000, RemainingRequests: reqs, ResetRequests: time.Second,
			LimitTokens: 1_000_000, RemainingTokens: toks, ResetTokens: time.Second}
	}
	usage := api.Usage{InputTokens: 84, OutputTokens: 16, TotalTokens: 100}
	for _, tt := range []struct {
		name string
		rl   httpapi.RateLimit
		want int
	}{
		{"NoHeaders", noLimits, 64},
		{"AmpleRoom", limits(9_999, 999_900), 64},
		{"FewRequestsLeft", limits(5, 999_900), 5},
		{"FewTokensLeft", limits(9_999, 1_234), 12}, // 100 tokens a request
		{"NothingLeft", limits(0, 0), 1},
		{"OnlyRequestHeaders", httpapi.RateLimit{LimitRequests: 100, RemainingRequests: 40, ResetRequests: time.Second,
			LimitTokens: -1, RemainingTokens: -1, ResetTokens: -1}, 40},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, c := newTestPacer(Config{Concurrency: 64})
			tk := admit(t, p, c)
			c.add(300 * time.Millisecond)
			p.end(tk, &httpapi.Answer{StatusCode: 200, RateLimit: tt.rl, Result: api.Result{Status: "completed", Usage: usage}}, nil)
			if p.window != tt.want {
				t.Errorf("window after the first answer = %d, want %d", p.window, tt.want)
			}
		})
	}
}

// admit takes a slot and a reservation for one attempt, as begin does.
func admit(t *testing.T, p *pacer, c *fakeClock) *ticket {
	t.Helper()
	if err := p.acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	tk, _ := p.reserve(c.now(), &estimate{})
	return tk
}

// TestPacer_OpensWhileWaitingForTheFirstAnswer: before any answer the
// window doubles every openingStep from the first admission, so a slow
// endpoint does not hold the job to one request for a whole round trip.
func TestPacer_OpensWhileWaitingForTheFirstAnswer(t *testing.T) {
	p, c := newTestPacer(Config{Concurrency: 100})
	p.mu.Lock()
	if d := p.open(c.now()); d != -1 || p.window != 1 {
		t.Fatalf("before the first admission: window %d, next growth in %v; want 1 and none (-1)", p.window, d)
	}
	p.mu.Unlock()
	admit(t, p, c)
	for _, tt := range []struct {
		at     time.Duration
		window int
		next   time.Duration
	}{
		{0, 1, openingStep},
		{openingStep / 2, 1, openingStep / 2},
		{openingStep, 2, openingStep},
		{3 * openingStep, 8, openingStep},
		{6 * openingStep, 64, openingStep},
		{7 * openingStep, 100, -1},
	} {
		c.t = p.opened.Add(tt.at)
		p.mu.Lock()
		next := p.open(c.now())
		w := p.window
		p.mu.Unlock()
		if w != tt.window || next != tt.next {
			t.Errorf("%v after the first admission: window %d, next growth in %v; want %d and %v", tt.at, w, next, tt.window, tt.next)
		}
	}
	// The first answer then bounds it, even below the requests in flight.
	rl := httpapi.RateLimit{LimitRequests: 100, RemainingRequests: 3, ResetRequests: time.Second,
		LimitTokens: -1, RemainingTokens: -1, ResetTokens: -1}
	p.inflight = 90
	p.end(&ticket{}, &httpapi.Answer{StatusCode: 200, RateLimit: rl}, nil)
	if p.window != 3 {
		t.Errorf("window after a first answer with 3 requests left = %d, want 3", p.window)
	}
	c.add(time.Hour)
	p.mu.Lock()
	p.open(c.now())
	p.mu.Unlock()
	if p.window != 3 {
		t.Errorf("window an hour after the first answer = %d, want 3 (time opens it only before an answer)", p.window)
	}
}
