package main

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/llmbatch/llmbatch/io/sim"
)

// startTestSim serves a simulated endpoint for the test's life.
func startTestSim(t *testing.T, cfg sim.Config) (*sim.Server, string) {
	t.Helper()
	s := sim.New(cfg)
	base, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, base
}

// Rows that ran out of attempts are "to retry", not also "pending": the
// closing lines and the summary count each row once.
func TestRun_ClosingLinesCountRetryableRowsOnce(t *testing.T) {
	dir := t.TempDir()
	const n = 200
	in := writeRows(t, dir, n)
	out := filepath.Join(dir, "r.jsonl")
	_, base := startTestSim(t, sim.Config{Seed: 3, ServerError: 0.3})
	env, _, stderr := testEnv(map[string]string{"OPENAI_API_KEY": "sk-test-closing-lines-0123456789"})
	code := run(context.Background(), append(jobArgs(in, out, base), "--quiet=false", "--max-attempts", "1"), env)
	if code != exitRowsFailed {
		t.Fatalf("exit %d, want %d (rows ran out of attempts); stderr:\n%s", code, exitRowsFailed, stderr)
	}
	sum := readSummaryFile(t, out)
	if sum.Rows.Retryable == 0 || sum.Rows.OK+sum.Rows.Retryable != n {
		t.Fatalf("summary rows %+v: want some rows to retry and ok + to retry = %d", sum.Rows, n)
	}
	if sum.Rows.Total != n {
		t.Fatalf("summary total = %d, want %d (the input is a regular file)", sum.Rows.Total, n)
	}
	if sum.Rows.Pending != 0 {
		t.Errorf("summary pending = %d, want 0: every row is journalled, the %d to retry counted twice", sum.Rows.Pending, sum.Rows.Retryable)
	}
	m := regexp.MustCompile(`journal total: (\d+) ok, (\d+) failed, (\d+) to retry([^\n]*)`).FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("no closing rows line in stderr:\n%s", stderr)
	}
	if strings.Contains(m[4], "pending") {
		t.Errorf("closing line %q counts the rows to retry as pending too", m[0])
	}
	if !strings.Contains(stderr.String(), "ran out of attempts on transient errors: re-run") {
		t.Errorf("stderr lacks the hint to re-run:\n%s", stderr)
	}
}
