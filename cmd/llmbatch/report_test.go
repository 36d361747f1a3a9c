package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmbatch/llmbatch/io/sim"
)

// reportJob runs a job over the rows of in (extra: flags) into a journal
// of its own and returns the journal.
func reportJob(t *testing.T, base, in, name string, extra ...string) string {
	t.Helper()
	out := filepath.Join(filepath.Dir(in), name)
	args := append([]string{"run", in, "-o", out, "--base-url", base, "--model", "gpt-5-mini", "--quiet"}, extra...)
	env, _, stderr := testEnv(map[string]string{"OPENAI_API_KEY": "sk-test-report-jobs-0123456789"})
	if code := run(context.Background(), args, env); code != exitOK {
		t.Fatalf("run %s: exit %d; stderr:\n%s", name, code, stderr)
	}
	return out
}

// writeShard writes rows from..to-1 as JSONL with ids k<from>...
func writeShard(t *testing.T, dir, name string, from, to int) string {
	t.Helper()
	var b strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, `{"id":"k%04d","text":"review %d"}`+"\n", i, i)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// report over journals of different jobs warns, naming each journal's
// job and what differs; the shards of one job (same settings, keys
// apart) do not.
func TestCLI_ReportWarnsOverDifferentJobs(t *testing.T) {
	_, base := startTestSim(t, sim.Config{Seed: 1})
	dir := t.TempDir()
	in := writeShard(t, dir, "in.jsonl", 0, 20)
	a := reportJob(t, base, in, "a.jsonl", "--id-column", "id", "--prompt", "Label: {{.text}}")
	b := reportJob(t, base, in, "b.jsonl", "--id-column", "id", "--prompt", "Summarize: {{.text}}")
	code, stdout, stderr := runCLI(t, "report", a, b)
	if code != exitOK {
		t.Fatalf("report: exit %d; stderr:\n%s", code, stderr)
	}
	for _, want := range []string{"warning: these journals hold 2 different jobs", a + ": job ", b + ": job ",
		"they differ in: prompt", "20 keys are in more than one of them", "report each job's journals apart"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if !strings.Contains(stdout, "rows: 20 keys") {
		t.Errorf("stdout: %s", stdout)
	}

	// Shards: other inputs, the same settings, ids unique across them.
	s1 := reportJob(t, base, writeShard(t, dir, "s1.jsonl", 0, 10), "s1.out.jsonl", "--id-column", "id", "--prompt", "Label: {{.text}}")
	s2 := reportJob(t, base, writeShard(t, dir, "s2.jsonl", 10, 20), "s2.out.jsonl", "--id-column", "id", "--prompt", "Label: {{.text}}")
	if code, _, stderr := runCLI(t, "report", s1, s2); code != exitOK || strings.Contains(stderr, "warning") {
		t.Errorf("shards of one job: exit %d; stderr:\n%s", code, stderr)
	}
	// The same journal twice is one job.
	if code, _, stderr := runCLI(t, "report", a, a); code != exitOK || strings.Contains(stderr, "warning") {
		t.Errorf("one journal twice: exit %d; stderr:\n%s", code, stderr)
	}
	// Shards keyed by index: keys "0".."9" in both, counted once.
	i1 := reportJob(t, base, writeShard(t, dir, "i1.jsonl", 0, 10), "i1.out.jsonl", "--prompt", "Label: {{.text}}")
	i2 := reportJob(t, base, writeShard(t, dir, "i2.jsonl", 10, 20), "i2.out.jsonl", "--prompt", "Label: {{.text}}")
	code, _, stderr = runCLI(t, "report", i1, i2)
	for _, want := range []string{"2 different jobs", "they differ in their input only", "10 keys are in more than one of them", "--id-column"} {
		if code != exitOK || !strings.Contains(stderr, want) {
			t.Errorf("shards keyed by index: exit %d; stderr lacks %q:\n%s", code, want, stderr)
		}
	}
}
