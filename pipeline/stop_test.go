package pipeline_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/llmbatch/llmbatch/io/sim"
	"github.com/llmbatch/llmbatch/pipeline"
)

// waitUntil polls cond every 5 ms until it holds, failing the test after d.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(d); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
	}
}

// An interrupt whose drain time runs out cancels the requests in flight:
// they stay pending and are not retries (the job will not retry them; the
// resume sends them as first attempts).
func TestRun_CancelledAtAStopAreNotRetries(t *testing.T) {
	dir := t.TempDir()
	const n, conc = 40, 8
	s, base := startSim(t, sim.Config{Seed: 1, Latency: 5 * time.Second})
	cfg := baseConfig(dir, writeInput(t, dir, n), base)
	cfg.Concurrency = conc
	cfg.DrainTimeout = 20 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	var sumRetries, sumRequests int64
	go func() {
		sum, err := pipeline.Run(ctx, cfg)
		if sum != nil {
			sumRetries, sumRequests = sum.Run.Retries, sum.Run.Requests
		}
		done <- err
	}()
	// The pacer starts with one request and ramps up: wait for a few in
	// flight, all of them first attempts.
	waitUntil(t, 10*time.Second, "requests in flight", func() bool { return s.Stats().Requests >= 2 })
	cancel()
	var err error
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after the interrupt and the drain timeout")
	}
	if !errors.Is(err, pipeline.ErrInterrupted) {
		t.Fatalf("Run() error = %v, want ErrInterrupted", err)
	}
	st := s.Stats()
	recs := readJournal(t, cfg.Output)
	attempts := 0
	for _, r := range recs {
		attempts += r.Attempts
	}
	if sumRetries != 0 {
		t.Errorf("summary counts %d retries; the simulator answered none (%+v) and the journal holds %d records: the cancelled requests were counted as retries",
			sumRetries, st.ByStatus, len(recs))
	}
	if sumRequests != int64(st.Requests) {
		t.Errorf("summary counts %d requests, the simulator got %d", sumRequests, st.Requests)
	}
	if len(recs) != 0 || attempts != 0 {
		t.Errorf("journal has %d records (%d attempts), want none: the cancelled rows stay pending", len(recs), attempts)
	}
	if sum := readSummary(t, cfg.Output); sum.Run.Retries != 0 {
		t.Errorf("summary file counts %d retries, want 0", sum.Run.Retries)
	}
}
