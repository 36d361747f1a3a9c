package pipeline_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/llmbatch/llmbatch/io/results"
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

// closedPort returns a loopback address where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// A well-formed base URL where nothing listens stops the job after the
// first rows ran out of attempts, instead of retrying every row.
func TestRun_NothingListeningStopsTheJob(t *testing.T) {
	dir := t.TempDir()
	const n = 60
	base := "http://" + closedPort(t) + "/v1"
	cfg := baseConfig(dir, writeInput(t, dir, n), base)
	cfg.Concurrency, cfg.MaxAttempts = 4, 3
	sum, err := pipeline.Run(context.Background(), cfg)
	var serr *pipeline.StopError
	if !errors.As(err, &serr) {
		t.Fatalf("Run() error = %v, want a StopError", err)
	}
	for _, want := range []string{base, "nothing answered", "connection refused", "re-run"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if recs := readJournal(t, cfg.Output); len(recs) != 0 {
		t.Errorf("journal has %d records, want none: those rows stay pending", len(recs))
	}
	if max := int64((5 + cfg.Concurrency) * cfg.MaxAttempts); sum.Run.Requests > max {
		t.Errorf("%d attempts, want at most %d: the job should stop after the first rows", sum.Run.Requests, max)
	}
	// Started, the same journal resumes and sends every row.
	s, simBase := startSim(t, simDefault())
	cfg.BaseURL = simBase
	if sum, err := pipeline.Run(context.Background(), cfg); err != nil || sum.Rows.OK != n {
		t.Fatalf("re-run against a server: %+v, %v; want %d ok", sum.Rows, err, n)
	}
	if got := s.Stats().Requests; got != n {
		t.Errorf("re-run sent %d requests, want %d", got, n)
	}
}

// Once the endpoint has answered, refused connections are an outage:
// rows are retried and journalled to retry, the job is not stopped.
func TestRun_EndpointGoneMidJobIsRetried(t *testing.T) {
	dir := t.TempDir()
	const n = 200
	s, base := startSim(t, sim.Config{Seed: 1, Latency: 10 * time.Millisecond})
	cfg := baseConfig(dir, writeInput(t, dir, n), base)
	cfg.Concurrency, cfg.MaxAttempts = 4, 3
	done := make(chan struct{})
	var (
		sum *results.Summary
		err error
	)
	go func() {
		defer close(done)
		sum, err = pipeline.Run(context.Background(), cfg)
	}()
	waitUntil(t, 20*time.Second, "10 answers", func() bool { return s.Stats().Completed >= 10 })
	s.Close()
	<-done
	if err != nil {
		t.Fatalf("Run() error = %v, want the job to finish with rows to retry", err)
	}
	if sum.Rows.Retryable == 0 || sum.Rows.OK+sum.Rows.Retryable != n {
		t.Errorf("rows %+v: want ok + to retry = %d, some to retry", sum.Rows, n)
	}
}

// Rows that met both an answer (a 503) and refused connections are an
// outage too, even at the start of a job.
func TestRun_AnsweredThenRefusedIsNotStopped(t *testing.T) {
	dir := t.TempDir()
	const n = 12
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(503)
		io.WriteString(w, `{"error":{"message":"overloaded","type":"server_error"}}`)
	}))
	base := srv.URL + "/v1"
	cfg := baseConfig(dir, writeInput(t, dir, n), base)
	cfg.Concurrency, cfg.MaxAttempts = 1, 3
	cfg.RetryInitial, cfg.RetryMax = 30*time.Millisecond, 30*time.Millisecond
	done := make(chan struct{})
	var (
		sum *results.Summary
		err error
	)
	go func() {
		defer close(done)
		sum, err = pipeline.Run(context.Background(), cfg)
	}()
	waitUntil(t, 10*time.Second, "an answer", func() bool { return hits.Load() >= 1 })
	srv.Close()
	<-done
	if err != nil {
		t.Fatalf("Run() error = %v, want the rows journalled to retry", err)
	}
	if sum.Rows.Retryable != n {
		t.Errorf("rows %+v: want all %d to retry", sum.Rows, n)
	}
}
