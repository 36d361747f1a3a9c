package sim

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// bucket is one per-minute limit: it holds up to capacity units and refills
// continuously at capacity per minute. It starts full, or empty.
type bucket struct {
	capacity float64
	level    float64
	last     time.Time
}

func newBucket(perMinute int, empty bool) *bucket {
	if perMinute <= 0 {
		return nil
	}
	b := &bucket{capacity: float64(perMinute), level: float64(perMinute)}
	if empty {
		b.level = 0
	}
	return b
}

// perSecond is the refill rate.
func (b *bucket) perSecond() float64 { return b.capacity / 60 }

// advance refills b up to now. A clock that goes backwards refills nothing.
func (b *bucket) advance(now time.Time) {
	if b.last.IsZero() {
		b.last = now
		return
	}
	if dt := now.Sub(b.last); dt > 0 {
		b.level = math.Min(b.capacity, b.level+dt.Seconds()*b.perSecond())
		b.last = now
	}
}

// epsilon absorbs float rounding so that waiting exactly the announced time
// is always enough.
const epsilon = 1e-6

// wait is how long until n units fit (0 if they fit now).
func (b *bucket) wait(n float64) time.Duration {
	if b.level+epsilon >= n {
		return 0
	}
	return ceilMillis((n - b.level) / b.perSecond())
}

// untilFull is how long until b is full again.
func (b *bucket) untilFull() time.Duration {
	if b.level+epsilon >= b.capacity {
		return 0
	}
	return ceilMillis((b.capacity - b.level) / b.perSecond())
}

// ceilMillis converts seconds to a Duration rounded up to a whole millisecond.
func ceilMillis(sec float64) time.Duration {
	return time.Duration(math.Ceil(sec*1000-epsilon)) * time.Millisecond
}

// limits is the state of both buckets after a decision, as the
// x-ratelimit-* headers report it.
type limits struct {
	req, tok     bool // whether each dimension is limited
	reqLimit     int
	reqRemaining int
	reqReset     time.Duration
	tokLimit     int
	tokRemaining int
	tokReset     time.Duration
}

// setHeaders writes the x-ratelimit-* headers for the limited dimensions.
func (l limits) setHeaders(h http.Header) {
	if l.req {
		h.Set("x-ratelimit-limit-requests", strconv.Itoa(l.reqLimit))
		h.Set("x-ratelimit-remaining-requests", strconv.Itoa(l.reqRemaining))
		h.Set("x-ratelimit-reset-requests", l.reqReset.String())
	}
	if l.tok {
		h.Set("x-ratelimit-limit-tokens", strconv.Itoa(l.tokLimit))
		h.Set("x-ratelimit-remaining-tokens", strconv.Itoa(l.tokRemaining))
		h.Set("x-ratelimit-reset-tokens", l.tokReset.String())
	}
}

// denial describes a request the limiter refused.
type denial struct {
	dimension string        // "requests" or "tokens"
	limit     int           // the bucket's capacity
	used      int           // capacity minus what is left
	requested int           // what the request needed
	wait      time.Duration // until it would fit; 0 if it never can
	tooLarge  bool          // requested > limit: it never fits
}

// limiter enforces RPM and TPM. It is safe for concurrent use.
type limiter struct {
	mu  sync.Mutex
	req *bucket // nil: unlimited
	tok *bucket // nil: unlimited
}

func newLimiter(rpm, tpm int, empty bool) *limiter {
	return &limiter{req: newBucket(rpm, empty), tok: newBucket(tpm, empty)}
}

// enabled reports whether any dimension is limited.
func (l *limiter) enabled() bool { return l.req != nil || l.tok != nil }

// take admits a request of the given token cost at now, consuming one
// request and cost tokens, or refuses it and consumes nothing.
func (l *limiter) take(now time.Time, cost int64) (*denial, limits) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.advance(now)
	var d *denial
	if l.req != nil {
		if w := l.req.wait(1); w > 0 {
			d = &denial{dimension: "requests", limit: int(l.req.capacity), used: used(l.req), requested: 1, wait: w}
		}
	}
	if l.tok != nil {
		switch n := float64(cost); {
		case n > l.tok.capacity:
			d = &denial{dimension: "tokens", limit: int(l.tok.capacity), used: used(l.tok), requested: int(cost), tooLarge: true}
		default:
			if w := l.tok.wait(n); w > 0 && (d == nil || w > d.wait) {
				d = &denial{dimension: "tokens", limit: int(l.tok.capacity), used: used(l.tok), requested: int(cost), wait: w}
			}
		}
	}
	if d == nil {
		if l.req != nil {
			l.req.level--
		}
		if l.tok != nil {
			l.tok.level -= float64(cost)
		}
	}
	return d, l.snapshot()
}

// peek reports the limits at now without consuming anything.
func (l *limiter) peek(now time.Time) limits {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.advance(now)
	return l.snapshot()
}

func (l *limiter) advance(now time.Time) {
	if l.req != nil {
		l.req.advance(now)
	}
	if l.tok != nil {
		l.tok.advance(now)
	}
}

// snapshot must be called with l.mu held.
func (l *limiter) snapshot() limits {
	var s limits
	if b := l.req; b != nil {
		s.req, s.reqLimit, s.reqRemaining, s.reqReset = true, int(b.capacity), remaining(b), b.untilFull()
	}
	if b := l.tok; b != nil {
		s.tok, s.tokLimit, s.tokRemaining, s.tokReset = true, int(b.capacity), remaining(b), b.untilFull()
	}
	return s
}

func remaining(b *bucket) int { return max(0, int(math.Floor(b.level+epsilon))) }

func used(b *bucket) int { return int(b.capacity) - remaining(b) }
