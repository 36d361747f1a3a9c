package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/llmbatch/llmbatch/io/results"
)

// startJob starts "llmbatch run" and returns a channel that yields its
// exit status.
func startJob(t *testing.T, args ...string) (*exec.Cmd, *syncBuffer, <-chan int) {
	t.Helper()
	cmd, stderr := llmbatchCmd(t, args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	status := make(chan int, 1)
	go func() {
		err := cmd.Wait()
		if _, ok := err.(*exec.ExitError); err != nil && !ok {
			status <- -1000
			return
		}
		ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
		if ws.Signaled() {
			status <- -int(ws.Signal())
			return
		}
		status <- ws.ExitStatus()
	}()
	t.Cleanup(func() { cmd.Process.Kill() })
	return cmd, stderr, status
}

// waitStatus waits for a job's exit status, failing the test after d.
func waitStatus(t *testing.T, status <-chan int, d time.Duration, stderr *syncBuffer) int {
	t.Helper()
	select {
	case s := <-status:
		return s
	case <-time.After(d):
		t.Fatalf("the job did not end within %v; stderr:\n%s", d, stderr)
	}
	return 0
}

// skipShort skips a process test under -short and runs it in parallel
// with the others (they wait on the sim's latency more than they compute).
func skipShort(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real processes")
	}
	t.Parallel()
}

func TestSIGINT_ExitsResumablyAndResumeSendsNothingTwice(t *testing.T) {
	skipShort(t)
	const n = 300
	dir := t.TempDir()
	input := writeRows(t, dir, n)
	journal := filepath.Join(dir, "results.jsonl")
	sim := startSimProc(t, "--latency", "50ms", "--latency-jitter", "50ms")
	args := jobArgs(input, journal, sim.base, "--concurrency", "8")

	cmd, stderr, status := startJob(t, args...)
	if !waitFor(20*time.Second, func() bool { return len(readJournalFile(t, journal).lines) >= 20 }) {
		t.Fatalf("no rows journalled; stderr:\n%s", stderr)
	}
	cmd.Process.Signal(os.Interrupt)
	if got := waitStatus(t, status, 30*time.Second, stderr); got != exitInterrupted {
		t.Fatalf("exit status = %d, want %d; stderr:\n%s", got, exitInterrupted, stderr)
	}
	for _, want := range []string{"interrupt again to quit at once", "re-run the same command to resume"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr does not say %q:\n%s", want, stderr)
		}
	}
	first := readJournalFile(t, journal)
	if first.torn || len(first.lines) >= n {
		t.Fatalf("after the interrupt: %d lines, torn %v; want some rows and a whole last line", len(first.lines), first.torn)
	}
	// Drained: every answer the sim completed is in the journal.
	if st := sim.stats(t); st.Completed != len(first.lines) {
		t.Errorf("sim completed %d answers, the journal holds %d", st.Completed, len(first.lines))
	}

	if code, errs := runLLMBatch(t, args...); code != exitOK {
		t.Fatalf("resume exit status = %d; stderr:\n%s", code, errs)
	}
	final := readJournalFile(t, journal)
	checkComplete(t, final, n)
	st := sim.stats(t)
	for _, l := range final.lines {
		if c := st.PerBody[l.RequestSHA256]; c != [2]int{1, 1} {
			t.Errorf("row %s: sim saw %d requests, %d completed; want 1, 1", l.CustomID, c[0], c[1])
		}
	}
	t.Logf("interrupted after %d of %d rows; the resume sent the other %d, none twice", len(first.lines), n, n-len(first.lines))
}

func TestSecondSIGINT_QuitsAtOnceAndResumeWorks(t *testing.T) {
	skipShort(t)
	const n = 40
	dir := t.TempDir()
	input := writeRows(t, dir, n)
	journal := filepath.Join(dir, "results.jsonl")
	// Answers take 60s: the first interrupt would wait for them (up to the
	// 60s drain timeout); the second must not.
	sim := startSimProc(t, "--latency", "60s")
	args := jobArgs(input, journal, sim.base, "--concurrency", "4", "--drain-timeout", "60s")

	cmd, stderr, status := startJob(t, args...)
	if !waitFor(20*time.Second, func() bool { return sim.stats(t).Requests >= 4 }) {
		t.Fatalf("no requests reached the sim; stderr:\n%s", stderr)
	}
	cmd.Process.Signal(os.Interrupt)
	if !waitFor(10*time.Second, func() bool { return strings.Contains(stderr.String(), "interrupt again") }) {
		t.Fatalf("no notice after the first interrupt; stderr:\n%s", stderr)
	}
	cmd.Process.Signal(os.Interrupt)
	if got := waitStatus(t, status, 20*time.Second, stderr); got != exitInterrupted {
		t.Errorf("exit = %d, want %d", got, exitInterrupted)
	}
	// One line says so, and how to go on.
	if s := stderr.String(); strings.Count(s, "interrupted again") != 1 ||
		!strings.Contains(s, "llmbatch: interrupted again: quitting now; the journal keeps every finished row: re-run the same command to resume\n") {
		t.Errorf("stderr after the second interrupt:\n%s", s)
	}
	if st := readJournalFile(t, journal); len(st.lines) != 0 {
		t.Errorf("journal has %d lines, want none (no answer arrived)", len(st.lines))
	}

	fast := startSimProc(t)
	args = jobArgs(input, journal, fast.base, "--concurrency", "4")
	if code, errs := runLLMBatch(t, args...); code != exitOK {
		t.Fatalf("resume exit status = %d; stderr:\n%s", code, errs)
	}
	checkComplete(t, readJournalFile(t, journal), n)
}

func TestDrain_InterruptWaitsForRequestsInFlight(t *testing.T) {
	skipShort(t)
	const n, conc = 40, 6
	dir := t.TempDir()
	input := writeRows(t, dir, n)
	journal := filepath.Join(dir, "results.jsonl")
	sim := startSimProc(t, "--latency", "1500ms")
	args := jobArgs(input, journal, sim.base, "--concurrency", "6", "--drain-timeout", "60s")

	cmd, stderr, status := startJob(t, args...)
	if !waitFor(20*time.Second, func() bool { return sim.stats(t).Requests >= conc }) {
		t.Fatalf("requests did not reach the sim; stderr:\n%s", stderr)
	}
	cmd.Process.Signal(os.Interrupt)
	if got := waitStatus(t, status, 30*time.Second, stderr); got != exitInterrupted {
		t.Fatalf("exit status = %d, want %d; stderr:\n%s", got, exitInterrupted, stderr)
	}
	js := readJournalFile(t, journal)
	st := sim.stats(t)
	if len(js.lines) < conc || len(js.lines) != st.Requests || st.Completed != st.Requests {
		t.Errorf("journal has %d lines; sim got %d requests and completed %d; want every request in flight answered and journalled (at least %d)",
			len(js.lines), st.Requests, st.Completed, conc)
	}
	var sum results.Summary
	b, err := os.ReadFile(results.SummaryPath(journal))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Rows.OK != int64(len(js.lines)) || !strings.Contains(sum.Run.Stopped, "interrupted") {
		t.Errorf("summary rows = %+v, stopped %q; want %d ok and the interrupt", sum.Rows, sum.Run.Stopped, len(js.lines))
	}
}

func TestDrain_TimeoutCancelsSlowRequests(t *testing.T) {
	skipShort(t)
	const n = 20
	dir := t.TempDir()
	input := writeRows(t, dir, n)
	journal := filepath.Join(dir, "results.jsonl")
	sim := startSimProc(t, "--latency", "60s")
	args := jobArgs(input, journal, sim.base, "--concurrency", "4", "--drain-timeout", "100ms")

	cmd, stderr, status := startJob(t, args...)
	if !waitFor(20*time.Second, func() bool { return sim.stats(t).Requests >= 4 }) {
		t.Fatalf("requests did not reach the sim; stderr:\n%s", stderr)
	}
	cmd.Process.Signal(os.Interrupt)
	// The answers would take 60s; the drain timeout ends the wait.
	if got := waitStatus(t, status, 30*time.Second, stderr); got != exitInterrupted {
		t.Fatalf("exit status = %d, want %d; stderr:\n%s", got, exitInterrupted, stderr)
	}
	if js := readJournalFile(t, journal); len(js.lines) != 0 || js.torn {
		t.Errorf("journal has %d lines (torn %v), want none: the cancelled rows stay pending", len(js.lines), js.torn)
	}
}

func TestFingerprint_ChangedTemplateRefusedUnlessForced(t *testing.T) {
	skipShort(t)
	const n = 20
	dir := t.TempDir()
	input := writeRows(t, dir, n)
	journal := filepath.Join(dir, "results.jsonl")
	sim := startSimProc(t)
	if code, errs := runLLMBatch(t, jobArgs(input, journal, sim.base)...); code != exitOK {
		t.Fatalf("first run exit status = %d; stderr:\n%s", code, errs)
	}
	before, _ := os.ReadFile(journal)

	changed := []string{"run", input, "-o", journal, "--base-url", sim.base, "--model", "gpt-5-mini",
		"--id-column", "id", "--prompt", "Classify: {{.text}}", "--quiet"}
	code, errs := runLLMBatch(t, changed...)
	if code != exitUsage {
		t.Errorf("changed template: exit status = %d, want %d", code, exitUsage)
	}
	for _, want := range []string{"written by a different job", "prompt changed", "--force"} {
		if !strings.Contains(errs, want) {
			t.Errorf("refusal does not say %q: %s", want, errs)
		}
	}
	if after, _ := os.ReadFile(journal); !bytes.Equal(before, after) {
		t.Errorf("a refused run changed the journal")
	}
	if code, errs := runLLMBatch(t, append(changed, "--force")...); code != exitOK {
		t.Errorf("--force: exit status = %d, want 0; stderr:\n%s", code, errs)
	}
}

func TestTornTail_ResumeCutsAndFinishes(t *testing.T) {
	skipShort(t)
	const n = 30
	dir := t.TempDir()
	input := writeRows(t, dir, n)
	journal := filepath.Join(dir, "results.jsonl")
	sim := startSimProc(t)
	args := jobArgs(input, journal, sim.base)
	if code, errs := runLLMBatch(t, args...); code != exitOK {
		t.Fatalf("first run exit status = %d; stderr:\n%s", code, errs)
	}
	st, err := os.Stat(journal)
	if err != nil {
		t.Fatal(err)
	}
	// Cut the last line in its middle, as a death mid-write would.
	if err := os.Truncate(journal, st.Size()-40); err != nil {
		t.Fatal(err)
	}
	if js := readJournalFile(t, journal); !js.torn || len(js.lines) != n-1 {
		t.Fatalf("after truncation: %d whole lines, torn %v", len(js.lines), js.torn)
	}
	code, errs := runLLMBatch(t, args...)
	if code != exitOK {
		t.Fatalf("resume exit status = %d; stderr:\n%s", code, errs)
	}
	if !strings.Contains(errs, "cut a torn last line") || !strings.Contains(errs, journal) {
		t.Errorf("resume does not report the cut, naming the journal: %s", errs)
	}
	checkComplete(t, readJournalFile(t, journal), n)
}

func TestJournalWriteError_StopsWithExit3(t *testing.T) {
	skipShort(t)
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh to set a file size limit")
	}
	const n = 200
	dir := t.TempDir()
	input := writeRows(t, dir, n)
	journal := filepath.Join(dir, "results.jsonl")
	sim := startSimProc(t)
	args := jobArgs(input, journal, sim.base, "--concurrency", "4")
	// A file size limit of 64 blocks of 512 bytes makes writes past 32 KiB
	// fail with EFBIG, as a full disk fails them with ENOSPC: the same path
	// through the journal, reachable without privileges. (Go ignores the
	// SIGXFSZ that comes with it.)
	cmd, stderr := llmbatchCmd(t, args...)
	cmd.Args = append([]string{"sh", "-c", `ulimit -f 64 && exec "$0" "$@"`, cmd.Path}, cmd.Args[1:]...)
	cmd.Path, _ = exec.LookPath("sh")
	err := cmd.Run()
	if got := exitStatus(t, cmd, err); got != exitStopped {
		t.Fatalf("exit status = %d, want %d; stderr:\n%s", got, exitStopped, stderr)
	}
	msg := stderr.String()
	for _, want := range []string{"cannot write the journal", "write journal " + journal, "file too large"} {
		if !strings.Contains(msg, want) {
			t.Errorf("stderr does not say %q:\n%s", want, msg)
		}
	}
	js := readJournalFile(t, journal)
	if len(js.lines) == 0 || len(js.lines) >= n {
		t.Fatalf("journal has %d whole lines, want some but not all", len(js.lines))
	}
	b, err := os.ReadFile(results.SummaryPath(journal))
	if err != nil {
		t.Fatal(err)
	}
	var sum results.Summary
	if err := json.Unmarshal(b, &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Rows.OK != int64(len(js.lines)) {
		t.Errorf("summary counts %d rows ok, the journal holds %d whole lines", sum.Rows.OK, len(js.lines))
	}
	t.Logf("stopped at %d whole lines (torn tail: %v): %s", len(js.lines), js.torn, strings.TrimSpace(msg))

	// Without the limit, the same command resumes, cutting any torn tail.
	if code, errs := runLLMBatch(t, args...); code != exitOK {
		t.Fatalf("resume exit status = %d; stderr:\n%s", code, errs)
	}
	checkComplete(t, readJournalFile(t, journal), n)
}

func readSummaryFile(t *testing.T, journal string) results.Summary {
	t.Helper()
	b, err := os.ReadFile(results.SummaryPath(journal))
	if err != nil {
		t.Fatal(err)
	}
	var sum results.Summary
	if err := json.Unmarshal(b, &sum); err != nil {
		t.Fatal(err)
	}
	return sum
}

func TestQuota_StopsWithExit3AndResumes(t *testing.T) {
	skipShort(t)
	const n = 120
	dir := t.TempDir()
	input := writeRows(t, dir, n)
	journal := filepath.Join(dir, "results.jsonl")
	sim := startSimProc(t, "--quota-after", "50")
	code, errs := runLLMBatch(t, jobArgs(input, journal, sim.base, "--concurrency", "4")...)
	if code != exitStopped {
		t.Fatalf("exit status = %d, want %d; stderr:\n%s", code, exitStopped, errs)
	}
	if !strings.Contains(errs, "quota") || !strings.Contains(errs, "re-run the same command") {
		t.Errorf("stderr does not explain the stop: %s", errs)
	}
	js := readJournalFile(t, journal)
	for _, l := range js.lines {
		if l.Error != nil {
			t.Errorf("row %s journalled with an error; a quota answer must leave it pending", l.CustomID)
		}
	}
	if len(js.lines) != 50 {
		t.Errorf("journal has %d rows, want the 50 the quota allowed", len(js.lines))
	}
	fresh := startSimProc(t)
	if code, errs := runLLMBatch(t, jobArgs(input, journal, fresh.base, "--concurrency", "4")...); code != exitOK {
		t.Fatalf("resume exit status = %d; stderr:\n%s", code, errs)
	}
	checkComplete(t, readJournalFile(t, journal), n)
	if got := fresh.stats(t).Requests; got != n-50 {
		t.Errorf("the resume sent %d requests, want %d", got, n-50)
	}
}

func TestResumePlan_PermanentFailuresSkippedUnlessRetryFailed(t *testing.T) {
	skipShort(t)
	const n = 200
	dir := t.TempDir()
	input := writeRows(t, dir, n)
	journal := filepath.Join(dir, "results.jsonl")
	sim := startSimProc(t, "--bad-request", "0.1", "--seed", "3")
	args := jobArgs(input, journal, sim.base)
	if code, errs := runLLMBatch(t, args...); code != exitRowsFailed {
		t.Fatalf("exit status = %d, want %d; stderr:\n%s", code, exitRowsFailed, errs)
	}
	failed := int64(0)
	for _, l := range readJournalFile(t, journal).lines {
		if l.Error != nil {
			failed++
		}
	}
	if failed == 0 {
		t.Fatal("no row failed; the test needs some")
	}
	before := sim.stats(t).Requests

	// A plain resume sends nothing: every row is final.
	if code, errs := runLLMBatch(t, args...); code != exitRowsFailed {
		t.Fatalf("resume exit status = %d; stderr:\n%s", code, errs)
	}
	if got := sim.stats(t).Requests; got != before {
		t.Errorf("a resume of a finished job sent %d requests", got-before)
	}
	// --retry-failed sends exactly the failed rows again; they fail again
	// (the sim rejects those bodies for good), and each counts once.
	if code, errs := runLLMBatch(t, append(args, "--retry-failed")...); code != exitRowsFailed {
		t.Fatalf("--retry-failed exit status = %d; stderr:\n%s", code, errs)
	}
	if got := int64(sim.stats(t).Requests - before); got != failed {
		t.Errorf("--retry-failed sent %d requests, want the %d failed rows", got, failed)
	}
	sum := readSummaryFile(t, journal)
	if sum.Rows.Failed != failed || sum.Rows.OK != n-failed {
		t.Errorf("summary rows = %+v, want %d failed and %d ok: each key counted once", sum.Rows, failed, n-failed)
	}
	if got := len(readJournalFile(t, journal).lines); int64(got) != n+failed {
		t.Errorf("journal has %d lines, want %d (the retried rows appended)", got, n+failed)
	}
}

func TestCorruptMiddle_RefusedWithLineNumber(t *testing.T) {
	skipShort(t)
	const n = 10
	dir := t.TempDir()
	input := writeRows(t, dir, n)
	journal := filepath.Join(dir, "results.jsonl")
	sim := startSimProc(t)
	args := jobArgs(input, journal, sim.base)
	if code, errs := runLLMBatch(t, args...); code != exitOK {
		t.Fatalf("first run exit status = %d; stderr:\n%s", code, errs)
	}
	data, err := os.ReadFile(journal)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	lines[3] = []byte("{\"custom_id\":\"k000003\",garbage\n")
	bad := bytes.Join(lines, nil)
	if err := os.WriteFile(journal, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	code, errs := runLLMBatch(t, args...)
	if code != exitUsage {
		t.Errorf("exit status = %d, want %d", code, exitUsage)
	}
	if !strings.Contains(errs, journal+":4:") || !strings.Contains(errs, "corrupt") {
		t.Errorf("refusal does not name the file and line 4: %s", errs)
	}
	if after, _ := os.ReadFile(journal); !bytes.Equal(after, bad) {
		t.Errorf("a refused run changed the corrupt journal")
	}
}

// TestSIGHUP_DrainsLikeAnInterrupt: a job whose terminal closes (SIGHUP)
// stops sending, journals the answers in flight and writes its summary,
// exit 130, instead of dying mid-run.
func TestSIGHUP_DrainsLikeAnInterrupt(t *testing.T) {
	skipShort(t)
	const n = 300
	dir := t.TempDir()
	input := writeRows(t, dir, n)
	journal := filepath.Join(dir, "results.jsonl")
	sim := startSimProc(t, "--latency", "50ms", "--latency-jitter", "50ms")
	cmd, stderr, status := startJob(t, jobArgs(input, journal, sim.base, "--concurrency", "8")...)
	if !waitFor(20*time.Second, func() bool { return len(readJournalFile(t, journal).lines) >= 20 }) {
		t.Fatalf("no rows journalled; stderr:\n%s", stderr)
	}
	cmd.Process.Signal(syscall.SIGHUP)
	if got := waitStatus(t, status, 30*time.Second, stderr); got != exitInterrupted {
		t.Fatalf("exit status = %d, want %d; stderr:\n%s", got, exitInterrupted, stderr)
	}
	lines := readJournalFile(t, journal).lines
	if st := sim.stats(t); st.Completed != len(lines) {
		t.Errorf("sim completed %d answers, the journal holds %d: the answers in flight were not drained", st.Completed, len(lines))
	}
	if sum := readSummaryFile(t, journal); sum.Rows.OK != int64(len(lines)) || !strings.Contains(sum.Run.Stopped, "interrupted") {
		t.Errorf("summary: %d ok, stopped %q; want %d and interrupted", sum.Rows.OK, sum.Run.Stopped, len(lines))
	}
}
