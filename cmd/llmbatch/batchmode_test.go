package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/llmbatch/llmbatch/io/results"
	"github.com/llmbatch/llmbatch/io/sim"
)

const testKey = "sk-test-batch-0123456789"

// runCLIKey is runCLI with OPENAI_API_KEY set.
func runCLIKey(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	env := environ{getenv: func(k string) string {
		if k == "OPENAI_API_KEY" {
			return testKey
		}
		return ""
	}, stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr}
	code := run(context.Background(), args, env)
	return code, stdout.String(), stderr.String()
}

// serveSim serves s (through wrap, when not nil) on loopback.
func serveSim(t *testing.T, s *sim.Server, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	var h http.Handler = s
	if wrap != nil {
		h = wrap(s)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL + "/v1"
}

func batchArgs(input, journal, base string, extra ...string) []string {
	return append([]string{"run", input, "-o", journal, "--base-url", base, "--model", "gpt-5-mini", "--mode", "batch",
		"--id-column", "id", "--prompt", "Label the sentiment of: {{.text}}", "--poll-interval", "20ms"}, extra...)
}

// A batch job's journal reads like any other: report prices it at batch
// prices, export writes every row, status lists its batches.
func TestCLI_BatchMode_ReportExportStatus(t *testing.T) {
	dir := t.TempDir()
	const n = 100
	s := sim.New(sim.Config{Seed: 2, BatchDelay: 50 * time.Millisecond, APIKey: testKey})
	base := serveSim(t, s, nil)
	input := writeRows(t, dir, n)
	journal := filepath.Join(dir, "r.jsonl")
	code, _, stderr := runCLIKey(t, batchArgs(input, journal, base, "--batch-max-lines", "40")...)
	if code != exitOK {
		t.Fatalf("run: exit %d\n%s", code, stderr)
	}
	for _, want := range []string{"journal total: 100 ok", "at batch prices", "msg=batch id=batch_"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("run's stderr lacks %q:\n%s", want, stderr)
		}
	}
	if strings.Contains(stderr, testKey) {
		t.Errorf("the key is in the output")
	}
	code, stdout, stderr := runCLI(t, "report", journal)
	if code != exitOK || !strings.Contains(stdout, "100 ok") || !strings.Contains(stdout, "at batch prices") {
		t.Errorf("report: exit %d\n%s%s", code, stdout, stderr)
	}
	out := filepath.Join(dir, "out.csv")
	if code, _, stderr := runCLI(t, "export", journal, "-o", out); code != exitOK {
		t.Fatalf("export: exit %d %s", code, stderr)
	}
	f, _ := os.Open(out)
	recs, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil || len(recs) != n+1 {
		t.Errorf("export: %d lines, %v; want a header and %d rows", len(recs), err, n)
	}
	code, stdout, stderr = runCLIKey(t, "status", journal, "--base-url", base)
	if code != exitOK || strings.Count(stdout, "completed") < 3 || !strings.Contains(stdout, "3 batch(es), 0 not collected") || !strings.Contains(stdout, "at batch prices") {
		t.Errorf("status: exit %d\n%s%s", code, stdout, stderr)
	}
	// The summary beside the journal carries the batch part of the cost.
	var sum results.Summary
	b, _ := os.ReadFile(results.SummaryPath(journal))
	json.Unmarshal(b, &sum)
	if sum.Cost == nil || sum.Cost.PerTier["batch"] != sum.Cost.Total || sum.Usage.PerTier["batch"]["gpt-5-mini"].OutputTokens != sum.Usage.Total.OutputTokens {
		t.Errorf("summary cost %+v, usage per tier %+v", sum.Cost, sum.Usage.PerTier)
	}
}

// --detach exits 0 once every row is in a batch; status shows them
// running; the next run collects them without creating any again.
func TestCLI_BatchMode_DetachStatusCancel(t *testing.T) {
	dir := t.TempDir()
	const n = 60
	s := sim.New(sim.Config{Seed: 2, BatchDelay: 2 * time.Second, APIKey: testKey})
	base := serveSim(t, s, nil)
	input := writeRows(t, dir, n)
	journal := filepath.Join(dir, "r.jsonl")
	code, _, stderr := runCLIKey(t, batchArgs(input, journal, base, "--batch-max-lines", "30", "--detach")...)
	if code != exitOK || !strings.Contains(stderr, "2 batch(es) still running server-side") {
		t.Fatalf("run --detach: exit %d\n%s", code, stderr)
	}
	code, stdout, _ := runCLIKey(t, "status", journal, "--base-url", base)
	if code != exitOK || !strings.Contains(stdout, "2 batch(es), 2 not collected") {
		t.Errorf("status: exit %d\n%s", code, stdout)
	}
	// Cancel one batch's worth: both are cancelled, the outcome journalled.
	code, stdout, stderr = runCLIKey(t, "cancel", journal, "--base-url", base)
	if code != exitOK || strings.Count(stdout, ": cancel") != 2 {
		t.Fatalf("cancel: exit %d\n%s%s", code, stdout, stderr)
	}
	var states int
	results.ScanMarks(journal, func(*results.Record) {}, func(m *results.Mark) {
		if m.Kind == "batch_state" {
			states++
		}
	})
	if states != 2 {
		t.Errorf("%d batch_state marks after cancel, want 2", states)
	}
	// The next run collects what the cancelled batches did and sends the
	// rest in new batches.
	code, _, stderr = runCLIKey(t, batchArgs(input, journal, base, "--batch-max-lines", "30")...)
	if code != exitOK || !strings.Contains(stderr, "journal total: 60 ok") {
		t.Fatalf("collect: exit %d\n%s", code, stderr)
	}
	for f, c := range s.BatchCreations() {
		if c != 1 {
			t.Errorf("file %s: %d batches", f, c)
		}
	}
	for k, c := range s.BatchBilled() {
		if c != 1 {
			t.Errorf("row %s billed %d times", k, c)
		}
	}
	if st := s.Stats(); st.Batches.Cancelled != 2 {
		t.Errorf("sim: %d batches cancelled, want 2", st.Batches.Cancelled)
	}
}

// killGate holds the requests it matches: writing the first half of the
// answer when partial is set, then nothing, until the client goes away.
type killGate struct {
	match   func(r *http.Request) bool
	partial bool
	act     bool // the server acts on the request; its answer is held
	held    atomic.Int64
	off     atomic.Bool
}

func (g *killGate) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g.off.Load() || !g.match(r) {
			h.ServeHTTP(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body) // net/http sees the client go only once the body is read
		r.Body = io.NopCloser(bytes.NewReader(body))
		if g.act {
			h.ServeHTTP(httptest.NewRecorder(), r)
		}
		if g.partial {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			w.Header().Set("Content-Length", fmt.Sprint(rec.Body.Len()))
			w.WriteHeader(rec.Code)
			w.Write(rec.Body.Bytes()[:rec.Body.Len()/2])
			w.(http.Flusher).Flush()
		}
		g.held.Add(1)
		<-r.Context().Done()
	})
}

// SIGKILL after the upload, after the batch's creation and during the
// download of its results, then resume: no file uploaded twice, no batch
// created twice, no row billed twice.
func TestSIGKILL_BatchMode_ResumeBillsNothingTwice(t *testing.T) {
	skipShort(t)
	for _, tc := range []struct {
		name         string
		match        func(r *http.Request) bool
		partial, act bool
	}{
		{"after upload", func(r *http.Request) bool {
			return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/batches")
		}, false, false},
		{"between creation and its mark", func(r *http.Request) bool {
			return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/batches")
		}, false, true},
		{"after creation", func(r *http.Request) bool {
			return r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/batches/")
		}, false, false},
		{"during download", func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/content") }, true, false},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			dir := t.TempDir()
			const n = 300
			s := sim.New(sim.Config{Seed: 8, APIKey: "sk-test-process-0123456789"})
			g := &killGate{match: tc.match, partial: tc.partial, act: tc.act}
			// The simulator's list of batches (GET /v1/batches) finds a
			// batch created before the kill whose id was not journalled yet.
			base := serveSim(t, s, g.wrap)
			input := writeRows(t, dir, n)
			journal := filepath.Join(dir, "r.jsonl")
			args := batchArgs(input, journal, base, "--batch-max-lines", "100", "--quiet")
			cmd, stderr, status := startJob(t, args...)
			if !waitFor(20*time.Second, func() bool { return g.held.Load() > 0 }) {
				t.Fatalf("the job never reached the kill point; stderr:\n%s", stderr)
			}
			time.Sleep(50 * time.Millisecond) // let the other batches of the job get there too
			cmd.Process.Signal(syscall.SIGKILL)
			if got := waitStatus(t, status, 10*time.Second, stderr); got != -int(syscall.SIGKILL) {
				t.Fatalf("exit status %d, want killed", got)
			}
			before := s.Stats()
			g.off.Store(true)
			if code, errs := runLLMBatch(t, args...); code != exitOK {
				t.Fatalf("resume: exit %d\n%s", code, errs)
			}
			checkComplete(t, readJournalFile(t, journal), n)
			twiceUp, twiceCreated, twiceBilled := 0, 0, 0
			for _, c := range s.Uploads() {
				if c > 1 {
					twiceUp++
				}
			}
			for _, c := range s.BatchCreations() {
				if c > 1 {
					twiceCreated++
				}
			}
			for _, c := range s.BatchBilled() {
				if c > 1 {
					twiceBilled++
				}
			}
			st := s.Stats()
			if twiceUp+twiceCreated+twiceBilled > 0 || st.Batches.Lines != n {
				t.Errorf("files uploaded twice %d, batches created twice %d, rows billed twice %d, lines answered %d (want 0, 0, 0, %d)",
					twiceUp, twiceCreated, twiceBilled, st.Batches.Lines, n)
			}
			t.Logf("| %s | before kill: %d uploads, %d batches | in all: %d uploads, %d batches, %d lines billed | uploaded twice %d | created twice %d | rows billed twice %d |",
				tc.name, before.Files, before.Batches.Created, st.Files, st.Batches.Created, st.Batches.Lines, twiceUp, twiceCreated, twiceBilled)
		})
	}
}

// Embeddings go one row a request in batch mode (url /v1/embeddings), and
// rows of two models (--model-column) go into one file per model.
func TestCLI_BatchMode_EmbeddingsAndModels(t *testing.T) {
	dir := t.TempDir()
	s := sim.New(sim.Config{Seed: 2, APIKey: testKey})
	base := serveSim(t, s, nil)
	var b bytes.Buffer
	for i := range 30 {
		m := "text-embedding-3-small"
		if i%3 == 0 {
			m = "text-embedding-3-large"
		}
		fmt.Fprintf(&b, `{"id":"e%02d","text":"sentence %d","m":%q}`+"\n", i, i, m)
	}
	input := filepath.Join(dir, "in.jsonl")
	os.WriteFile(input, b.Bytes(), 0o644)
	journal := filepath.Join(dir, "emb.jsonl")
	code, _, stderr := runCLIKey(t, "run", input, "-o", journal, "--base-url", base, "--endpoint", "embeddings", "--mode", "batch",
		"--model", "text-embedding-3-small", "--model-column", "m", "--id-column", "id", "--prompt-column", "text", "--poll-interval", "20ms")
	if code != exitOK || !strings.Contains(stderr, "journal total: 30 ok") {
		t.Fatalf("run: exit %d\n%s", code, stderr)
	}
	models := map[string]int{}
	results.ScanMarks(journal, func(*results.Record) {}, func(m *results.Mark) {
		if m.Kind != "batch_file" {
			return
		}
		var d struct {
			Endpoint, Model string
			Lines           int
		}
		json.Unmarshal(m.Data, &d)
		if d.Endpoint != "/v1/embeddings" {
			t.Errorf("file for %s", d.Endpoint)
		}
		models[d.Model] += d.Lines
	})
	if len(models) != 2 || models["text-embedding-3-large"] != 10 || models["text-embedding-3-small"] != 20 {
		t.Errorf("files per model: %v; want one per model, 10 and 20 rows", models)
	}
	out := filepath.Join(dir, "emb.csv")
	if code, _, stderr := runCLI(t, "export", journal, "-o", out); code != exitOK {
		t.Fatalf("export: %s", stderr)
	}
	if data, _ := os.ReadFile(out); !strings.Contains(string(data), "embedding") {
		t.Errorf("export has no embedding column:\n%.300s", data)
	}
}

// Ctrl-C while batches run says they keep running and are billed, and how
// to resume, see or cancel them; exit 130; the next run collects them
// without creating any again.
func TestSIGINT_BatchMode_SaysBatchesKeepRunning(t *testing.T) {
	skipShort(t)
	dir := t.TempDir()
	const n = 50
	s := sim.New(sim.Config{Seed: 3, BatchDelay: time.Second, APIKey: "sk-test-process-0123456789"})
	base := serveSim(t, s, nil)
	input := writeRows(t, dir, n)
	journal := filepath.Join(dir, "r.jsonl")
	args := batchArgs(input, journal, base)
	cmd, stderr, status := startJob(t, args...)
	if !waitFor(20*time.Second, func() bool { return s.Stats().Batches.Created > 0 }) {
		t.Fatalf("no batch created; stderr:\n%s", stderr)
	}
	cmd.Process.Signal(os.Interrupt)
	if got := waitStatus(t, status, 20*time.Second, stderr); got != exitInterrupted {
		t.Fatalf("exit %d, want %d\n%s", got, exitInterrupted, stderr)
	}
	for _, want := range []string{"keep running server-side and are billed", "llmbatch status", "llmbatch cancel", "1 batch(es) still running"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if code, errs := runLLMBatch(t, args...); code != exitOK {
		t.Fatalf("resume: exit %d\n%s", code, errs)
	}
	checkComplete(t, readJournalFile(t, journal), n)
	if st := s.Stats(); st.Batches.Created != 1 || st.Batches.Lines != n {
		t.Errorf("sim: %d batches, %d lines; want 1, %d", st.Batches.Created, st.Batches.Lines, n)
	}
}

// status reads a job's shards as report does: a quoted glob, one job's
// journals in shard order, each shown with its batches.
func TestCLI_BatchMode_StatusOverShards(t *testing.T) {
	dir := t.TempDir()
	const n = 60
	s := sim.New(sim.Config{Seed: 4, BatchDelay: 50 * time.Millisecond, APIKey: testKey})
	base := serveSim(t, s, nil)
	input := writeRows(t, dir, n)
	journal := filepath.Join(dir, "r.jsonl")
	for i := range 2 {
		code, _, stderr := runCLIKey(t, batchArgs(input, journal, base, "--shards", "2", "--shard-index", fmt.Sprint(i))...)
		if code != exitOK {
			t.Fatalf("shard %d: exit %d\n%s", i, code, stderr)
		}
	}
	code, stdout, stderr := runCLI(t, "status", "--offline", filepath.Join(dir, "r.shard-*.jsonl"))
	if code != exitOK || strings.Count(stdout, "== ") != 2 || strings.Count(stdout, "batch(es), 0 not collected") != 2 ||
		!strings.Contains(stdout, "r.shard-00-of-02.jsonl") || !strings.Contains(stdout, "r.shard-01-of-02.jsonl") {
		t.Errorf("status over the shards: exit %d\n%s%s", code, stdout, stderr)
	}
	if code, _, stderr := runCLI(t, "status", "--offline", filepath.Join(dir, "r.shard-00-of-02.jsonl"), journal); code != exitUsage {
		t.Errorf("status over a shard and a journal that does not exist: exit %d, want %d\n%s", code, exitUsage, stderr)
	}
}

// status of a journal that ran in another mode says there is no batch,
// without an empty table.
func TestCLI_StatusOfAJobWithoutBatches(t *testing.T) {
	dir := t.TempDir()
	_, base := startTestSim(t, sim.Config{Seed: 6})
	input := writeRows(t, dir, 5)
	journal := filepath.Join(dir, "r.jsonl")
	if code, _, stderr := runCLIKey(t, jobArgs(input, journal, base)...); code != exitOK {
		t.Fatalf("run: exit %d\n%s", code, stderr)
	}
	code, stdout, stderr := runCLI(t, "status", "--offline", journal)
	if code != exitOK || !strings.Contains(stdout, "no batch: this job did not run with --mode batch") || strings.Contains(stdout, "held") ||
		!strings.Contains(stdout, "5 ok") {
		t.Errorf("status: exit %d\n%s%s", code, stdout, stderr)
	}
}
