package pipeline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/llmbatch/llmbatch/io/sim"
	"github.com/llmbatch/llmbatch/pipeline"
)

// --limit N runs the first N rows (a bad row counts), then ends like the
// input; a run without it resumes the same journal and sends the rest,
// each row once. Behind a gateway that counts the prompts it forwards.
func TestRun_LimitThenResume(t *testing.T) {
	dir := t.TempDir()
	in := writeInput(t, dir, 30)
	// Row 4 (0-based 3) is not JSON: a bad row, read but not sent.
	b, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	lines[3] = "{not json\n"
	if err := os.WriteFile(in, []byte(strings.Join(lines, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	s, _ := startSim(t, sim.Config{})
	var (
		mu   sync.Mutex
		seen = map[string]int{}
	)
	gw := front(t, s, func(w http.ResponseWriter, r *http.Request, next func() *httptest.ResponseRecorder) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		var req struct {
			Input string `json:"input"`
		}
		_ = json.Unmarshal(body, &req)
		mu.Lock()
		seen[req.Input]++
		mu.Unlock()
		rec := next()
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
	})

	cfg := baseConfig(dir, in, gw.URL+"/v1")
	cfg.Limit = 10
	sum, err := pipeline.Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run(Limit 10) error = %v", err)
	}
	if got := len(seen); got != 9 {
		t.Errorf("Limit 10: %d prompts sent, want 9 (10 rows read, one bad)", got)
	}
	if sum.Rows.OK != 9 || sum.Rows.Failed != 1 {
		t.Errorf("Limit 10: summary rows ok %d failed %d, want 9 and 1", sum.Rows.OK, sum.Rows.Failed)
	}
	if n := len(readJournal(t, cfg.Output)); n != 10 {
		t.Errorf("Limit 10: %d journal lines, want 10", n)
	}

	cfg.Limit = 0
	sum, err = pipeline.Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run() after Limit error = %v (the limit must not change the job)", err)
	}
	if sum.Rows.Skipped != 10 || sum.Rows.OK != 29 || sum.Rows.Failed != 1 {
		t.Errorf("resume: skipped %d ok %d failed %d, want 10, 29, 1", sum.Rows.Skipped, sum.Rows.OK, sum.Rows.Failed)
	}
	if len(seen) != 29 {
		t.Errorf("%d distinct prompts sent in all, want 29", len(seen))
	}
	for p, n := range seen {
		if n != 1 {
			t.Errorf("prompt %q sent %d times, want once", p, n)
		}
	}
	recs := readJournal(t, cfg.Output)
	if len(recs) != 30 || recs[0].Job == nil {
		t.Fatalf("journal: %d lines, first has job %v; want 30 and a job", len(recs), recs[0].Job)
	}
	keys := map[string]bool{}
	for _, r := range recs {
		keys[r.CustomID] = true
		if r.Job != nil && r.Job.Fingerprint != recs[0].Job.Fingerprint {
			t.Errorf("record %s carries job %s, want the first run's %s", r.CustomID, r.Job.Fingerprint, recs[0].Job.Fingerprint)
		}
	}
	for i := range 30 {
		if k := fmt.Sprintf("k%05d", i); i != 3 && !keys[k] {
			t.Errorf("no record for %s", k)
		}
	}
}

// A limit larger than the input runs it all; a negative one is refused.
func TestRun_LimitBounds(t *testing.T) {
	dir := t.TempDir()
	s, base := startSim(t, sim.Config{})
	cfg := baseConfig(dir, writeInput(t, dir, 5), base)
	cfg.Limit = 100
	if sum, err := pipeline.Run(context.Background(), cfg); err != nil || sum.Rows.OK != 5 {
		t.Fatalf("Run(Limit 100 of 5) = %+v, %v; want 5 ok", sum, err)
	}
	cfg.Limit = -1
	cfg.Output = dir + "/other.jsonl"
	if _, err := pipeline.Run(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "Config.Limit") {
		t.Errorf("Run(Limit -1) error = %v, want a usage error naming --limit", err)
	}
	if n := s.Stats().Requests; n != 5 {
		t.Errorf("simulator got %d requests, want 5", n)
	}
}
