package batchapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/llmbatch/llmbatch/io/prices"
	"github.com/llmbatch/llmbatch/io/results"
	"github.com/llmbatch/llmbatch/io/sim"
	"github.com/llmbatch/llmbatch/pipeline"
	"github.com/llmbatch/llmbatch/pipeline/batchapi"
)

func writeInput(tb testing.TB, dir string, n int) string {
	tb.Helper()
	var b bytes.Buffer
	for i := range n {
		fmt.Fprintf(&b, `{"id":"k%05d","text":"review number %d: it was fine"}`+"\n", i, i)
	}
	path := filepath.Join(dir, "in.jsonl")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}

// startSim serves s behind wrap (nil: as it is) on loopback.
func startSim(tb testing.TB, s *sim.Server, wrap func(http.Handler) http.Handler) string {
	tb.Helper()
	var h http.Handler = s
	if wrap != nil {
		h = wrap(s)
	}
	srv := httptest.NewServer(h)
	tb.Cleanup(srv.Close)
	return srv.URL + "/v1"
}

func config(dir, input, base string, e *batchapi.Executor) pipeline.Config {
	return pipeline.Config{Source: pipeline.Source{Input: input}, Template: pipeline.Template{Model: "gpt-5-mini", IDColumn: "id", Prompt: "Label the sentiment of: {{.text}}", PackSize: 1},
		Output:  filepath.Join(dir, "results.jsonl"),
		BaseURL: base,

		Executor: e, DrainTimeout: 5 * time.Second,
	}
}

func newExec(c batchapi.Config) *batchapi.Executor {
	if c.PollInterval == 0 {
		c.PollInterval = 20 * time.Millisecond
	}
	c.Resubmit = true
	return batchapi.New(c)
}

// journal reads back a journal's records (by key, every line) and marks.
type journal struct {
	records map[string][]results.Record
	marks   []results.Mark
	lines   []line // records and marks in journal order
}

type line struct {
	rec  *results.Record
	mark *results.Mark
}

func readJournal(tb testing.TB, path string) journal {
	tb.Helper()
	j := journal{records: map[string][]results.Record{}}
	_, err := results.ScanMarks(path, func(r *results.Record) {
		j.records[r.CustomID] = append(j.records[r.CustomID], *r)
		c := *r
		j.lines = append(j.lines, line{rec: &c})
	}, func(m *results.Mark) {
		j.marks = append(j.marks, *m)
		c := *m
		j.lines = append(j.lines, line{mark: &c})
	})
	if err != nil {
		tb.Fatal(err)
	}
	return j
}

func (j journal) files() []batchapi.FileData {
	var out []batchapi.FileData
	for _, m := range j.marks {
		if m.Kind == batchapi.KindFile {
			var d batchapi.FileData
			json.Unmarshal(m.Data, &d)
			out = append(out, d)
		}
	}
	return out
}

func (j journal) count(kind string) int {
	n := 0
	for _, m := range j.marks {
		if m.Kind == kind {
			n++
		}
	}
	return n
}

// checkOnce asserts that the sim uploaded every file once, created one
// batch a file and billed every row at most once.
func checkOnce(t *testing.T, s *sim.Server) {
	t.Helper()
	for sum, n := range s.Uploads() {
		if n != 1 {
			t.Errorf("file %s uploaded %d times", sum[:12], n)
		}
	}
	for f, n := range s.BatchCreations() {
		if n != 1 {
			t.Errorf("file %s: %d batches created", f, n)
		}
	}
	for k, n := range s.BatchBilled() {
		if n != 1 {
			t.Errorf("row %s billed %d times", k, n)
		}
	}
}

// A 2,000-row job split by small limits completes with every row once,
// its totals equal to the simulator's, priced at batch prices.
func TestBatch_SplitCompletes(t *testing.T) {
	dir := t.TempDir()
	const n = 2000
	s := sim.New(sim.Config{Seed: 5, BatchDelay: 100 * time.Millisecond})
	base := startSim(t, s, nil)
	e := newExec(batchapi.Config{MaxLines: 300, MaxBytes: 30_000})
	cfg := config(dir, writeInput(t, dir, n), base, e)
	sum, err := pipeline.Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run() error = %v", err)
	}
	if sum.Rows.OK != n || sum.Rows.Failed+sum.Rows.Retryable != 0 {
		t.Fatalf("rows = %+v, want %d ok", sum.Rows, n)
	}
	j := readJournal(t, cfg.Output)
	files := j.files()
	if len(files) < 7 {
		t.Errorf("%d files, want at least 7 (300 lines a file)", len(files))
	}
	inFiles := map[string]int{}
	for _, f := range files {
		if f.Lines > 300 || f.Bytes > 30_000 || f.Lines != len(f.Keys) {
			t.Errorf("file of %d lines, %d bytes, %d keys: over the limits", f.Lines, f.Bytes, len(f.Keys))
		}
		for _, k := range f.Keys {
			inFiles[k]++
		}
	}
	if len(inFiles) != n || j.count(batchapi.KindBatch) != len(files) || j.count(batchapi.KindState) != len(files) {
		t.Errorf("%d keys in files, %d batch marks, %d state marks, %d files", len(inFiles), j.count(batchapi.KindBatch), j.count(batchapi.KindState), len(files))
	}
	for k, recs := range j.records {
		if len(recs) != 1 || inFiles[k] != 1 || recs[0].Tier != "batch" {
			t.Errorf("row %s: %d records, in %d files, tier %q", k, len(recs), inFiles[k], recs[0].Tier)
		}
	}
	st := s.Stats()
	checkOnce(t, s)
	if st.Files != len(files) || st.Batches.Created != len(files) || st.Batches.Lines != n {
		t.Errorf("sim: %d files, %d batches, %d lines; want %d, %d, %d", st.Files, st.Batches.Created, st.Batches.Lines, len(files), len(files), n)
	}
	if sum.Usage.Total.InputTokens != st.Batches.InputTokens || sum.Usage.Total.OutputTokens != st.Batches.OutputTokens {
		t.Errorf("usage %+v, sim billed %d in, %d out", sum.Usage.Total, st.Batches.InputTokens, st.Batches.OutputTokens)
	}
	// Batch prices: half the standard cost of the same usage.
	std := results.PriceUsage(prices.Default(), sum.Usage.PerModel).Total
	if !sum.Cost.Total.Known || sum.Cost.Total.Amount*2 > std.Amount+prices.Money(len(sum.Usage.PerModel)) || sum.Cost.Total.Amount*2 < std.Amount-1 {
		t.Errorf("cost %s, standard %s: want half", sum.Cost.Total, std)
	}
	if sum.Cost.PerTier["batch"] != sum.Cost.Total {
		t.Errorf("cost per tier %v, want all of %s at batch prices", sum.Cost.PerTier, sum.Cost.Total)
	}
	if st.Requests != 0 {
		t.Errorf("sim saw %d online requests, want 0", st.Requests)
	}
	t.Logf("%d rows in %d batches; cost %s at batch prices (standard %s)", n, len(files), sum.Cost.Total, std)
}

// gate blocks the requests it matches until opened, counting them.
type gate struct {
	match   func(r *http.Request) bool
	blocked atomic.Int64
	inside  atomic.Int64 // requests waiting at the gate now
	open    chan struct{}
	once    sync.Once
}

func newGate(match func(r *http.Request) bool) *gate {
	return &gate{match: match, open: make(chan struct{})}
}

func (g *gate) Open() { g.once.Do(func() { close(g.open) }) }

func (g *gate) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g.match(r) {
			// Read the body first: net/http notices a client that went
			// away (and ends r's context) only once the body is read.
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			select {
			case <-g.open:
			default:
				g.blocked.Add(1)
				g.inside.Add(1)
				select {
				case <-g.open:
					g.inside.Add(-1)
				case <-r.Context().Done():
					g.inside.Add(-1)
					return
				}
			}
		}
		h.ServeHTTP(w, r)
	})
}

// An interrupt after upload, or after creation, leaves journalled ids the
// resume follows: no file uploaded twice, no batch created twice, no row
// billed twice.
func TestBatch_InterruptAndResume(t *testing.T) {
	for _, tc := range []struct {
		name  string
		match func(r *http.Request) bool
	}{
		{"AfterUpload", func(r *http.Request) bool {
			return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/batches")
		}},
		{"AfterCreation", func(r *http.Request) bool {
			return r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/batches/")
		}},
		{"DuringDownload", func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/content") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			const n = 300
			s := sim.New(sim.Config{Seed: 9})
			g := newGate(tc.match)
			base := startSim(t, s, g.wrap)
			input := writeInput(t, dir, n)
			ctx, cancel := context.WithCancel(context.Background())
			go func() {
				for g.blocked.Load() == 0 && ctx.Err() == nil {
					time.Sleep(5 * time.Millisecond)
				}
				cancel()
			}()
			cfg := config(dir, input, base, newExec(batchapi.Config{MaxLines: 100}))
			cfg.DrainTimeout = 200 * time.Millisecond
			_, err := pipeline.Run(ctx, cfg)
			if !errors.Is(err, pipeline.ErrInterrupted) {
				t.Fatalf("first Run() error = %v, want interrupted", err)
			}
			cancel()
			first := readJournal(t, cfg.Output)
			if len(first.files()) == 0 {
				t.Fatalf("no file journalled before the interrupt")
			}
			// The requests the interrupt cut off are gone before the
			// gate opens: none reaches the simulator late.
			for g.inside.Load() > 0 {
				time.Sleep(5 * time.Millisecond)
			}
			g.Open()
			cfg.Executor = newExec(batchapi.Config{MaxLines: 100})
			sum, err := pipeline.Run(context.Background(), cfg)
			if err != nil {
				t.Fatalf("resume: %v", err)
			}
			if sum.Rows.OK != n {
				t.Errorf("rows %+v, want %d ok", sum.Rows, n)
			}
			checkOnce(t, s)
			st := s.Stats()
			if st.Batches.Lines != n || st.Files != 3 || st.Batches.Created != 3 {
				t.Errorf("sim: %d lines answered, %d files, %d batches; want %d, 3, 3", st.Batches.Lines, st.Files, st.Batches.Created, n)
			}
			if sum.Usage.Total.InputTokens != st.Batches.InputTokens || sum.Usage.Total.OutputTokens != st.Batches.OutputTokens {
				t.Errorf("usage %+v, sim billed %d in, %d out", sum.Usage.Total, st.Batches.InputTokens, st.Batches.OutputTokens)
			}
		})
	}
}

// An expired batch's completed lines are journalled; only the others go
// into the next batch.
func TestBatch_ExpiredResubmitsUnfinished(t *testing.T) {
	dir := t.TempDir()
	const n = 200
	// Lines are answered from 10% to 90% of BatchDelay: expiring at 50%
	// leaves about half unanswered.
	s := sim.New(sim.Config{Seed: 11, BatchDelay: 400 * time.Millisecond, BatchExpireAfter: 200 * time.Millisecond})
	base := startSim(t, s, nil)
	cfg := config(dir, writeInput(t, dir, n), base, newExec(batchapi.Config{PollInterval: 50 * time.Millisecond}))
	sum, err := pipeline.Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run() error = %v", err)
	}
	j := readJournal(t, cfg.Output)
	files := j.files()
	if len(files) < 2 || len(files[0].Keys) != n {
		t.Fatalf("%d files (first of %d rows); want the first of all %d rows, then resubmissions", len(files), len(files[0].Keys), n)
	}
	// Replay the journal in order: each file after the first holds
	// exactly the rows of the file before that no record answered ok.
	ok := map[string]bool{}
	var prev []string
	for _, l := range j.lines {
		switch {
		case l.rec != nil && l.rec.Error == nil:
			ok[l.rec.CustomID] = true
		case l.mark != nil && l.mark.Kind == batchapi.KindFile:
			var d batchapi.FileData
			json.Unmarshal(l.mark.Data, &d)
			if prev != nil {
				var want []string
				for _, k := range prev {
					if !ok[k] {
						want = append(want, k)
					}
				}
				if want = slices.Sorted(slices.Values(want)); strings.Join(want, ",") != strings.Join(slices.Sorted(slices.Values(d.Keys)), ",") {
					t.Errorf("a resubmitted file holds %d rows %v; the batch before left %d unfinished: %v", len(d.Keys), d.Keys, len(want), want)
				}
			}
			prev = d.Keys
		}
	}
	st := s.Stats()
	checkOnce(t, s)
	if st.Batches.Expired == 0 {
		t.Fatalf("no batch expired")
	}
	expiredRecs := 0
	for _, recs := range j.records {
		for _, r := range recs {
			if r.Error != nil && r.Error.Code == "batch_expired" {
				expiredRecs++
				if !r.Error.Retryable {
					t.Errorf("row %s: batch_expired journalled as final", r.CustomID)
				}
			}
		}
	}
	if expiredRecs == 0 {
		t.Errorf("no batch_expired record")
	}
	if sum.Rows.OK+sum.Rows.Retryable != n || sum.Usage.Total.OutputTokens != st.Batches.OutputTokens {
		t.Errorf("rows %+v, usage %+v; sim billed %d out", sum.Rows, sum.Usage.Total, st.Batches.OutputTokens)
	}
	t.Logf("%d batches, %d expired; %d ok, %d left to retry", st.Batches.Created, st.Batches.Expired, sum.Rows.OK, sum.Rows.Retryable)
}

// corruptLine is a gateway that breaks line `line` of every uploaded file
// (it is no longer JSON), as a buggy proxy would.
func corruptLine(line int) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/files") {
				h.ServeHTTP(w, r)
				return
			}
			mr, err := r.MultipartReader()
			if err != nil {
				http.Error(w, err.Error(), 400)
				return
			}
			var body bytes.Buffer
			mw := multipart.NewWriter(&body)
			for {
				p, err := mr.NextPart()
				if err == io.EOF {
					break
				}
				data, _ := io.ReadAll(p)
				if p.FormName() == "file" {
					lines := bytes.SplitAfter(data, []byte("\n"))
					lines[line-1] = []byte("{not json\n")
					data = bytes.Join(lines, nil)
					fw, _ := mw.CreateFormFile("file", p.FileName())
					fw.Write(data)
				} else {
					mw.WriteField(p.FormName(), string(data))
				}
			}
			mw.Close()
			r2 := r.Clone(r.Context())
			r2.MultipartForm = nil // read by this proxy, not by the next handler
			r2.Body = io.NopCloser(&body)
			r2.ContentLength = int64(body.Len())
			r2.Header.Set("Content-Type", mw.FormDataContentType())
			h.ServeHTTP(w, r2)
		})
	}
}

// A batch that fails validation is reported with its line and the row's
// key; nothing is billed, its rows stay pending and a later run sends
// them.
func TestBatch_ValidationFailureReported(t *testing.T) {
	dir := t.TempDir()
	const n = 20
	s := sim.New(sim.Config{Seed: 3})
	bad := startSim(t, s, corruptLine(3))
	input := writeInput(t, dir, n)
	cfg := config(dir, input, bad, newExec(batchapi.Config{}))
	sum, err := pipeline.Run(context.Background(), cfg)
	var se *pipeline.StopError
	if !errors.As(err, &se) {
		t.Fatalf("Run() error = %v, want a StopError", err)
	}
	for _, want := range []string{"failed validation", "line 3", `"k00002"`, "invalid_json_line"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if sum.Rows.OK+sum.Rows.Failed+sum.Rows.Retryable != 0 || s.Stats().Batches.Lines != 0 {
		t.Errorf("rows %+v, sim answered %d lines; want nothing journalled, nothing billed", sum.Rows, s.Stats().Batches.Lines)
	}
	good := startSim(t, s, nil)
	cfg.BaseURL, cfg.Executor = good, newExec(batchapi.Config{})
	sum, err = pipeline.Run(context.Background(), cfg)
	if err != nil || sum.Rows.OK != n {
		t.Fatalf("second run: %v, rows %+v", err, sum.Rows)
	}
	checkOnce(t, s)
}

// shuffleOutput is a gateway that serves the result files in reverse
// order, with CRLF line ends and extra members, one body as a JSON string,
// and a 429 and a 500 answer in place of two lines: records join by
// custom_id, and the transient failures are resubmitted.
func shuffleOutput(h http.Handler) http.Handler {
	var hit sync.Map
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/content") {
			h.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		var lines [][]byte
		sc := bufio.NewScanner(rec.Body)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var m map[string]any
			json.Unmarshal(sc.Bytes(), &m)
			m["gateway"] = "odd"
			if k, _ := m["custom_id"].(string); (k == "k00001" || k == "k00004") && m["response"] != nil {
				if _, again := hit.LoadOrStore(k, true); !again {
					code := 429
					if k == "k00004" {
						code = 500
					}
					m["response"] = map[string]any{"status_code": code, "request_id": "req_x",
						"body": map[string]any{"error": map[string]any{"message": "busy", "type": "server_error", "code": nil}}}
				}
			}
			if k, _ := m["custom_id"].(string); k == "k00007" {
				// A gateway that writes the body as a JSON string.
				if resp, ok := m["response"].(map[string]any); ok {
					body, _ := json.Marshal(resp["body"])
					resp["body"] = string(body)
				}
			}
			b, _ := json.Marshal(m)
			lines = append(lines, b)
		}
		for i := len(lines) - 1; i >= 0; i-- {
			w.Write(lines[i])
			w.Write([]byte("\r\n"))
		}
	})
}

func TestBatch_GatewayShapes(t *testing.T) {
	dir := t.TempDir()
	const n = 30
	s := sim.New(sim.Config{Seed: 4})
	base := startSim(t, s, shuffleOutput)
	cfg := config(dir, writeInput(t, dir, n), base, newExec(batchapi.Config{}))
	sum, err := pipeline.Run(context.Background(), cfg)
	if err != nil || sum.Rows.OK != n {
		t.Fatalf("Run: %v, rows %+v", err, sum.Rows)
	}
	j := readJournal(t, cfg.Output)
	for _, k := range []string{"k00001", "k00004"} {
		recs := j.records[k]
		if len(recs) != 2 || recs[0].Error == nil || !recs[0].Error.Retryable || recs[1].Error != nil {
			t.Errorf("row %s: records %+v; want a retryable failure, then ok", k, recs)
		}
	}
	for k, recs := range j.records {
		last := recs[len(recs)-1]
		if last.Error != nil || last.Usage.OutputTokens == 0 {
			t.Errorf("row %s: last record %+v", k, last)
		}
	}
	if got := len(j.files()); got != 2 || len(j.files()[1].Keys) != 2 {
		t.Errorf("%d files; want the job's and one resubmitting the 2 failed rows", got)
	}
}

// counter counts the HTTP calls a handler serves, by method and route.
type counter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counter) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		route := r.URL.Path
		for _, p := range []string{"/v1/batches/", "/v1/files/"} {
			if rest, ok := strings.CutPrefix(route, p); ok {
				route = p + "{id}"
				if _, sub, ok := strings.Cut(rest, "/"); ok {
					route += "/" + sub
				}
			}
		}
		c.mu.Lock()
		c.n[r.Method+" "+route]++
		c.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

// The same 1,000-row job online and in batch mode: the calls each makes,
// the usage (equal) and the cost (half in batch mode).
func TestBatch_OnlineVersusBatch(t *testing.T) {
	const n = 1000
	var costs [2]prices.Cost
	for i, mode := range []string{"online", "batch"} {
		dir := t.TempDir()
		s := sim.New(sim.Config{Seed: 1, BatchDelay: 200 * time.Millisecond})
		c := &counter{n: map[string]int{}}
		base := startSim(t, s, c.wrap)
		cfg := config(dir, writeInput(t, dir, n), base, nil)
		cfg.Executor = nil // the worker pool
		if mode == "batch" {
			cfg.Executor = newExec(batchapi.Config{PollInterval: 50 * time.Millisecond})
		}
		sum, err := pipeline.Run(context.Background(), cfg)
		if err != nil || sum.Rows.OK != n {
			t.Fatalf("%s: %v, rows %+v", mode, err, sum.Rows)
		}
		costs[i] = sum.Cost.Total
		calls := 0
		for _, v := range c.n {
			calls += v
		}
		t.Logf("%s: %d HTTP calls %v; usage %d in (%d cached), %d out; cost %s", mode, calls, c.n,
			sum.Usage.Total.InputTokens, sum.Usage.Total.CachedInputTokens, sum.Usage.Total.OutputTokens, sum.Cost.Total)
	}
	if d := costs[0].Amount - 2*costs[1].Amount; d < -2 || d > 2 {
		t.Errorf("online %s, batch %s: want half", costs[0], costs[1])
	}
}

// Under --max-cost a batch is created only while the journal's cost plus
// the estimates of the batches running (at batch prices) fits the cap;
// with nothing running, the longest part of the next batch that fits is
// sent; the job stops (a StopError) when not one more row fits. A re-run
// with a higher cap sends the rest, nothing twice.
func TestBatch_MaxCost(t *testing.T) {
	dir := t.TempDir()
	const n = 600
	s := sim.New(sim.Config{Seed: 6, BatchDelay: 20 * time.Millisecond})
	base := startSim(t, s, nil)
	cfg := config(dir, writeInput(t, dir, n), base, newExec(batchapi.Config{MaxLines: 100}))
	cfg.Body = []byte(`{"max_output_tokens": 200}`)
	capUSD, _ := prices.ParseUSD("0.01")
	cfg.MaxCost = capUSD
	sum, err := pipeline.Run(context.Background(), cfg)
	var se *pipeline.StopError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "cost cap reached") {
		t.Fatalf("Run() error = %v, want the cost cap's StopError", err)
	}
	if !sum.Cost.Total.Known || sum.Cost.Total.Amount > capUSD || sum.Rows.OK == 0 || sum.Rows.OK >= n {
		t.Errorf("cost %s (cap %s), %d rows ok: want some rows, within the cap", sum.Cost.Total, capUSD, sum.Rows.OK)
	}
	j := readJournal(t, cfg.Output)
	if f := j.files(); len(f) < 2 || len(f[0].Keys) >= 100 {
		t.Errorf("%d files, the first of %d rows: want parts of batches that fit the cap", len(f), len(f[0].Keys))
	}
	first := sum.Rows.OK
	more, _ := prices.ParseUSD("1")
	cfg.MaxCost, cfg.Executor = more, newExec(batchapi.Config{MaxLines: 100})
	sum, err = pipeline.Run(context.Background(), cfg)
	if err != nil || sum.Rows.OK != n {
		t.Fatalf("second run: %v, rows %+v", err, sum.Rows)
	}
	checkOnce(t, s)
	if st := s.Stats(); st.Batches.Lines != n {
		t.Errorf("sim answered %d lines, want %d", st.Batches.Lines, n)
	}
	t.Logf("cap %s: %d rows, then the rest with a higher cap; cost %s", capUSD, first, sum.Cost.Total)
}

// slowAnswer is a gateway whose answers to the calls it matches come late:
// the server has acted (stored the file, created the batch) when the job
// is interrupted, and the answer is on its way.
func slowAnswer(match func(r *http.Request) bool, acted *atomic.Int64) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !match(r) {
				h.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			acted.Add(1)
			time.Sleep(150 * time.Millisecond)
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			w.Write(rec.Body.Bytes())
		})
	}
}

// An interrupt while an upload's or a creation's answer is on its way
// does not cancel the call: its answer is awaited (up to the drain
// timeout) and its id journalled, so the resume neither uploads nor
// creates again.
func TestBatch_InterruptDuringSlowAnswer(t *testing.T) {
	for _, tc := range []struct {
		name  string
		match func(r *http.Request) bool
	}{
		{"Upload", func(r *http.Request) bool {
			return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/files")
		}},
		{"Create", func(r *http.Request) bool {
			return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/batches")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			const n = 50
			s := sim.New(sim.Config{Seed: 12})
			var acted atomic.Int64
			base := startSim(t, s, slowAnswer(tc.match, &acted))
			ctx, cancel := context.WithCancel(context.Background())
			go func() {
				for acted.Load() == 0 && ctx.Err() == nil {
					time.Sleep(time.Millisecond)
				}
				cancel()
			}()
			cfg := config(dir, writeInput(t, dir, n), base, newExec(batchapi.Config{}))
			cfg.DrainTimeout = 5 * time.Second
			if _, err := pipeline.Run(ctx, cfg); !errors.Is(err, pipeline.ErrInterrupted) {
				t.Fatalf("first Run() error = %v, want interrupted", err)
			}
			cancel()
			cfg.Executor = newExec(batchapi.Config{})
			sum, err := pipeline.Run(context.Background(), cfg)
			if err != nil || sum.Rows.OK != n {
				t.Fatalf("resume: %v, rows %+v", err, sum.Rows)
			}
			checkOnce(t, s)
			if st := s.Stats(); st.Files != 1 || st.Batches.Created != 1 {
				t.Errorf("sim: %d files, %d batches; want 1, 1", st.Files, st.Batches.Created)
			}
		})
	}
}

// lostCreate is a gateway whose answers to POST /v1/batches never arrive
// while on: the batch is created, its id lost with the answer.
func lostCreate(on *atomic.Bool) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !on.Load() || r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/batches") {
				h.ServeHTTP(w, r)
				return
			}
			h.ServeHTTP(httptest.NewRecorder(), r)
			<-r.Context().Done()
		})
	}
}

// noList answers GET /batches (the list) 404, as an endpoint that cannot
// list batches does.
func noList(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/batches") {
			http.NotFound(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// A batch created whose id was never journalled (the answer was lost, or
// the process died before the mark) is found on resume by its input file
// (GET /batches) and collected, not created again. An endpoint that
// cannot list batches gets it created again.
func TestBatch_ResumeFindsUnjournalledBatch(t *testing.T) {
	for _, canList := range []bool{true, false} {
		t.Run(fmt.Sprint("list=", canList), func(t *testing.T) {
			dir := t.TempDir()
			const n = 40
			s := sim.New(sim.Config{Seed: 13})
			var lose atomic.Bool
			lose.Store(true)
			base := startSim(t, s, func(h http.Handler) http.Handler {
				if !canList {
					h = noList(h) // else the simulator lists every batch created
				}
				return lostCreate(&lose)(h)
			})
			ctx, cancel := context.WithCancel(context.Background())
			go func() {
				for s.Stats().Batches.Created == 0 && ctx.Err() == nil {
					time.Sleep(time.Millisecond)
				}
				cancel()
			}()
			cfg := config(dir, writeInput(t, dir, n), base, newExec(batchapi.Config{}))
			cfg.DrainTimeout = 50 * time.Millisecond
			if _, err := pipeline.Run(ctx, cfg); !errors.Is(err, pipeline.ErrInterrupted) {
				t.Fatalf("first Run() error = %v, want interrupted", err)
			}
			cancel()
			j := readJournal(t, cfg.Output)
			if j.count(batchapi.KindCreate) != 1 || j.count(batchapi.KindBatch) != 0 {
				t.Fatalf("journal: %d batch_create, %d batch marks; want 1, 0", j.count(batchapi.KindCreate), j.count(batchapi.KindBatch))
			}
			lose.Store(false)
			cfg.Executor = newExec(batchapi.Config{})
			sum, err := pipeline.Run(context.Background(), cfg)
			if err != nil || sum.Rows.OK != n {
				t.Fatalf("resume: %v, rows %+v", err, sum.Rows)
			}
			created := 0
			for _, c := range s.BatchCreations() {
				created += c
			}
			if want := map[bool]int{true: 1, false: 2}[canList]; created != want || s.Stats().Files != 1 {
				t.Errorf("%d batches created from %d files; want %d from 1", created, s.Stats().Files, want)
			}
			if canList {
				checkOnce(t, s)
			}
		})
	}
}

// A batch the endpoint refuses to create (a file too large for it) is
// reported, and the run ends with a StopError; its rows stay pending.
func TestBatch_CreateRefused(t *testing.T) {
	dir := t.TempDir()
	const n = 20
	s := sim.New(sim.Config{Seed: 5, BatchMaxBytes: 1000})
	base := startSim(t, s, nil)
	cfg := config(dir, writeInput(t, dir, n), base, newExec(batchapi.Config{}))
	sum, err := pipeline.Run(context.Background(), cfg)
	var se *pipeline.StopError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "could not be created") || !strings.Contains(err.Error(), "too large") {
		t.Fatalf("Run() error = %v, want a StopError naming the refused creation", err)
	}
	if sum.Rows.OK+sum.Rows.Failed+sum.Rows.Retryable != 0 || s.Stats().Batches.Created != 0 {
		t.Errorf("rows %+v, %d batches created; want nothing", sum.Rows, s.Stats().Batches.Created)
	}
}
