package pipeline

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"testing"
	"time"

	"github.com/llmbatch/llmbatch/io/api"
	"github.com/llmbatch/llmbatch/io/prices"
	"github.com/llmbatch/llmbatch/io/results"
)

func TestOutputHist_Quantile(t *testing.T) {
	var h outputHist
	if h.quantile(0.95) != 0 {
		t.Errorf("empty quantile = %d, want 0", h.quantile(0.95))
	}
	for v := int64(1); v <= 10_000; v++ {
		h.add(v)
	}
	for _, q := range []float64{0.5, 0.9, 0.95} {
		want := int64(q * 10_000)
		got := h.quantile(q)
		if got < want || float64(got) > float64(want)*1.04 {
			t.Errorf("quantile(%v) = %d, want %d..+4%%", q, got, want)
		}
	}
	// Small values are exact; huge ones land in the last buckets.
	var s outputHist
	for _, v := range []int64{18, 20, 30, 65} {
		s.add(v)
	}
	if got := s.quantile(0.95); got != 65 {
		t.Errorf("quantile(0.95) of 18,20,30,65 = %d, want 65", got)
	}
	s.add(math.MaxInt64)
	if got := s.quantile(1); got != math.MaxInt64 {
		t.Errorf("quantile(1) with MaxInt64 = %d", got)
	}
	for i := range histBuckets - 1 {
		if histUpper(i) >= histUpper(i+1) || histBucket(histUpper(i)) != i || histBucket(histUpper(i)+1) != i+1 {
			t.Fatalf("bucket %d: upper %d, next upper %d", i, histUpper(i), histUpper(i+1))
		}
	}
}

func testCosts(t *testing.T, max prices.Money) *ledger {
	t.Helper()
	cfg := Config{MaxCost: max}.withDefaults()
	cfg.Logger = slog.New(slog.DiscardHandler)
	c, err := newLedger(&cfg, results.NewTotals())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func answered(out int64) *results.Record {
	return &results.Record{Model: "gpt-5-mini", Usage: api.Usage{InputTokens: 10, OutputTokens: out}}
}

// TestCosts_WaitsThenStops: a request that does not fit while others are
// in flight waits for them to settle; once nothing is in flight and it
// still does not fit, the job stops.
func TestCosts_WaitsThenStops(t *testing.T) {
	model, _ := prices.Default().Lookup("gpt-5-mini")
	req := &Request{model: "gpt-5-mini", body: []byte(`{"model":"gpt-5-mini","input":"hi","max_output_tokens":100}`)}
	one := model.Cost(100, 0, 100) // more than one request's estimate
	c := testCosts(t, 2*one)       // room for two estimates, not three
	ctx := context.Background()
	h1, err1 := c.reserve(ctx, req)
	h2, err2 := c.reserve(ctx, req)
	if err1 != nil || err2 != nil {
		t.Fatalf("reserve: %v, %v", err1, err2)
	}
	got := make(chan error, 1)
	var h3 prices.Money
	go func() {
		var err error
		h3, err = c.reserve(ctx, req)
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("third reserve returned %v while two were in flight; want it to wait", err)
	case <-time.After(50 * time.Millisecond):
	}
	c.settle(h1, answered(1), "") // cheaper than estimated: room for the third
	if err := <-got; err != nil {
		t.Fatalf("third reserve after a settle: %v", err)
	}
	// ctx ends the wait.
	cctx, cancel := context.WithCancel(ctx)
	go func() {
		_, err := c.reserve(cctx, req) // two in flight, no room
		got <- err
	}()
	time.Sleep(20 * time.Millisecond)
	cancel()
	if err := <-got; !errors.Is(err, context.Canceled) {
		t.Fatalf("reserve after cancel = %v, want context.Canceled", err)
	}
	c.settle(h2, answered(1), "")
	c.settle(h3, answered(1000), "")
	// Nothing in flight and no room: stop.
	_, err := c.reserve(ctx, req)
	var serr *StopError
	if !errors.As(err, &serr) {
		t.Fatalf("reserve with nothing in flight and no room = %v, want a StopError", err)
	}
}

// TestCosts_ProbeThenPercentile: without max_output_tokens, the first
// requests go one at a time until a few answers are in; then the estimate
// is a high percentile of their output, not the mean.
func TestCosts_ProbeThenPercentile(t *testing.T) {
	req := &Request{model: "gpt-5-mini", body: []byte(`{"model":"gpt-5-mini","input":"hi"}`)}
	c := testCosts(t, prices.Dollar)
	ctx := context.Background()
	for i := range probeAnswers {
		h, err := c.reserve(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
		if _, err := c.reserve(short, req); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("probe %d: a second request while the probe is in flight: %v, want it to wait", i, err)
		}
		cancel()
		out := int64(10)
		if i == probeAnswers-1 {
			out = 1000
		}
		c.settle(h, answered(out), "")
	}
	h1, err1 := c.reserve(ctx, req)
	h2, err2 := c.reserve(ctx, req)
	if err1 != nil || err2 != nil {
		t.Fatalf("after the probe, two at once: %v, %v", err1, err2)
	}
	model, _ := prices.Default().Lookup("gpt-5-mini")
	if min := model.Cost(0, 0, 1000); h1 < min {
		t.Errorf("estimate %v after answers of 10, ..., 10, 1000 output tokens, want at least %v (the 95th percentile)", h1, min)
	}
	c.settle(h1, nil, "")
	c.settle(h2, nil, "")
}
