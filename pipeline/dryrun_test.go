package pipeline_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/llmbatch/llmbatch/io/sim"
	"github.com/llmbatch/llmbatch/pipeline"
)

const dryKey = "sk-proj-dryrun-SECRET-0123456789wxyz"

// DryRun prints what Run sends, byte for byte in the body and header for
// header (the key masked), and creates no file.
func TestDryRun_PrintsWhatRunSends(t *testing.T) {
	dir := t.TempDir()
	in := writeInput(t, dir, 5)
	s := sim.New(sim.Config{})
	var (
		mu     sync.Mutex
		bodies [][]byte
		hdrs   []http.Header
	)
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, body)
		hdrs = append(hdrs, r.Header.Clone())
		mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		s.ServeHTTP(w, r)
	}))
	defer gw.Close()

	cfg := baseConfig(dir, in, gw.URL+"/v1")
	cfg.APIKey = dryKey
	cfg.Header = http.Header{"Api-Key": {dryKey}, "X-Team": {"search"}}
	cfg.Body = []byte(`{"temperature": 0, "max_output_tokens": 50}`)
	cfg.Limit = 2

	var out bytes.Buffer
	if err := pipeline.DryRun(context.Background(), cfg, &out); err != nil {
		t.Fatalf("DryRun() error = %v", err)
	}
	got := out.String()
	if strings.Contains(got, dryKey) || strings.Contains(got, "SECRET") {
		t.Fatalf("dry run printed the key:\n%s", got)
	}
	if len(bodies) != 0 {
		t.Fatalf("dry run sent %d requests, want 0", len(bodies))
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "in.jsonl" {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("dir holds %q after a dry run, want only the input", names)
	}
	if n := strings.Count(got, "POST "+gw.URL+"/v1/responses\n"); n != 2 {
		t.Errorf("%d requests printed, want 2 (Limit):\n%s", n, got)
	}
	for _, want := range []string{"Authorization: Bearer sk-...wxyz\n", "Api-Key: sk-...wxyz\n", "X-Team: search\n",
		"Content-Type: application/json\n", `key "k00000"`, `key "k00001"`} {
		if !strings.Contains(got, want) {
			t.Errorf("dry run lacks %q:\n%s", want, got)
		}
	}

	// The real run: its first request is the one printed first.
	cfg.Limit = 1
	cfg.Concurrency = 1
	if _, err := pipeline.Run(context.Background(), cfg); err != nil {
		t.Fatalf("Run() error = %v", err)
	}
	if len(bodies) != 1 {
		t.Fatalf("Run sent %d requests, want 1", len(bodies))
	}
	if !strings.Contains(got, "\n\n"+string(bodies[0])+"\n") {
		t.Errorf("sent body\n%s\nis not in the dry run's output:\n%s", bodies[0], got)
	}
	for name, vs := range hdrs[0] {
		switch name {
		case "Authorization", "Api-Key", "Content-Length", "Accept-Encoding":
			continue // masked, or added by net/http
		}
		for _, v := range vs {
			if !strings.Contains(got, name+": "+v+"\n") {
				t.Errorf("sent header %s: %s is not in the dry run's output", name, v)
			}
		}
	}
}

// Masking: a short key is never shown, in any part; the key never
// appears through a bad row's message either.
func TestDryRun_ShortKeyAndBadRow(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.jsonl")
	if err := os.WriteFile(in, []byte("{broken\n"+`{"id":"a","text":"hello"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := baseConfig(dir, in, "http://127.0.0.1:9/v1")
	cfg.APIKey = "abc12"
	cfg.RawAuth = true
	var out bytes.Buffer
	if err := pipeline.DryRun(context.Background(), cfg, &out); err != nil {
		t.Fatalf("DryRun() error = %v", err)
	}
	got := out.String()
	for _, want := range []string{"# bad row, skipped", "in.jsonl:1", "Authorization: ***\n", `"input":"Label the sentiment of: hello"`} {
		if !strings.Contains(got, want) {
			t.Errorf("dry run lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "abc12") {
		t.Errorf("dry run printed the short key:\n%s", got)
	}
	if n := strings.Count(got, "POST "); n != 1 {
		t.Errorf("%d requests printed, want 1 (the default)", n)
	}
	cfg.Strict = true
	var uerr *pipeline.UsageError
	if err := pipeline.DryRun(context.Background(), cfg, io.Discard); !errors.As(err, &uerr) || !strings.Contains(err.Error(), "Config.Strict") {
		t.Errorf("DryRun(Strict) error = %v, want a *UsageError at the bad row, as Run", err)
	}
}

func TestMaskKey(t *testing.T) {
	for key, want := range map[string]string{"sk-abcdefgh1234": "sk-...1234", "gw-0123456789": "...6789", "1234567": "***", "": "***"} {
		if got := pipeline.MaskKey(key); got != want {
			t.Errorf("MaskKey(%q) = %q, want %q", key, got, want)
		}
	}
}

// For an API that packs rows, Limit counts rows as Run's does: the dry run
// shows the packs of the first Limit rows; without Limit, the first pack.
func TestDryRun_EmbeddingsPacks(t *testing.T) {
	dir := t.TempDir()
	cfg := baseConfig(dir, writeInput(t, dir, 5), "http://127.0.0.1:9/v1")
	a, ok := pipeline.LookupAPI("embeddings")
	if !ok {
		t.Fatal("no embeddings API")
	}
	cfg.API, cfg.Model, cfg.Prompt = a, "text-embedding-3-small", ""
	for limit, want := range map[int64][]string{3: {"k00000", "k00002"}, 0: {"k00000", "k00004"}} {
		cfg.Limit = limit
		var out bytes.Buffer
		if err := pipeline.DryRun(context.Background(), cfg, &out); err != nil {
			t.Fatalf("DryRun(Limit %d) error = %v", limit, err)
		}
		got := out.String()
		if n := strings.Count(got, "POST http://127.0.0.1:9/v1/embeddings\n"); n != 1 {
			t.Errorf("Limit %d: %d requests, want 1 pack:\n%s", limit, n, got)
		}
		if head := `keys "` + want[0] + `" to "` + want[1] + `"`; !strings.Contains(got, head) {
			t.Errorf("Limit %d: output lacks %s:\n%s", limit, head, got)
		}
	}
}
