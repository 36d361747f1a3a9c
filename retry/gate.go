package retry

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// epoch is the origin of Gate.end, read on the monotonic clock.
var epoch = time.Now()

// Gate pauses a pool of workers: after PauseFor, every Wait blocks until the
// pause has passed. When a pause ends, waiters are released spread over a
// short window (a tenth of the pause, at most 2 s) rather than all at once,
// so the pool does not answer a rate limit with a burst. The zero value is
// an open gate. A Gate is safe for concurrent use.
type Gate struct {
	mu    sync.Mutex
	until time.Time
	width time.Duration // release window of the current pause
	count int64         // pauses so far
	// changed is closed by the next PauseFor that closes or extends the
	// gate; nil until Changed asks for it.
	changed chan struct{}
	// end is until as time since epoch: Open reads it without the lock
	// (every attempt asks, from every worker).
	end atomic.Int64
}

// PauseFor closes the gate for d from now, unless it is already closed for
// longer.
func (g *Gate) PauseFor(d time.Duration) {
	if d <= 0 {
		return
	}
	until := time.Now().Add(d)
	g.mu.Lock()
	defer g.mu.Unlock()
	if until.After(g.until) {
		g.until = until
		g.end.Store(int64(until.Sub(epoch)))
		g.width = min(d/10, 2*time.Second)
		g.count++
		if g.changed != nil {
			close(g.changed)
			g.changed = nil
		}
	}
}

// Changed returns a channel that is closed the next time PauseFor closes
// the gate or extends its pause. A worker that waits for something else
// (a rate limiter's slot) selects on it to notice a pause that began
// meanwhile.
func (g *Gate) Changed() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.changed == nil {
		g.changed = make(chan struct{})
	}
	return g.changed
}

// Until returns the end of the current pause; a time in the past (or the
// zero time) when the gate is open.
func (g *Gate) Until() time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.until
}

// Pauses returns how many times the gate was closed or its pause extended.
func (g *Gate) Pauses() int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.count
}

// Open reports whether the gate is open now, without taking its lock.
func (g *Gate) Open() bool {
	return int64(time.Since(epoch)) >= g.end.Load()
}

// Wait blocks until the gate is open or ctx is done.
func (g *Gate) Wait(ctx context.Context) error {
	if g.Open() {
		return ctx.Err()
	}
	for {
		g.mu.Lock()
		until, width := g.until, g.width
		g.mu.Unlock()
		now := time.Now()
		if !now.Before(until) {
			return ctx.Err()
		}
		d := until.Sub(now)
		if width > 0 {
			d += time.Duration(rand.Int64N(int64(width)))
		}
		if err := sleep(ctx, d); err != nil {
			return err
		}
		// A later pause may have extended the gate meanwhile: look again,
		// but a waiter released into the window does not wait twice.
		g.mu.Lock()
		extended := g.until.After(until)
		g.mu.Unlock()
		if !extended {
			return ctx.Err()
		}
	}
}
