package retry

import (
	"context"
	"errors"
	"testing"
	"time"
)

type hintErr struct{ h Hint }

func (e hintErr) Error() string   { return "hint" }
func (e hintErr) RetryHint() Hint { return e.h }

func TestPolicy_Do(t *testing.T) {
	transient := hintErr{Hint{Retry: true}}
	permanent := hintErr{Hint{Retry: false}}
	plain := errors.New("plain")
	tests := []struct {
		name         string
		max          int
		errs         []error // op's results in order; nil = success
		wantAttempts int
		wantErr      error
	}{
		{"FirstTry", 3, []error{nil}, 1, nil},
		{"TransientThenOK", 3, []error{transient, transient, nil}, 3, nil},
		{"Exhausted", 3, []error{transient, transient, transient, nil}, 3, transient},
		{"Permanent", 3, []error{transient, permanent, nil}, 2, permanent},
		{"NotAHinter", 3, []error{plain, nil}, 1, plain},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &Policy{MaxAttempts: tt.max, Initial: time.Microsecond, Max: time.Microsecond}
			calls := 0
			attempts, err := p.Do(context.Background(), func(attempt int) error {
				if attempt != calls+1 {
					t.Errorf("attempt = %d, want %d", attempt, calls+1)
				}
				calls++
				return tt.errs[attempt-1]
			})
			if attempts != tt.wantAttempts || !errors.Is(err, tt.wantErr) {
				t.Errorf("Do() = %d, %v; want %d, %v", attempts, err, tt.wantAttempts, tt.wantErr)
			}
		})
	}
}

func TestPolicy_DoStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	p := &Policy{Initial: time.Hour, Max: time.Hour}
	attempts, err := p.Do(ctx, func(int) error {
		cancel()
		return hintErr{Hint{Retry: true}}
	})
	if attempts != 1 || !errors.Is(err, context.Canceled) {
		t.Errorf("Do() = %d, %v; want 1, context.Canceled", attempts, err)
	}
	attempts, err = p.Do(ctx, func(int) error { t.Error("op called after cancel"); return nil })
	if attempts != 0 || !errors.Is(err, context.Canceled) {
		t.Errorf("Do() on a done context = %d, %v", attempts, err)
	}
}

func TestPolicy_Wait(t *testing.T) {
	p := &Policy{MaxRetryAfter: time.Minute, jitter: func() float64 { return 0.5 }}
	tests := []struct {
		interval, after, want time.Duration
	}{
		{time.Second, 0, 500 * time.Millisecond},              // full jitter of the interval
		{time.Second, 3 * time.Second, 3 * time.Second},       // the server's wait, exactly
		{time.Second, 10 * time.Minute, time.Minute},          // capped
		{8 * time.Second, time.Millisecond, time.Millisecond}, // server wins even when shorter
	}
	for _, tt := range tests {
		if got := p.wait(tt.interval, tt.after); got != tt.want {
			t.Errorf("wait(%v, %v) = %v, want %v", tt.interval, tt.after, got, tt.want)
		}
	}
}

func TestPolicy_BackoffGrows(t *testing.T) {
	var waits []time.Duration
	p := &Policy{MaxAttempts: 6, Initial: time.Millisecond, Max: 4 * time.Millisecond, jitter: func() float64 { return 1 },
		OnRetry: func(_ int, wait time.Duration, _ error) { waits = append(waits, wait) }}
	p.Do(context.Background(), func(int) error { return hintErr{Hint{Retry: true}} })
	want := []time.Duration{1, 2, 4, 4, 4}
	if len(waits) != len(want) {
		t.Fatalf("waits = %v, want %v ms", waits, want)
	}
	for i := range want {
		if waits[i] != want[i]*time.Millisecond {
			t.Errorf("wait %d = %v, want %v", i, waits[i], want[i]*time.Millisecond)
		}
	}
}

func TestPolicy_PauseAllClosesGate(t *testing.T) {
	g := &Gate{}
	p := &Policy{MaxAttempts: 2, Gate: g}
	start := time.Now()
	p.Do(context.Background(), func(int) error {
		return hintErr{Hint{Retry: true, After: 30 * time.Millisecond, PauseAll: true}}
	})
	if g.Pauses() != 1 {
		t.Errorf("Pauses() = %d, want 1", g.Pauses())
	}
	// Another worker now waits for the pause too.
	if err := g.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 30*time.Millisecond {
		t.Errorf("waited %v, want at least the 30ms pause", el)
	}
}

func TestGate_WaitCancel(t *testing.T) {
	g := &Gate{}
	g.PauseFor(time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := g.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Wait() = %v, want DeadlineExceeded", err)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		ms, s  string
		want   time.Duration
		wantOK bool
	}{
		{"1500", "9", 1500 * time.Millisecond, true},
		{"", "2", 2 * time.Second, true},
		{"", "0.25", 250 * time.Millisecond, true},
		{"", "Wed, 25 Nov 2026 12:00:30 GMT", 30 * time.Second, true},
		{"", "Wed, 25 Nov 2026 11:00:00 GMT", 0, true},
		{"junk", "3", 3 * time.Second, true},
		{"", "-1", 0, false},
		{"", "NaN", 0, false},
		{"", "soon", 0, false},
		{"", "", 0, false},
	}
	for _, tt := range tests {
		got, ok := ParseRetryAfter(tt.ms, tt.s, now)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("ParseRetryAfter(%q, %q) = %v, %v; want %v, %v", tt.ms, tt.s, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestGate_Changed(t *testing.T) {
	g := &Gate{}
	ch := g.Changed()
	select {
	case <-ch:
		t.Fatal("Changed() closed before any pause")
	default:
	}
	g.PauseFor(time.Hour)
	select {
	case <-ch:
	default:
		t.Fatal("Changed() not closed by PauseFor")
	}
	if u := g.Until(); time.Until(u) < 59*time.Minute {
		t.Errorf("Until() = %v, want about an hour from now", u)
	}
	// A shorter pause neither extends the gate nor signals a change.
	ch = g.Changed()
	g.PauseFor(time.Minute)
	select {
	case <-ch:
		t.Error("Changed() closed by a pause that did not extend the gate")
	default:
	}
}

// TestGate_Open: Open says what Wait does, without its lock: open when
// zero, closed during a pause, open again once it has passed.
func TestGate_Open(t *testing.T) {
	var g Gate
	if !g.Open() {
		t.Fatal("a zero gate is closed")
	}
	g.PauseFor(50 * time.Millisecond)
	if g.Open() {
		t.Fatal("open during a pause")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
	defer cancel()
	if err := g.Wait(ctx); err == nil {
		t.Fatal("Wait returned during a pause")
	}
	if err := g.Wait(context.Background()); err != nil || !g.Open() {
		t.Fatalf("after the pause: Wait %v, Open %v", err, g.Open())
	}
	g.PauseFor(time.Hour) // a later pause closes it again
	if g.Open() {
		t.Fatal("open right after a new pause")
	}
}
