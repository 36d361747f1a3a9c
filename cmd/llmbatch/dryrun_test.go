package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRun_DryRun(t *testing.T) {
	dir := t.TempDir()
	in := writeIDRows(t, dir, 5)
	base, seen := countingEndpoint(t)
	key := "sk-dry-run-TOPSECRET-42abcd"
	env, stdout, stderr := testEnv(map[string]string{"OPENAI_API_KEY": key})
	args := []string{"run", in, "-o", filepath.Join(dir, "out.jsonl"), "--base-url", base, "--model", "gpt-5-mini",
		"--id-column", "id", "--prompt", "{{.text}}", "--dry-run", "--limit", "3"}
	if code := run(context.Background(), args, env); code != exitOK {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr)
	}
	out := stdout.String() + stderr.String()
	if strings.Contains(out, key) || strings.Contains(out, "TOPSECRET") {
		t.Fatalf("the key was printed:\n%s", out)
	}
	if n := len(seen()); n != 0 {
		t.Errorf("%d requests sent, want 0", n)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%d entries in the dir after --dry-run, want only the input", len(entries))
	}
	for _, want := range []string{"POST " + base + "/responses\n", "Authorization: Bearer sk-...abcd\n",
		`{"input":"review 0","model":"gpt-5-mini"}`, `{"input":"review 2","model":"gpt-5-mini"}`} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout.String(), "review 3") {
		t.Errorf("stdout shows a 4th request with --limit 3:\n%s", stdout)
	}
}
