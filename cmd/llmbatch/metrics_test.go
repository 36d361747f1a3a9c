package main

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/llmbatch/llmbatch/io/sim"
)

// TestCLI_MetricsAddr runs shard 1 of 2 with --metrics-addr on a free
// loopback port and scrapes the address it logs while the job runs: the
// metrics are there, labelled by shard. A port that cannot be listened
// on is a usage error (exit 2) before anything is sent.
func TestCLI_MetricsAddr(t *testing.T) {
	srv := sim.New(sim.Config{Seed: 2, Latency: 150 * time.Millisecond})
	base, err := srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	dir := t.TempDir()
	out := filepath.Join(dir, "results.jsonl")
	stderr := new(syncBuffer)
	env := environ{getenv: func(k string) string {
		return map[string]string{"OPENAI_API_KEY": "sk-x", "JOB_COMPLETION_INDEX": "1"}[k]
	}, stdin: strings.NewReader(""), stdout: io.Discard, stderr: stderr}
	args := []string{"run", "--base-url", base, "--model", "gpt-5-mini", "--concurrency", "2", "--shards", "2",
		"--metrics-addr", "127.0.0.1:0", filepath.Join(examplesDir(t), "reviews.jsonl"), "-o", out}
	code := make(chan int, 1)
	go func() { code <- run(context.Background(), args, env) }()

	urlRE := regexp.MustCompile(`serving metrics"? url=(\S+)`)
	var body string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline) && body == ""; time.Sleep(20 * time.Millisecond) {
		m := urlRE.FindStringSubmatch(stderr.String())
		if m == nil {
			continue
		}
		resp, err := http.Get(m[1])
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(b), "llmbatch_rows{") {
			body = string(b)
		}
	}
	if c := <-code; c != exitOK {
		t.Fatalf("exit %d:\n%s", c, stderr)
	}
	for _, want := range []string{`llmbatch_rows{outcome="ok",shard="1",shards="2"}`, `llmbatch_requests_in_flight{shard="1",shards="2"}`} {
		if !strings.Contains(body, want) {
			t.Errorf("scrape lacks %s:\n%s", want, body)
		}
	}

	// An address that cannot be listened on: exit 2, nothing sent.
	before := srv.Stats().Requests
	env2, _, stderr2 := testEnv(map[string]string{"OPENAI_API_KEY": "sk-x"})
	if c := run(context.Background(), []string{"run", "--base-url", base, "--model", "gpt-5-mini", "--metrics-addr", "127.0.0.1:99999",
		filepath.Join(examplesDir(t), "reviews.jsonl"), "-o", filepath.Join(dir, "r2.jsonl")}, env2); c != exitUsage || !strings.Contains(stderr2.String(), "--metrics-addr") {
		t.Errorf("bad --metrics-addr: exit %d, stderr:\n%s", c, stderr2)
	}
	if srv.Stats().Requests != before {
		t.Errorf("requests sent despite the bad --metrics-addr")
	}
}
