package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/llmbatch/llmbatch/io/results"
	"github.com/llmbatch/llmbatch/io/sim"
)

// testEnv returns an environ with the given variables and captured output.
func testEnv(vars map[string]string) (environ, *bytes.Buffer, *bytes.Buffer) {
	var stdout, stderr bytes.Buffer
	var mu sync.Mutex // a terminal takes writes from several goroutines; so must the buffers
	return environ{
		getenv: func(k string) string { return vars[k] },
		stdin:  strings.NewReader(""),
		stdout: &lockedWriter{mu: &mu, w: &stdout},
		stderr: &lockedWriter{mu: &mu, w: &stderr},
	}, &stdout, &stderr
}

// lockedWriter serializes the writes to w.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func examplesDir(tb testing.TB) string {
	tb.Helper()
	dir, err := filepath.Abs("../../examples")
	if err != nil {
		tb.Fatal(err)
	}
	return dir
}

// TestRun_ReadmeDemo runs the README's first command.
func TestRun_ReadmeDemo(t *testing.T) {
	out := filepath.Join(t.TempDir(), "results.jsonl")
	env, stdout, stderr := testEnv(nil)
	code := run(context.Background(), []string{"run", "--sim", filepath.Join(examplesDir(t), "reviews.jsonl"), "-o", out}, env)
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout = %q, want nothing (only asked-for output goes there)", stdout)
	}
	info, err := results.Scan(out, nil)
	if err != nil || info.Lines != 40 {
		t.Errorf("journal: %d lines, %v; want 40", info.Lines, err)
	}
	for _, want := range []string{"40 ok", "journal: " + out} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	// Running it again resumes: nothing left to send.
	env, _, stderr = testEnv(nil)
	if code := run(context.Background(), []string{"run", "--sim", filepath.Join(examplesDir(t), "reviews.jsonl"), "-o", out}, env); code != exitOK {
		t.Fatalf("second run: exit %d, stderr:\n%s", code, stderr)
	}
	if !strings.Contains(stderr.String(), "0 requests") || !strings.Contains(stderr.String(), "40 done earlier") {
		t.Errorf("second run did not skip the finished rows:\n%s", stderr)
	}
}

func TestRun_UnauthorizedExits3WithoutLeakingKey(t *testing.T) {
	const key = "sk-test-DO-NOT-PRINT-31337"
	s := sim.New(sim.Config{APIKey: "sk-the-right-one"})
	base, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out := filepath.Join(t.TempDir(), "results.jsonl")
	env, stdout, stderr := testEnv(map[string]string{"OPENAI_API_KEY": key})
	code := run(context.Background(), []string{"run", "--base-url", base, "--model", "gpt-5-mini",
		"--prompt", "Label: {{.text}}", filepath.Join(examplesDir(t), "reviews.jsonl"), "-o", out}, env)
	if code != exitStopped {
		t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitStopped, stderr)
	}
	msg := stderr.String()
	for _, want := range []string{"401", "re-run the same command to resume"} {
		if !strings.Contains(msg, want) {
			t.Errorf("stderr lacks %q:\n%s", want, msg)
		}
	}
	files := []string{out, results.SummaryPath(out)}
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if bytes.Contains(b, []byte(key)) {
			t.Errorf("%s contains the API key", f)
		}
	}
	if strings.Contains(msg+stdout.String(), key) {
		t.Errorf("output contains the API key")
	}
}

func TestRun_UsageErrors(t *testing.T) {
	dir := t.TempDir()
	noCol := filepath.Join(dir, "nocol.jsonl")
	os.WriteFile(noCol, []byte(`{"question":"a","answer":"b"}`+"\n"), 0o644)
	reviews := filepath.Join(examplesDir(t), "reviews.jsonl")
	out := filepath.Join(dir, "r.jsonl")
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"NoInput", []string{"run", "-o", out}, nil, "no INPUT"},
		{"NoOutput", []string{"run", "--sim", reviews}, nil, "-o results.jsonl"},
		{"NoKey", []string{"run", "--model", "m", reviews, "-o", out}, nil, "set OPENAI_API_KEY"},
		{"NoModel", []string{"run", reviews, "-o", out}, map[string]string{"OPENAI_API_KEY": "k"}, "no model"},
		{"NoInputColumn", []string{"run", "--sim", noCol, "-o", out}, nil, "columns found: answer, question"},
		{"BadTemplate", []string{"run", "--sim", "--prompt", "{{.text", reviews, "-o", out}, nil, "--prompt template"},
		{"UnknownCommand", []string{"frobnicate"}, nil, "unknown command"},
		{"BadFlag", []string{"run", "--nope"}, nil, "flag provided but not defined"},
		{"MissingFile", []string{"run", "--sim", filepath.Join(dir, "absent.jsonl"), "-o", out}, nil, "absent.jsonl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, _, stderr := testEnv(tt.env)
			if code := run(context.Background(), tt.args, env); code != exitUsage {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, exitUsage, stderr)
			}
			if !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("stderr lacks %q:\n%s", tt.want, stderr)
			}
		})
	}
}

func TestRun_BadRowIsJournalledAndExits1(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.jsonl")
	os.WriteFile(in, []byte("{\"text\":\"good one\"}\n{\"text\": broken\n{\"text\":\"good two\"}\n"), 0o644)
	out := filepath.Join(dir, "r.jsonl")
	env, _, stderr := testEnv(nil)
	if code := run(context.Background(), []string{"run", "--sim", in, "-o", out}, env); code != exitRowsFailed {
		t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitRowsFailed, stderr)
	}
	b, _ := os.ReadFile(out)
	if !strings.Contains(string(b), `"code":"bad_input"`) || !strings.Contains(string(b), in+`:2: invalid JSON`) {
		t.Errorf("journal lacks the bad row's error naming file and line:\n%s", b)
	}
	env, _, stderr = testEnv(nil)
	out2 := filepath.Join(dir, "strict.jsonl")
	if code := run(context.Background(), []string{"run", "--sim", "--strict", "--concurrency", "1", in, "-o", out2}, env); code != exitUsage {
		t.Fatalf("--strict: exit %d, want %d; stderr:\n%s", code, exitUsage, stderr)
	}
	if !strings.Contains(stderr.String(), in+":2:") {
		t.Errorf("--strict stderr lacks the position:\n%s", stderr)
	}
}

func TestParseInterspersed(t *testing.T) {
	var o runOptions
	fs := newFlagSet("run", &bytes.Buffer{}, "")
	o.register(fs, environ{getenv: func(string) string { return "" }})
	pos, err := parseInterspersed(fs, []string{"--sim", "in.jsonl", "-o", "out.jsonl", "--", "-odd.jsonl"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(pos, " "), "in.jsonl -odd.jsonl"; got != want || o.Output != "out.jsonl" || !o.Sim {
		t.Errorf("positional %q, output %q, sim %v; want %q, out.jsonl, true", got, o.Output, o.Sim, want)
	}
}
