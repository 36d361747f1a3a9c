package pipeline

import (
	"context"
	"sync"
	"time"
)

// attemptCtxs hands out the contexts of attempts (a request's deadline,
// Config.Timeout), reused from one attempt to the next. A fresh
// context.WithTimeout per attempt costs a context, a timer and, under
// net/http's own per-request context, a map of children, and registers
// every attempt with the run's context under its one lock: measurable at
// tens of thousands of attempts a second. A reused context is a child of
// the run's context whose timer is re-armed for each attempt; one that
// timed out (or whose parent ended) is dropped, never reused.
//
// The contexts stay registered with their parent while they wait in the
// free list: at most as many as attempts were ever in flight at once, all
// released when the parent ends. The zero value is ready to use.
type attemptCtxs struct {
	mu   sync.Mutex
	free []*attemptCtx
}

// attemptCtx is one reusable attempt context.
type attemptCtx struct {
	parent context.Context
	ctx    context.Context
	cancel context.CancelCauseFunc
	timer  *time.Timer
}

// start returns a context that is done when parent is, or timeout after
// now with the cause context.DeadlineExceeded (which net/http returns, so
// that the attempt reads as timed out). end must be called when the
// attempt is over.
func (a *attemptCtxs) start(parent context.Context, timeout time.Duration) *attemptCtx {
	var c *attemptCtx
	a.mu.Lock()
	if n := len(a.free); n > 0 {
		c = a.free[n-1]
		a.free[n-1] = nil
		a.free = a.free[:n-1]
	}
	a.mu.Unlock()
	if c != nil && c.parent == parent && c.ctx.Err() == nil {
		c.timer.Reset(timeout)
		return c
	}
	if c != nil {
		c.cancel(nil)
	}
	c = &attemptCtx{parent: parent}
	c.ctx, c.cancel = context.WithCancelCause(parent)
	cancel := c.cancel
	c.timer = time.AfterFunc(timeout, func() { cancel(context.DeadlineExceeded) })
	return c
}

// end ends the attempt: its context goes back to the free list unless its
// timer fired (or is firing) or its parent ended.
func (a *attemptCtxs) end(c *attemptCtx) {
	if !c.timer.Stop() || c.ctx.Err() != nil {
		c.cancel(nil)
		return
	}
	a.mu.Lock()
	a.free = append(a.free, c)
	a.mu.Unlock()
}
