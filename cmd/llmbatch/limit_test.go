package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/llmbatch/llmbatch/io/sim"
)

// countingEndpoint serves the simulator behind a handler that counts the
// requests per input text, and returns the base URL and the counts.
func countingEndpoint(t *testing.T) (string, func() map[string]int) {
	t.Helper()
	s := sim.New(sim.Config{})
	var (
		mu   sync.Mutex
		seen = map[string]int{}
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req struct {
			Input string `json:"input"`
		}
		_ = json.Unmarshal(body, &req)
		mu.Lock()
		seen[req.Input]++
		mu.Unlock()
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		s.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/v1", func() map[string]int {
		mu.Lock()
		defer mu.Unlock()
		out := map[string]int{}
		for k, v := range seen {
			out[k] = v
		}
		return out
	}
}

func writeIDRows(t *testing.T, dir string, n int) string {
	t.Helper()
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `{"id":"r%02d","text":"review %d"}`+"\n", i, i)
	}
	in := filepath.Join(dir, "in.jsonl")
	if err := os.WriteFile(in, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return in
}

func TestRun_LimitThenRest(t *testing.T) {
	dir := t.TempDir()
	in := writeIDRows(t, dir, 25)
	base, seen := countingEndpoint(t)
	journal := filepath.Join(dir, "out.jsonl")
	args := []string{"run", in, "-o", journal, "--base-url", base, "--model", "gpt-5-mini", "--id-column", "id", "--prompt", "{{.text}}"}
	vars := map[string]string{"OPENAI_API_KEY": "sk-test-limit-0123456789"}

	env, _, stderr := testEnv(vars)
	if code := run(context.Background(), append(args, "--limit", "10"), env); code != exitOK {
		t.Fatalf("--limit 10: exit %d; stderr:\n%s", code, stderr)
	}
	if got := seen(); len(got) != 10 {
		t.Errorf("--limit 10 sent %d rows, want 10", len(got))
	}
	if !strings.Contains(stderr.String(), "--limit 10: 15 rows not read yet") {
		t.Errorf("stderr lacks the --limit hint:\n%s", stderr)
	}

	env, _, stderr = testEnv(vars)
	if code := run(context.Background(), args, env); code != exitOK {
		t.Fatalf("without --limit: exit %d; stderr:\n%s", code, stderr)
	}
	got := seen()
	if len(got) != 25 {
		t.Errorf("sent %d distinct rows in all, want 25", len(got))
	}
	for text, n := range got {
		if n != 1 {
			t.Errorf("%q sent %d times, want once", text, n)
		}
	}
	if !strings.Contains(stderr.String(), "10 done earlier") {
		t.Errorf("second run's stderr lacks \"10 done earlier\":\n%s", stderr)
	}

	env, _, stderr = testEnv(vars)
	if code := run(context.Background(), append(args, "--limit", "-1"), env); code != exitUsage {
		t.Errorf("--limit -1: exit %d, want %d; stderr:\n%s", code, exitUsage, stderr)
	}
}
