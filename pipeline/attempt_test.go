package pipeline_test

import (
	"context"
	"testing"
	"time"

	"github.com/llmbatch/llmbatch/io/sim"
	"github.com/llmbatch/llmbatch/pipeline"
)

// TestRun_TimeoutsAreTimeouts: attempts that outlast Config.Timeout end
// as timeouts (retried, then journalled retryable with code "timeout"),
// not as cancellations, also now that attempt contexts are reused; and
// rows answered in time after a timeout are ok (a timed-out context is
// never reused for a later attempt).
func TestRun_TimeoutsAreTimeouts(t *testing.T) {
	dir := t.TempDir()
	const n = 12
	_, base := startSim(t, sim.Config{Seed: 1, Latency: 400 * time.Millisecond})
	cfg := baseConfig(dir, writeInput(t, dir, n), base)
	cfg.Concurrency, cfg.MaxAttempts, cfg.Timeout = 4, 2, 60*time.Millisecond
	sum, err := pipeline.Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if sum.Rows.Retryable != n || sum.Run.Requests != 2*n {
		t.Fatalf("rows %+v, requests %d: want %d retryable after 2 attempts each", sum.Rows, sum.Run.Requests, n)
	}
	for _, r := range readJournal(t, cfg.Output) {
		if r.Error == nil || r.Error.Code != "timeout" || !r.Error.Retryable || r.Attempts != 2 {
			t.Fatalf("record %+v error %+v: want a retryable timeout after 2 attempts", r, r.Error)
		}
	}
	// The same journal, resumed against a fast endpoint with many
	// attempts per context: every row ok.
	_, fast := startSim(t, sim.Config{Seed: 1})
	cfg.BaseURL, cfg.Timeout, cfg.MaxAttempts = fast, 5*time.Second, 3
	if sum, err = pipeline.Run(context.Background(), cfg); err != nil || sum.Rows.OK != n {
		t.Fatalf("resume: %v, rows %+v", err, sum.Rows)
	}
}
