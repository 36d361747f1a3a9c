package main

import (
	"context"
	"runtime/debug"
	"strings"
	"testing"
)

// TestRun_Version: "version", "--version" and "-version" print one line on
// stdout with the module version and commit and exit 0.
func TestRun_Version(t *testing.T) {
	for _, arg := range []string{"version", "--version", "-version"} {
		env, stdout, stderr := testEnv(nil)
		if code := run(context.Background(), []string{arg}, env); code != exitOK {
			t.Fatalf("%s: exit %d\n%s", arg, code, stderr)
		}
		out := stdout.String()
		if !strings.HasPrefix(out, "llmbatch ") || !strings.Contains(out, " commit ") || strings.Count(out, "\n") != 1 {
			t.Errorf("%s printed %q, want one line 'llmbatch VERSION commit COMMIT ...'", arg, out)
		}
	}
}

func TestVersionLine(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Path: "github.com/llmbatch/llmbatch", Version: "v0.3.1"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "8e6ab88aa"}, {Key: "vcs.time", Value: "2026-11-29T10:00:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	for _, tc := range []struct {
		bi   *debug.BuildInfo
		ok   bool
		want string
	}{
		{bi, true, "llmbatch v0.3.1 commit 8e6ab88aa (2026-11-29T10:00:00Z) with local changes go1.26.0"},
		{&debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"}}, true, "llmbatch (devel) commit (devel) go1.26.0"},
		{&debug.BuildInfo{}, true, "llmbatch (devel) commit (devel)"},
		{nil, false, "llmbatch (devel) commit (devel)"},
	} {
		if got := versionLine(tc.bi, tc.ok); got != tc.want {
			t.Errorf("versionLine = %q, want %q", got, tc.want)
		}
	}
}

// TestRun_HelpCommand: "help run" prints what "run -h" prints, with the
// same exit status; "help" alone prints the overview.
func TestRun_HelpCommand(t *testing.T) {
	for _, cmd := range []string{"run", "estimate", "report", "export", "simulate"} {
		env1, out1, err1 := testEnv(nil)
		c1 := run(context.Background(), []string{"help", cmd}, env1)
		env2, out2, err2 := testEnv(nil)
		c2 := run(context.Background(), []string{cmd, "-h"}, env2)
		if c1 != c2 || out1.String() != out2.String() || err1.String() != err2.String() {
			t.Errorf("help %s: exit %d, %q %q; %s -h: exit %d", cmd, c1, out1, err1, cmd, c2)
		}
		if c1 != exitOK || !strings.Contains(out1.String()+err1.String(), "Usage: llmbatch "+cmd) {
			t.Errorf("help %s: exit %d, output %q", cmd, c1, out1.String()+err1.String())
		}
	}
	env, stdout, _ := testEnv(nil)
	if code := run(context.Background(), []string{"help"}, env); code != exitOK || !strings.Contains(stdout.String(), "llmbatch version") {
		t.Errorf("help: exit %d, %q", code, stdout)
	}
}
