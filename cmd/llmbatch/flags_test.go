package main

import (
	"context"
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
