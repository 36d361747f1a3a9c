package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/llmbatch/llmbatch/io/sim"
	"github.com/llmbatch/llmbatch/pipeline"
)

// jsonLines parses every non-empty stderr line as a JSON object (numbers
// kept as json.Number) and fails the test on the first that is not.
func jsonLines(t *testing.T, stderr string) []map[string]any {
	t.Helper()
	var recs []map[string]any
	for i, line := range strings.Split(stderr, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		dec := json.NewDecoder(strings.NewReader(line))
		dec.UseNumber()
		var m map[string]any
		if err := dec.Decode(&m); err != nil || dec.More() {
			t.Fatalf("stderr line %d is not one JSON object (%v): %s\nstderr:\n%s", i+1, err, line, stderr)
		}
		recs = append(recs, m)
	}
	return recs
}

// record returns the first record whose msg is msg.
func record(t *testing.T, recs []map[string]any, msg string) map[string]any {
	t.Helper()
	for _, r := range recs {
		if r["msg"] == msg {
			return r
		}
	}
	t.Fatalf("no %q record in %v", msg, recs)
	return nil
}

// number fails unless m[key] is a JSON number.
func number(t *testing.T, m map[string]any, key string) json.Number {
	t.Helper()
	n, ok := m[key].(json.Number)
	if !ok {
		t.Fatalf("%q = %#v (%T), want a JSON number, in %v", key, m[key], m[key], m)
	}
	return n
}

const jsonTestKey = "sk-test-log-json-0123456789abcdef"

// With --log-format json every stderr line of a finished job is a JSON
// object: the log, the progress line, the closing totals and hints, the
// final status; counts and the cost are numbers.
func TestRun_LogFormatJSON_FinishedJob(t *testing.T) {
	dir := t.TempDir()
	in := writeRows(t, dir, 120)
	out := filepath.Join(dir, "r.jsonl")
	_, base := startTestSim(t, sim.Config{Seed: 3, ServerError: 0.3})
	env, _, stderr := testEnv(map[string]string{"OPENAI_API_KEY": jsonTestKey})
	env.isTTY = func() bool { return true } // no bar either: it is no JSON line
	code := run(context.Background(), append(jobArgs(in, out, base), "--quiet=false", "--max-attempts", "1", "--log-format", "json"), env)
	if code != exitRowsFailed {
		t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitRowsFailed, stderr)
	}
	recs := jsonLines(t, stderr.String())
	done := record(t, recs, "done")
	rows, ok := done["rows"].(map[string]any)
	if !ok {
		t.Fatalf("done rows = %#v, want an object", done["rows"])
	}
	okN, _ := number(t, rows, "ok").Int64()
	retry, _ := number(t, rows, "retryable").Int64()
	if okN == 0 || retry == 0 || okN+retry != 120 {
		t.Errorf("done rows %v: want ok + retryable = 120, both > 0", rows)
	}
	for _, k := range []string{"failed", "pending", "skipped"} {
		number(t, rows, k)
	}
	for _, k := range []string{"requests", "retries", "rate_limited", "wall_seconds", "cost_usd"} {
		number(t, done, k)
	}
	if c := number(t, done, "cost_usd"); c.String() == "0" || strings.HasPrefix(c.String(), "-") {
		t.Errorf("cost_usd = %s, want a positive amount", c)
	}
	// This run apart from the journal total.
	this, ok := done["this_run"].(map[string]any)
	if !ok {
		t.Fatalf("done this_run = %#v, want an object", done["this_run"])
	}
	if n, _ := number(t, this, "rows").Int64(); n != 120 {
		t.Errorf("this_run rows = %d, want 120", n)
	}
	if number(t, this, "cost_usd").String() != number(t, done, "cost_usd").String() {
		t.Errorf("this_run cost_usd %v, journal %v: want the same (a first run)", this["cost_usd"], done["cost_usd"])
	}
	for _, k := range []string{"requests", "retries", "rate_limited", "wall_seconds"} {
		number(t, this, k)
	}
	tok, ok := done["tokens"].(map[string]any)
	if !ok {
		t.Fatalf("done tokens = %#v, want an object", done["tokens"])
	}
	for _, k := range []string{"input", "cached_input", "output", "reasoning"} {
		number(t, tok, k)
	}
	prog := record(t, recs, "progress")
	for _, k := range []string{"done", "total", "finished_this_run", "in_flight", "rows_per_s", "eta_seconds", "cost_usd"} {
		number(t, prog, k)
	}
	hint := record(t, recs, "rows ran out of attempts on transient errors: re-run the same command to send them again")
	if n, _ := number(t, hint, "rows").Int64(); n != retry {
		t.Errorf("hint rows = %d, want %d", n, retry)
	}
	if strings.Contains(stderr.String(), jsonTestKey) {
		t.Error("the key is in stderr")
	}
}

// A job stopped by --max-cost ends with a JSON "stopped" record carrying
// the exit status, and its closing totals are JSON too.
func TestRun_LogFormatJSON_Stopped(t *testing.T) {
	dir := t.TempDir()
	in := writeRows(t, dir, 200)
	out := filepath.Join(dir, "r.jsonl")
	_, base := startTestSim(t, sim.Config{Seed: 1})
	env, _, stderr := testEnv(map[string]string{"OPENAI_API_KEY": jsonTestKey})
	code := run(context.Background(), append(jobArgs(in, out, base), "--quiet=false", "--max-cost", "0.0001", "--log-format", "json"), env)
	if code != exitStopped {
		t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitStopped, stderr)
	}
	recs := jsonLines(t, stderr.String())
	record(t, recs, "done")
	stop := record(t, recs, "stopped")
	if stop["level"] != "ERROR" || !strings.Contains(stop["error"].(string), "--max-cost") {
		t.Errorf("stopped record %v: want level ERROR and the reason", stop)
	}
	if n, _ := number(t, stop, "exit_status").Int64(); n != exitStopped {
		t.Errorf("exit_status = %d, want %d", n, exitStopped)
	}
	// A usage error found after the flags (no API key) is a record too.
	env, _, stderr = testEnv(nil)
	if code := run(context.Background(), append(jobArgs(in, out, base), "--log-format", "json"), env); code != exitUsage {
		t.Fatalf("no key: exit %d, want %d; stderr:\n%s", code, exitUsage, stderr)
	}
	if r := record(t, jsonLines(t, stderr.String()), "error"); !strings.Contains(r["error"].(string), "no API key") {
		t.Errorf("no key: record %v", r)
	}
}

// interruptMidRun runs a job and cancels its context (what the first
// Ctrl-C does) once some rows are journalled; it returns the exit status.
func interruptMidRun(t *testing.T, stderr *syncBuffer, extra ...string) int {
	t.Helper()
	dir := t.TempDir()
	in := writeRows(t, dir, 400)
	out := filepath.Join(dir, "r.jsonl")
	_, base := startTestSim(t, sim.Config{Seed: 1, Latency: 20 * time.Millisecond})
	env, _, _ := testEnv(map[string]string{"OPENAI_API_KEY": jsonTestKey})
	env.stderr = stderr
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for ctx.Err() == nil {
			if b, _ := os.ReadFile(out); bytes.Count(b, []byte("\n")) >= 10 {
				cancel()
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	return run(ctx, append(jobArgs(in, out, base), append([]string{"--concurrency", "2", "--quiet=false"}, extra...)...), env)
}

// The interruption notice, the closing totals and the final line of an
// interrupted job are JSON records under --log-format json...
func TestRun_LogFormatJSON_Interrupted(t *testing.T) {
	stderr := new(syncBuffer)
	if code := interruptMidRun(t, stderr, "--log-format", "json"); code != exitInterrupted {
		t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitInterrupted, stderr)
	}
	recs := jsonLines(t, stderr.String())
	if r := record(t, recs, "interrupted: no new requests; waiting for those in flight (at most --drain-timeout); interrupt again to quit at once"); r["level"] != "WARN" {
		t.Errorf("notice %v: want level WARN", r)
	}
	record(t, recs, "done")
	if r := record(t, recs, "interrupted"); r["exit_status"] != json.Number("130") {
		t.Errorf("final record %v: want exit_status 130", r)
	}
}

// ...and plain lines, as before, in the text format.
func TestRun_InterruptNoticeText(t *testing.T) {
	stderr := new(syncBuffer)
	if code := interruptMidRun(t, stderr); code != exitInterrupted {
		t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitInterrupted, stderr)
	}
	s := stderr.String()
	for _, want := range []string{
		"\nllmbatch: interrupted: no new requests; waiting for those in flight (at most --drain-timeout); interrupt again to quit at once\n",
		"\nthis run: ",
		"\nllmbatch: interrupted; finished rows are in the journal: re-run the same command to resume\n",
	} {
		if !strings.Contains("\n"+s, want) {
			t.Errorf("stderr lacks %q:\n%s", want, s)
		}
	}
	if strings.Index(s, "no new requests") > strings.Index(s, "this run: ") {
		t.Errorf("the notice comes after the closing lines:\n%s", s)
	}
}

// Off a terminal, a JSON progress line has the ETA of the rows left at
// this run's rate.
func TestProgress_JSONLineHasETA(t *testing.T) {
	var buf bytes.Buffer
	env, _, _ := testEnv(nil)
	env.stderr = &buf
	env.isTTY = func() bool { return false }
	p := newProgress(env, newLogger(env, "json", false), true)
	p.update(pipeline.Progress{Total: 1000, Done: 300, Skipped: 100, Finished: 200, OK: 300, Elapsed: 10 * time.Second})
	r := record(t, jsonLines(t, buf.String()), "progress")
	if got := number(t, r, "rows_per_s").String(); got != "20" {
		t.Errorf("rows_per_s = %s, want 20 (this run's 200 rows in 10s)", got)
	}
	if got := number(t, r, "eta_seconds").String(); got != "35" {
		t.Errorf("eta_seconds = %s, want 35 (700 rows left at 20/s)", got)
	}
	if _, ok := r["cost_usd"]; ok {
		t.Errorf("cost_usd present for an unknown cost: %v", r)
	}
	if r["cost"] != "unknown" {
		t.Errorf("cost = %v, want \"unknown\"", r["cost"])
	}
}
