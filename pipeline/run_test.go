package pipeline_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/llmbatch/llmbatch/io/api"
	"github.com/llmbatch/llmbatch/io/results"
	"github.com/llmbatch/llmbatch/io/sim"
	"github.com/llmbatch/llmbatch/pipeline"
)

// writeInput writes an n-row JSONL input with unique texts.
func writeInput(tb testing.TB, dir string, n int) string {
	tb.Helper()
	path := filepath.Join(dir, "in.jsonl")
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriter(f)
	for i := range n {
		fmt.Fprintf(w, `{"id":"k%05d","text":"review number %d: it was fine"}`+"\n", i, i)
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
	return path
}

func startSim(tb testing.TB, cfg sim.Config) (*sim.Server, string) {
	tb.Helper()
	s := sim.New(cfg)
	base, err := s.Start("127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s, base
}

// readJournal returns every record of a journal, failing on a bad line.
func readJournal(tb testing.TB, path string) []results.Record {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var recs []results.Record
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	for n := 1; sc.Scan(); n++ {
		var r results.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			tb.Fatalf("%s:%d: %v", path, n, err)
		}
		recs = append(recs, r)
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return recs
}

func readSummary(tb testing.TB, journal string) results.Summary {
	tb.Helper()
	b, err := os.ReadFile(results.SummaryPath(journal))
	if err != nil {
		tb.Fatal(err)
	}
	var s results.Summary
	if err := json.Unmarshal(b, &s); err != nil {
		tb.Fatal(err)
	}
	return s
}

// simDefault is a fast, fault-free simulated endpoint.
func simDefault() sim.Config { return sim.Config{Seed: 1} }

func baseConfig(dir, input, base string) pipeline.Config {
	return pipeline.Config{Source: pipeline.Source{Input: input}, Template: pipeline.Template{Model: "gpt-5-mini", IDColumn: "id", Prompt: "Label the sentiment of: {{.text}}"},
		Output:  filepath.Join(dir, "results.jsonl"),
		BaseURL: base,

		Concurrency:  16,
		RetryInitial: time.Millisecond, RetryMax: 20 * time.Millisecond,
		MaxAttempts: 30,
	}
}

func TestRun_FaultsEveryRowOK(t *testing.T) {
	dir := t.TempDir()
	const n = 500
	s, base := startSim(t, sim.Config{Seed: 7, RateLimit: 0.2, ServerError: 0.1, RetryAfter: 2 * time.Millisecond})
	cfg := baseConfig(dir, writeInput(t, dir, n), base)
	sum, err := pipeline.Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run() error = %v", err)
	}
	recs := readJournal(t, cfg.Output)
	keys := make(map[string]bool)
	var usage api.Usage
	for _, r := range recs {
		if r.Error != nil {
			t.Errorf("row %s: error %+v", r.CustomID, r.Error)
		}
		if keys[r.CustomID] {
			t.Errorf("row %s journalled twice", r.CustomID)
		}
		keys[r.CustomID] = true
		usage.Add(r.Usage)
		if req, done := s.Count(r.RequestSHA256); done != 1 || req != r.Attempts {
			t.Errorf("row %s: sim saw %d requests, %d completed; journal says %d attempts", r.CustomID, req, done, r.Attempts)
		}
	}
	if got, want := len(keys), n; got != want {
		t.Fatalf("distinct keys = %d, want %d", got, want)
	}
	if got, want := sum.Rows.OK, int64(n); got != want {
		t.Errorf("summary ok = %d, want %d", got, want)
	}
	if got := readSummary(t, cfg.Output); got.Usage.Total != usage {
		t.Errorf("summary usage = %+v, journal sum = %+v", got.Usage.Total, usage)
	}
	if sum.Run.RateLimited == 0 || sum.Run.Retries == 0 {
		t.Errorf("run counters = %+v, want 429s and retries", sum.Run)
	}
	if got, want := sum.Run.Requests, int64(s.Stats().Requests); got != want {
		t.Errorf("requests = %d, sim saw %d", got, want)
	}
}

func TestRun_InterruptAndResume(t *testing.T) {
	dir := t.TempDir()
	const n = 400
	s, base := startSim(t, sim.Config{Seed: 3, Latency: 2 * time.Millisecond, LatencyJitter: 8 * time.Millisecond, ServerError: 0.05})
	cfg := baseConfig(dir, writeInput(t, dir, n), base)
	stopAfter := int64(20 + rand.IntN(n-100))
	ctx, cancel := context.WithCancel(context.Background())
	cfg.ProgressInterval = time.Millisecond
	cfg.Progress = func(p pipeline.Progress) {
		if p.Done >= stopAfter {
			cancel()
		}
	}
	_, err := pipeline.Run(ctx, cfg)
	if !errors.Is(err, pipeline.ErrInterrupted) {
		t.Fatalf("first Run() error = %v, want ErrInterrupted", err)
	}
	first := len(readJournal(t, cfg.Output))
	if first == 0 || first >= n {
		t.Fatalf("first run journalled %d rows, want some but not all of %d", first, n)
	}
	cfg.Progress = nil
	sum, err := pipeline.Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("second Run() error = %v", err)
	}
	if got, want := sum.Rows.Skipped, int64(first); got != want {
		t.Errorf("skipped = %d, want %d", got, want)
	}
	recs := readJournal(t, cfg.Output)
	seen := make(map[string]int)
	for _, r := range recs {
		seen[r.CustomID]++
		if _, done := s.Count(r.RequestSHA256); done != 1 {
			t.Errorf("row %s answered %d times, want 1", r.CustomID, done)
		}
	}
	if got, want := len(seen), n; got != want {
		t.Errorf("distinct keys = %d, want %d", got, want)
	}
	for k, c := range seen {
		if c != 1 {
			t.Errorf("row %s journalled %d times", k, c)
		}
	}
	t.Logf("interrupted after %d of %d rows; resume sent the other %d", first, n, n-first)
}

func TestRun_UnauthorizedStops(t *testing.T) {
	dir := t.TempDir()
	const key, wrong = "sk-sim-correct-0123456789", "sk-test-WRONG-9876543210"
	_, base := startSim(t, sim.Config{APIKey: key})
	cfg := baseConfig(dir, writeInput(t, dir, 50), base)
	cfg.APIKey = wrong
	sum, err := pipeline.Run(context.Background(), cfg)
	var serr *pipeline.StopError
	if !errors.As(err, &serr) {
		t.Fatalf("Run() error = %v, want *StopError", err)
	}
	for _, want := range []string{"401", "re-run"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if recs := readJournal(t, cfg.Output); len(recs) != 0 {
		t.Errorf("journal has %d records, want none (401 rows stay pending)", len(recs))
	}
	if sum == nil || sum.Rows.Failed != 0 {
		t.Errorf("summary = %+v, want no failed rows", sum)
	}
	for _, f := range []string{cfg.Output, results.SummaryPath(cfg.Output)} {
		b, _ := os.ReadFile(f)
		if strings.Contains(string(b), wrong) {
			t.Errorf("%s contains the API key", f)
		}
	}
	if strings.Contains(err.Error(), wrong) {
		t.Errorf("error contains the API key")
	}
}

func TestRun_UsageShapesGiveSameTotals(t *testing.T) {
	var totals []api.Usage
	for _, shape := range []string{"openai", "chat"} {
		dir := t.TempDir()
		_, base := startSim(t, sim.Config{Seed: 11, Usage: shape})
		cfg := baseConfig(dir, writeInput(t, dir, 60), base)
		sum, err := pipeline.Run(context.Background(), cfg)
		if err != nil {
			t.Fatalf("%s: Run() error = %v", shape, err)
		}
		if sum.Usage.Total.InputTokens == 0 || sum.Usage.Total.OutputTokens == 0 || sum.Usage.Total.ReasoningTokens == 0 {
			t.Errorf("%s: usage %+v has zero fields", shape, sum.Usage.Total)
		}
		totals = append(totals, sum.Usage.Total)
	}
	if totals[0] != totals[1] {
		t.Errorf("openai usage %+v != chat usage %+v", totals[0], totals[1])
	}
}
