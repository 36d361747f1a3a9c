package main

import (
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestRun_Completion: each shell's script names every command and, for
// each, the flags its flag set defines (checked against a few of each
// command's flags, and all of run's).
func TestRun_Completion(t *testing.T) {
	var o runOptions
	fs := newFlagSet("run", &flagCollector{}, "")
	o.register(fs, environ{getenv: func(string) string { return "" }})
	var runFlags []string
	fs.VisitAll(func(f *flag.Flag) { runFlags = append(runFlags, f.Name) })
	if len(runFlags) < 20 {
		t.Fatalf("run defines %d flags", len(runFlags))
	}
	for _, shell := range []string{"bash", "zsh", "fish"} {
		env, stdout, stderr := testEnv(nil)
		if code := run(context.Background(), []string{"completion", shell}, env); code != exitOK {
			t.Fatalf("%s: exit %d\n%s", shell, code, stderr)
		}
		script := stdout.String()
		for _, w := range []string{"run", "estimate", "report", "export", "simulate", "version", "completion", "help",
			"assume-output", "shuffle-embeddings", "format", "json"} {
			if !strings.Contains(script, w) {
				t.Errorf("%s script lacks %q", shell, w)
			}
		}
		for _, f := range append(runFlags, "H") {
			want := "--" + f
			if shell == "fish" {
				want = "-l " + f
			}
			if len(f) == 1 {
				want = "-" + f
				if shell == "fish" {
					want = "-s " + f
				}
			}
			if !strings.Contains(script, want) {
				t.Errorf("%s script lacks run's flag %s", shell, want)
			}
		}
	}
	env, _, stderr := testEnv(nil)
	if code := run(context.Background(), []string{"completion", "powershell"}, env); code != exitUsage || !strings.Contains(stderr.String(), "bash, zsh or fish") {
		t.Errorf("completion powershell: exit %d, %s", code, stderr)
	}
}

// TestCompletion_Bash sources the bash script in bash and asks it to
// complete a few command lines, as the shell does on Tab.
func TestCompletion_Bash(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	env, stdout, _ := testEnv(nil)
	if code := run(context.Background(), []string{"completion", "bash"}, env); code != exitOK {
		t.Fatal(code)
	}
	script := filepath.Join(t.TempDir(), "llmbatch.bash")
	if err := os.WriteFile(script, stdout.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		words []string
		want  string
	}{
		{[]string{"llmbatch", "es"}, "estimate"},
		{[]string{"llmbatch", "run", "--conc"}, "--concurrency"},
		{[]string{"llmbatch", "run", "in.jsonl", "--max-c"}, "--max-cost"},
		{[]string{"llmbatch", "export", "--for"}, "--format"},
		{[]string{"llmbatch", "completion", "z"}, "zsh"},
		{[]string{"llmbatch", "help", "sim"}, "simulate"},
		{[]string{"llmbatch", "run", "--concurrency", ""}, ""}, // a value: file names
	} {
		words := strings.Join(tc.words, " ")
		if strings.HasSuffix(words, " ") || tc.words[len(tc.words)-1] == "" {
			words = strings.Join(tc.words[:len(tc.words)-1], " ") + " ''"
		}
		cmd := exec.Command(bash, "--norc", "-c", `source "$1"; COMP_WORDS=(`+words+`); COMP_CWORD=$((${#COMP_WORDS[@]}-1)); _llmbatch; echo "${COMPREPLY[*]}"`, "bash", script)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", words, err, out)
		}
		if got := strings.TrimSpace(string(out)); got != tc.want {
			t.Errorf("complete %q: %q, want %q", words, got, tc.want)
		}
	}
}
