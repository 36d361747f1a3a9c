package pipeline

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestAttemptCtxs: an attempt's context is reused by the next attempt
// when it ended in time; one whose timer fired is done with the cause
// DeadlineExceeded and is not reused; all end with their parent.
func TestAttemptCtxs(t *testing.T) {
	var a attemptCtxs
	parent, cancel := context.WithCancel(context.Background())
	c1 := a.start(parent, time.Minute)
	a.end(c1)
	c2 := a.start(parent, time.Minute)
	if c2 != c1 || c2.ctx.Err() != nil {
		t.Fatal("an attempt that ended in time did not hand its context on")
	}
	a.end(c2)

	c3 := a.start(parent, time.Millisecond)
	<-c3.ctx.Done()
	if !errors.Is(context.Cause(c3.ctx), context.DeadlineExceeded) {
		t.Fatalf("cause %v, want DeadlineExceeded", context.Cause(c3.ctx))
	}
	a.end(c3)
	c4 := a.start(parent, time.Minute)
	if c4 == c3 || c4.ctx.Err() != nil {
		t.Fatal("a timed-out context was reused")
	}
	// Another parent: a new context.
	other, cancelOther := context.WithCancel(context.Background())
	defer cancelOther()
	a.end(c4)
	if c5 := a.start(other, time.Minute); c5 == c4 {
		t.Fatal("a context of another parent was reused")
	} else {
		a.end(c5)
	}
	c6 := a.start(parent, time.Minute)
	cancel()
	<-c6.ctx.Done()
	if !errors.Is(context.Cause(c6.ctx), context.Canceled) {
		t.Fatalf("cause %v after the parent ended, want Canceled", context.Cause(c6.ctx))
	}
	a.end(c6)
	if len(a.free) != 0 { // c5 was dropped for c6 (another parent), c6 ended with its parent
		t.Fatalf("%d contexts kept", len(a.free))
	}
}
