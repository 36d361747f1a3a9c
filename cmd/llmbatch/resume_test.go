package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmbatch/llmbatch/io/results"
)

// runStdin runs "llmbatch run" with stdin and returns the exit status and
// stderr.
func runStdin(t *testing.T, stdin string, args ...string) (int, string) {
	t.Helper()
	env, _, stderr := testEnv(nil)
	env.stdin = strings.NewReader(stdin)
	return run(context.Background(), append([]string{"run"}, args...), env), stderr.String()
}

func lines(from, to int) string {
	var b strings.Builder
	for i := from; i <= to; i++ {
		fmt.Fprintf(&b, `{"text":"review %d"}`+"\n", i)
	}
	return b.String()
}

func TestResume_StdinWithOtherRowsIsRefused(t *testing.T) {
	dir := t.TempDir()
	journal := filepath.Join(dir, "j.jsonl")
	args := []string{"--sim", "--sim-faults=false", "--sim-latency", "1ms", "-o", journal, "-"}
	if code, errs := runStdin(t, lines(1, 3), args...); code != exitOK {
		t.Fatalf("first run: exit %d; stderr:\n%s", code, errs)
	}
	// The same rows again: a resume with nothing to send.
	if code, errs := runStdin(t, lines(1, 3), args...); code != exitOK || !strings.Contains(errs, "3 done earlier") {
		t.Fatalf("same rows: exit %d; stderr:\n%s", code, errs)
	}
	// Rows 4-6 have keys 0-2 too: refused, naming the first.
	code, errs := runStdin(t, lines(4, 6), args...)
	if code != exitUsage {
		t.Fatalf("other rows: exit %d, want %d; stderr:\n%s", code, exitUsage, errs)
	}
	for _, want := range []string{"-:1", `key "0"`, "request body differs", "--id-column", "--force"} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
	info, err := results.Scan(journal, nil)
	if err != nil || info.Lines != 3 {
		t.Errorf("journal: %d lines, %v; want the 3 of the first run", info.Lines, err)
	}
	// --force keeps the journalled results and skips those rows.
	if code, errs := runStdin(t, lines(4, 6), append(args, "--force")...); code != exitOK || !strings.Contains(errs, "request differs") {
		t.Errorf("--force: exit %d; stderr:\n%s", code, errs)
	}
}

func TestResume_EditedMiddleOfTheInputIsRefused(t *testing.T) {
	dir := t.TempDir()
	// Big enough that the fingerprint's head and tail miss the middle.
	var b strings.Builder
	for i := range 3000 {
		fmt.Fprintf(&b, `{"id":"r%04d","text":"review number %04d, which was fine"}`+"\n", i, i)
	}
	input := filepath.Join(dir, "in.jsonl")
	if err := os.WriteFile(input, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	journal := filepath.Join(dir, "j.jsonl")
	args := []string{"run", "--sim", "--sim-faults=false", "--sim-latency", "1ms", "--concurrency", "64", "--id-column", "id", input, "-o", journal}
	env, _, stderr := testEnv(nil)
	if code := run(context.Background(), args, env); code != exitOK {
		t.Fatalf("first run: exit %d; stderr:\n%s", code, stderr)
	}
	edited := strings.Replace(b.String(), "review number 1500,", "review number 1501,", 1)
	if err := os.WriteFile(input, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	env, _, stderr = testEnv(nil)
	if code := run(context.Background(), args, env); code != exitUsage || !strings.Contains(stderr.String(), `in.jsonl:1501 (key "r1500")`) {
		t.Fatalf("edited input: exit %d, want %d naming line 1501; stderr:\n%s", code, exitUsage, stderr)
	}
}

func TestCLI_BaseURLWithoutSchemeExits2(t *testing.T) {
	in := filepath.Join(examplesDir(t), "reviews.jsonl")
	out := filepath.Join(t.TempDir(), "j.jsonl")
	for _, vars := range []map[string]string{{"OPENAI_BASE_URL": "127.0.0.1:8099/v1"}, {"OPENAI_BASE_URL": "localhost:8099"}} {
		vars["OPENAI_API_KEY"] = "k-test"
		env, _, stderr := testEnv(vars)
		code := run(context.Background(), []string{"run", "--model", "gpt-5-mini", in, "-o", out}, env)
		if code != exitUsage {
			t.Errorf("%s: exit %d, want %d; stderr:\n%s", vars["OPENAI_BASE_URL"], code, exitUsage, stderr)
		}
		for _, want := range []string{"--base-url", "OPENAI_BASE_URL", "http(s)://host[:port]/v1"} {
			if !strings.Contains(stderr.String(), want) {
				t.Errorf("stderr lacks %q:\n%s", want, stderr)
			}
		}
	}
}

func TestCLI_ExportWriteErrorExits1(t *testing.T) {
	dir := t.TempDir()
	journal := filepath.Join(dir, "j.jsonl")
	if code, errs := runStdin(t, lines(1, 3), "--sim", "--sim-faults=false", "--sim-latency", "1ms", "-o", journal, "-"); code != exitOK {
		t.Fatalf("run: exit %d; stderr:\n%s", code, errs)
	}
	out := filepath.Join(dir, "missing-dir", "out.csv")
	env, _, stderr := testEnv(nil)
	if code := run(context.Background(), []string{"export", journal, "-o", out}, env); code != exitRowsFailed || !strings.Contains(stderr.String(), out) {
		t.Errorf("export to a missing dir: exit %d, want %d naming %s; stderr:\n%s", code, exitRowsFailed, out, stderr)
	}
}
