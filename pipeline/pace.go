package pipeline

import (
	"context"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/llmbatch/llmbatch/io/httpapi"
	"github.com/llmbatch/llmbatch/io/tokens"
	"github.com/llmbatch/llmbatch/retry"
)

// pacingBurst is how much of a limit the pacer lets out at once: a tenth
// of a second's worth (at least one request). A small burst keeps sends
// smooth, which is what an endpoint that enforces its per-minute limits
// over shorter windows wants; workers queue on the limiter, so no slot is
// lost to it.
const pacingBurst = 100 * time.Millisecond

// openingStep is how often the window doubles while the job waits for its
// first answer: from one request when the first attempt is admitted to
// 1,024 in ten steps (100 ms; 25 ms steps cost a 2 s-latency job 1.3 % of
// its rate, BenchmarkOpening). An endpoint that answers (or refuses) within a few
// steps tells the pacer its limits before more than a few requests are
// out; a slow one does not hold the job for a whole round trip.
const openingStep = 10 * time.Millisecond

// maxChunks bounds the reservations one take makes (a cost far above the
// burst is taken in burst-sized chunks).
const maxChunks = 1 << 16

// pacer decides when a worker may send. It holds one token bucket
// (*rate.Limiter) per limited dimension, requests and tokens, set from
// Config.RPM and Config.TPM and from the endpoint's x-ratelimit-* headers
// (the stricter wins), and a window on attempts in flight. With --rpm or
// --tpm given the window is Config.Concurrency from the start. Otherwise
// the job opens with one request and, until the first answer arrives, the
// window doubles every openingStep. The first answer then sets it from its
// headers: Config.Concurrency when it carries no x-ratelimit-* headers
// (nothing to learn; a 429 still halves it) or when its remaining requests
// and tokens cover that many requests; else as many requests as they cover
// (at least one), and from there one more per answer (doubling every round
// trip). Attempts already in flight above that bound finish; no more are
// sent until the window has room. A
// rate-limit answer drains the buckets, so that when the pool's pause
// (retry.Gate) ends, sends resume at the limit's pace instead of all at
// once, and halves the window once per pause: a burst of rate-limit answers
// to attempts sent before the window was last halved, or before the pool's
// current pause ends, belongs to that pause and does not halve it again.
//
// Token costs are estimated before sending (io/tokens' estimate of the
// input, scaled by what the endpoint's usage showed for earlier requests,
// plus max_output_tokens when the body sets it) and corrected when the
// answer arrives: the real input tokens, plus max_output_tokens when set
// (that is what the endpoint holds against the limit) or else the real
// output tokens. Whenever an answer reports fewer remaining requests or
// tokens than the pacer believed it had, it takes the difference, so
// another client sharing the limit, or an endpoint that counts differently,
// slows the job down before a 429.
//
// A pacer is safe for concurrent use.
type pacer struct {
	gate    *retry.Gate
	maxConc int
	flagRPM int64 // Config.RPM; 0: none
	flagTPM int64
	now     func() time.Time
	counter *tokens.Counter // nil until a token limit is in force

	mu         sync.Mutex
	req, tok   *rate.Limiter // nil: that dimension is not paced
	rpm, tpm   int64         // the limits req and tok pace to
	learnedRPM int64         // from x-ratelimit-limit-*; 0: unknown
	learnedTPM int64
	shares     int64     // Config.Shards (at least 1): learned limits are the whole job's, shared
	answered   bool      // an answer has arrived: the opening is over
	opened     time.Time // when the first attempt was admitted; zero before
	window     int       // attempts allowed in flight
	inflight   int
	admitted   uint64        // attempts admitted so far: ticket.seq
	halvedAt   uint64        // admitted when the window was last halved
	halvings   int           // times the window was halved
	wake       chan struct{} // closed when a slot frees or the window grows
	credit     float64       // tokens charged beyond what answers showed
	ratio      float64       // endpoint's input tokens / our estimate
}

// estimate is a request's token cost estimate, computed once and kept
// across its attempts.
type estimate struct {
	done   bool
	input  float64 // io/tokens' estimate of the input
	maxOut int64   // max_output_tokens; 0 when unset
}

// ticket is one attempt's admission by the pacer.
type ticket struct {
	seq      uint64    // admission order
	sentAt   time.Time // wall clock at admission, to compare with the gate's pause
	est      *estimate
	lim      *rate.Limiter // the token limiter charged, or nil
	tokens   float64       // tokens charged to lim, credit included
	credit   float64       // of which taken from the credit
	reqLim   *rate.Limiter
	reqLevel float64 // reqLim's level right after the take
	tokLevel float64 // lim's level right after the take
	chunks   []*rate.Reservation
}

func newPacer(cfg *Config, gate *retry.Gate) *pacer {
	p := &pacer{gate: gate, maxConc: cfg.Concurrency, flagRPM: int64(cfg.RPM), flagTPM: int64(cfg.TPM),
		now: time.Now, window: 1, ratio: 1, shares: int64(max(cfg.Shards, 1))}
	if p.flagRPM > 0 || p.flagTPM > 0 {
		p.window = p.maxConc // the limits are known: the buckets pace from the start
	}
	p.mu.Lock()
	p.apply(p.now())
	p.mu.Unlock()
	return p
}

// begin waits until the attempt may be sent: a free slot in the window,
// the gate open, and room in the buckets. It returns early with ctx's error
// when ctx is done. The caller must pass the ticket to end.
func (p *pacer) begin(ctx context.Context, req *Request, est *estimate) (*ticket, error) {
	if t := p.admit(ctx, est); t != nil {
		return t, nil
	}
	if err := p.acquire(ctx); err != nil {
		return nil, err
	}
	t, err := p.take(ctx, req, est)
	if err != nil {
		p.mu.Lock()
		p.release()
		p.mu.Unlock()
		return nil, err
	}
	return t, nil
}

// admit is begin when nothing makes the attempt wait: the gate is open,
// the window has room, and no bucket paces (no --rpm or --tpm, no limit
// learned), as with a local server; one lock instead of the five acquire
// and take need. It returns nil when begin must take the long way.
func (p *pacer) admit(ctx context.Context, est *estimate) *ticket {
	if ctx.Err() != nil {
		return nil
	}
	now := p.now()
	if p.gate != nil && !p.gate.Open() {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.open(now)
	if p.inflight >= p.window || p.req != nil || p.tok != nil {
		return nil
	}
	p.occupy(now)
	t := &ticket{est: est}
	p.stamp(t)
	return t
}

// occupy takes a slot of the window at now, the first one opening it;
// p.mu must be held and the window must have room.
func (p *pacer) occupy(now time.Time) {
	p.inflight++
	if p.opened.IsZero() {
		p.opened = now
	}
}

// acquire takes a slot of the window.
func (p *pacer) acquire(ctx context.Context) error {
	for {
		p.mu.Lock()
		now := p.now()
		grow := p.open(now)
		if p.inflight < p.window {
			p.occupy(now)
			p.mu.Unlock()
			return nil
		}
		if p.wake == nil {
			p.wake = make(chan struct{})
		}
		w := p.wake
		p.mu.Unlock()
		var timeout <-chan time.Time
		var timer *time.Timer
		if grow > 0 {
			timer = time.NewTimer(grow)
			timeout = timer.C
		}
		select {
		case <-w:
		case <-timeout:
		case <-ctx.Done():
		}
		if timer != nil {
			timer.Stop()
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// open grows the window before the first answer: it doubles every
// openingStep since the first attempt was admitted. It returns how long
// until it grows next, or -1 when it will not grow before an answer
// arrives; p.mu must be held.
func (p *pacer) open(now time.Time) time.Duration {
	if p.answered || p.window >= p.maxConc || p.opened.IsZero() {
		return -1
	}
	steps := int(now.Sub(p.opened) / openingStep)
	if steps >= 30 {
		p.window = p.maxConc
		return -1
	}
	p.window = max(p.window, min(p.maxConc, 1<<steps))
	if p.window >= p.maxConc {
		return -1
	}
	return p.opened.Add(time.Duration(steps+1) * openingStep).Sub(now)
}

// firstWindow is the window the first answer allows: Config.Concurrency
// unless its headers show room for fewer requests, then that many (at
// least one). A request's tokens are what the answer's usage counted, or
// what the attempt was charged when that is more.
func (p *pacer) firstWindow(t *ticket, ans *httpapi.Answer) int {
	rl := ans.RateLimit
	w := int64(p.maxConc)
	if rl.RemainingRequests >= 0 {
		w = min(w, rl.RemainingRequests)
	}
	u := ans.Result.Usage
	per := u.InputTokens + u.OutputTokens
	if t.est != nil && t.est.maxOut > 0 {
		per = max(per, u.InputTokens+t.est.maxOut)
	}
	per = max(per, int64(math.Ceil(t.tokens)))
	if rl.RemainingTokens >= 0 && per > 0 {
		w = min(w, rl.RemainingTokens/per)
	}
	return int(max(w, 1))
}

// release frees a slot; p.mu must be held.
func (p *pacer) release() {
	p.inflight--
	p.signal()
}

// signal wakes the goroutines waiting for a slot; p.mu must be held.
func (p *pacer) signal() {
	if p.wake != nil {
		close(p.wake)
		p.wake = nil
	}
}

// take waits for the gate and reserves one request and the attempt's
// token cost. A pause that begins while it waits for its reservation
// cancels the reservation and sends it back to the gate.
func (p *pacer) take(ctx context.Context, req *Request, est *estimate) (*ticket, error) {
	for {
		if p.gate != nil {
			if err := p.gate.Wait(ctx); err != nil {
				return nil, err
			}
		}
		var changed <-chan struct{}
		if p.gate != nil {
			changed = p.gate.Changed()
		}
		p.mu.Lock()
		needEstimate := p.tok != nil && !est.done
		p.mu.Unlock()
		if needEstimate {
			p.estimate(req, est)
		}
		now := p.now()
		t, delay := p.reserve(now, est)
		if delay <= 0 {
			return t, nil
		}
		timer := time.NewTimer(delay)
		select {
		case <-timer.C:
			if p.gate != nil && p.gate.Until().After(p.now()) {
				// Paused meanwhile: the slot is spent; send after the pause.
				if err := p.gate.Wait(ctx); err != nil {
					p.cancel(t)
					return nil, err
				}
				p.mu.Lock()
				p.stamp(t) // sent after the pause: a new one if limited again
				p.mu.Unlock()
			}
			return t, nil
		case <-changed:
			timer.Stop()
			p.cancel(t)
		case <-ctx.Done():
			timer.Stop()
			p.cancel(t)
			return nil, ctx.Err()
		}
	}
}

// reserve charges one attempt to the buckets at now and returns how long
// the attempt must wait before it is sent.
func (p *pacer) reserve(now time.Time, est *estimate) (*ticket, time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t := &ticket{est: est}
	p.stamp(t)
	var delay time.Duration
	if p.req != nil {
		t.reqLim = p.req
		r := p.req.ReserveN(now, 1)
		t.chunks = append(t.chunks, r)
		delay = r.DelayFrom(now)
		t.reqLevel = p.req.TokensAt(now)
	}
	if p.tok != nil && est.done {
		n := p.cost(est)
		t.credit = min(p.credit, n)
		p.credit -= t.credit
		t.lim, t.tokens = p.tok, n
		rs, d := takeN(p.tok, now, n-t.credit)
		t.chunks = append(t.chunks, rs...)
		delay = max(delay, d)
		t.tokLevel = p.tok.TokensAt(now)
	}
	return t, delay
}

// stamp marks t as admitted now; p.mu must be held.
func (p *pacer) stamp(t *ticket) {
	p.admitted++
	t.seq, t.sentAt = p.admitted, time.Now()
}

// cost is the tokens an attempt is charged before it is sent.
func (p *pacer) cost(est *estimate) float64 {
	return math.Ceil(est.input*p.ratio) + float64(est.maxOut)
}

// cancel gives back what t reserved, as far as later reservations allow.
func (p *pacer) cancel(t *ticket) {
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := len(t.chunks) - 1; i >= 0; i-- {
		t.chunks[i].CancelAt(now)
	}
	p.credit += t.credit
}

// takeN reserves n units of lim at now, in chunks no larger than its burst
// (so that a cost above the burst waits instead of failing), and returns
// the reservations and the wait until the last one.
func takeN(lim *rate.Limiter, now time.Time, n float64) ([]*rate.Reservation, time.Duration) {
	units := int(math.Ceil(n))
	if units <= 0 {
		return nil, 0
	}
	b := max(lim.Burst(), 1)
	if units/b > maxChunks {
		b = units/maxChunks + 1
	}
	var rs []*rate.Reservation
	var d time.Duration
	for units > 0 {
		k := min(units, b)
		r := lim.ReserveN(now, k)
		if !r.OK() { // k above the burst: only when b was raised for a huge cost
			break
		}
		rs = append(rs, r)
		d = max(d, r.DelayFrom(now))
		units -= k
	}
	return rs, d
}

// estimate fills est from the request, as its API meters it.
func (p *pacer) estimate(req *Request, est *estimate) {
	p.mu.Lock()
	c := p.counter
	p.mu.Unlock()
	if c == nil {
		var err error
		if c, err = tokens.New(); err != nil {
			c = nil
		}
		p.mu.Lock()
		p.counter = c
		p.mu.Unlock()
	}
	m := req.cost(c)
	est.maxOut = max(m.MaxOutput, 0)
	est.input = float64(m.InputTokens)
	est.done = true
}

// end records an attempt's outcome: it frees the attempt's slot, learns
// limits from the answer's headers, corrects the token charge from its
// usage, and slows down when the endpoint has less left than the pacer
// believed. ans is nil when no HTTP answer arrived.
func (p *pacer) end(t *ticket, ans *httpapi.Answer, err error) {
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.release()
	if ans == nil {
		return
	}
	e := httpapi.AsError(err)
	limited := e != nil && e.RateLimited
	rl := ans.RateLimit
	first := !p.answered
	p.answered = true
	// The limits the headers announce are the key's, which every shard
	// of the job shares (an Indexed Job's pods have one Secret): each
	// shard paces to its share.
	if rl.LimitRequests > 0 {
		p.learnedRPM = max(rl.LimitRequests/p.shares, 1)
	}
	if rl.LimitTokens > 0 {
		p.learnedTPM = max(rl.LimitTokens/p.shares, 1)
	}
	newReq, newTok := p.apply(now)

	if first && p.flagRPM <= 0 && p.flagTPM <= 0 {
		p.window = p.firstWindow(t, ans)
	}
	switch {
	case limited:
		// Once per pause: not for an attempt sent before the last halving
		// or before the current pause ends.
		if t.seq > p.halvedAt && (p.gate == nil || !t.sentAt.Before(p.gate.Until())) {
			p.window = max(1, p.window/2)
			p.halvedAt = p.admitted
			p.halvings++
			if testHookHalved != nil {
				testHookHalved(p.window)
			}
		}
	case first: // the headers set the window
	case p.window < p.maxConc:
		p.window++
	}
	p.signal()

	// Correct the token charge from the usage of an answered request.
	if t.lim != nil && t.lim == p.tok && !limited && ans.StatusCode/100 == 2 && ans.Result.Usage.InputTokens > 0 {
		in := float64(ans.Result.Usage.InputTokens)
		real := in
		if t.est.maxOut > 0 {
			real += float64(t.est.maxOut)
		} else {
			real += float64(ans.Result.Usage.OutputTokens)
		}
		delta := real - t.tokens
		if delta > 0 {
			takeN(p.tok, now, delta)
		} else {
			p.credit += -delta
		}
		t.tokLevel -= delta
		if t.est.input > 0 {
			p.ratio = min(max(0.8*p.ratio+0.2*in/t.est.input, 0.25), 4)
		}
	}

	// Slow down when the endpoint has less left than the pacer thought it
	// had when this request was sent (a fresh limiter: than it has now).
	if p.req != nil && rl.RemainingRequests >= 0 {
		level := t.reqLevel
		if newReq || t.reqLim != p.req {
			level = p.req.TokensAt(now)
		}
		if r := float64(rl.RemainingRequests); r < level {
			takeN(p.req, now, level-r)
		}
	}
	if p.tok != nil && rl.RemainingTokens >= 0 {
		level := t.tokLevel
		if newTok || t.lim != p.tok {
			level = p.tok.TokensAt(now)
		}
		if r := float64(rl.RemainingTokens); r < level {
			takeN(p.tok, now, level-r)
		}
	}

	if limited {
		drain(p.req, now)
		drain(p.tok, now)
	}
}

// testHookHalved, when set by a test, is called with the new window each
// time the window is halved.
var testHookHalved func(window int)

// drain takes whatever lim holds, so that it refills from empty.
func drain(lim *rate.Limiter, now time.Time) {
	if lim == nil {
		return
	}
	if n := math.Floor(lim.TokensAt(now)); n >= 1 {
		takeN(lim, now, n)
	}
}

// apply sets the buckets to the stricter of the configured and learned
// limits, and reports which bucket it created; p.mu must be held.
func (p *pacer) apply(now time.Time) (newReq, newTok bool) {
	var rpm, tpm int64
	rpm = stricter(p.flagRPM, p.learnedRPM)
	tpm = stricter(p.flagTPM, p.learnedTPM)
	p.req, newReq = setLimit(p.req, now, rpm, p.rpm)
	p.tok, newTok = setLimit(p.tok, now, tpm, p.tpm)
	p.rpm, p.tpm = rpm, tpm
	return newReq, newTok
}

func stricter(a, b int64) int64 {
	switch {
	case a <= 0:
		return max(b, 0)
	case b <= 0:
		return a
	}
	return min(a, b)
}

// setLimit returns lim paced to perMinute (a new limiter if lim is nil),
// and whether it is new.
func setLimit(lim *rate.Limiter, now time.Time, perMinute, old int64) (*rate.Limiter, bool) {
	if perMinute <= 0 {
		return lim, false
	}
	r := rate.Limit(float64(perMinute) / 60)
	burst := max(1, int(math.Ceil(float64(r)*pacingBurst.Seconds())))
	if lim == nil {
		return rate.NewLimiter(r, burst), true
	}
	if perMinute != old {
		lim.SetLimitAt(now, r)
		lim.SetBurstAt(now, burst)
	}
	return lim, false
}

// pauseFor is how long the pool should pause after a rate-limit answer
// that named no wait: for each dimension that had too little left, the
// time until this attempt's need fits again, computed from the limit, the
// remaining count and the reset time (time until the bucket is full); the
// reset time itself when only it is known. 0 when the headers say nothing.
func (p *pacer) pauseFor(rl httpapi.RateLimit, t *ticket) time.Duration {
	need := 1.0
	if t != nil && t.tokens > 0 {
		need = t.tokens
	}
	return max(untilFits(rl.LimitRequests, rl.RemainingRequests, rl.ResetRequests, 1),
		untilFits(rl.LimitTokens, rl.RemainingTokens, rl.ResetTokens, need))
}

func untilFits(limit, remaining int64, reset time.Duration, need float64) time.Duration {
	if reset <= 0 {
		return 0
	}
	if limit <= 0 || remaining < 0 || remaining >= limit {
		if remaining >= 0 && float64(remaining) >= need {
			return 0
		}
		return reset
	}
	if float64(remaining) >= need {
		return 0
	}
	perSec := float64(limit-remaining) / reset.Seconds()
	d := time.Duration((need - float64(remaining)) / perSec * float64(time.Second))
	return min(d, reset)
}
