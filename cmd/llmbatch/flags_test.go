package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRun_BadFlagIsOneLine: an unknown flag or a bad value prints one
// line naming it and pointing to -h (not the usage, not the error twice)
// and exits 2, for every command.
func TestRun_BadFlagIsOneLine(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "-foo", "in.jsonl"}, "llmbatch: run: flag provided but not defined: -foo; see llmbatch run -h\n"},
		{[]string{"run", "in.jsonl", "--concurrency", "many"}, `llmbatch: run: invalid value "many" for flag -concurrency: parse error; see llmbatch run -h` + "\n"},
		{[]string{"estimate", "--nope"}, "llmbatch: estimate: flag provided but not defined: -nope; see llmbatch estimate -h\n"},
		{[]string{"report", "r.jsonl", "-x"}, "llmbatch: report: flag provided but not defined: -x; see llmbatch report -h\n"},
		{[]string{"export", "-csv"}, "llmbatch: export: flag provided but not defined: -csv; see llmbatch export -h\n"},
		{[]string{"simulate", "--port", "1"}, "llmbatch: simulate: flag provided but not defined: -port; see llmbatch simulate -h\n"},
	} {
		env, stdout, stderr := testEnv(nil)
		code := run(context.Background(), tc.args, env)
		if code != exitUsage || stderr.String() != tc.want || stdout.Len() != 0 {
			t.Errorf("%q: exit %d, stderr\n%s\nwant exit 2 and %q", tc.args, code, stderr, tc.want)
		}
	}
}

// TestRun_HelpListsExitStatuses: "run -h" prints the usage once, with
// every exit status.
func TestRun_HelpListsExitStatuses(t *testing.T) {
	env, _, stderr := testEnv(nil)
	if code := run(context.Background(), []string{"run", "-h"}, env); code != exitOK {
		t.Fatalf("exit %d", code)
	}
	h := stderr.String()
	if strings.Count(h, "Usage: llmbatch run") != 1 || strings.Count(h, "-concurrency") != 1 {
		t.Errorf("run -h printed the usage %d times:\n%s", strings.Count(h, "Usage: llmbatch run"), h)
	}
	for _, want := range []string{"Exit status: 0 ", "; 1 ", "; 2 bad usage", "; 3 stopped", "; 130 interrupted"} {
		if !strings.Contains(h, want) {
			t.Errorf("run -h lacks %q", want)
		}
	}
}

// TestRun_OutputMustBeJSONL: -o naming a CSV, Parquet or other file is a
// usage error pointing to export, before anything is read or written;
// .jsonl, .ndjson (any case) and no extension are journals.
func TestRun_OutputMustBeJSONL(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(examplesDir(t), "reviews.jsonl")
	for _, tc := range []struct{ out, want string }{
		{"results.csv", "llmbatch export " + filepath.Join(dir, "results.jsonl") + " -o " + filepath.Join(dir, "results.csv")},
		{"results.parquet", "llmbatch export " + filepath.Join(dir, "results.jsonl") + " -o " + filepath.Join(dir, "results.parquet")},
		{"results.json", "-o FILE.csv|FILE.parquet"},
		{"results.txt", "-o FILE.csv|FILE.parquet"},
	} {
		out := filepath.Join(dir, tc.out)
		env, _, stderr := testEnv(nil)
		code := run(context.Background(), []string{"run", "--sim", in, "-o", out}, env)
		if code != exitUsage || !strings.Contains(stderr.String(), tc.want) || strings.Count(stderr.String(), "\n") != 1 {
			t.Errorf("-o %s: exit %d, stderr:\n%s\nwant exit 2 and %q", tc.out, code, stderr, tc.want)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("-o %s: the file was created (%v)", tc.out, err)
		}
	}
	for _, name := range []string{"r.jsonl", "r.NDJSON", "r"} {
		out := filepath.Join(dir, name)
		env, _, stderr := testEnv(nil)
		if code := run(context.Background(), []string{"run", "--sim", "--sim-faults=false", "--sim-latency", "1ms", in, "-o", out}, env); code != exitOK {
			t.Errorf("-o %s: exit %d\n%s", name, code, stderr)
		}
	}
}
