package background_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmbatch/llmbatch/io/httpapi"
	"github.com/llmbatch/llmbatch/io/prices"
	"github.com/llmbatch/llmbatch/io/results"
	"github.com/llmbatch/llmbatch/io/secret"
	"github.com/llmbatch/llmbatch/io/sim"
	"github.com/llmbatch/llmbatch/pipeline"
	"github.com/llmbatch/llmbatch/pipeline/background"
)

const prompt = "Label the sentiment of: {{.text}}"

// rowText is row i's input as the simulator counts its creations.
func rowText(i int) string {
	return fmt.Sprintf("Label the sentiment of: review number %d: it was fine", i)
}

func writeInput(tb testing.TB, dir string, n int) string {
	tb.Helper()
	path := filepath.Join(dir, "in.jsonl")
	var b bytes.Buffer
	for i := range n {
		fmt.Fprintf(&b, `{"id":"k%05d","text":"review number %d: it was fine"}`+"\n", i, i)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}

func startSim(tb testing.TB, cfg sim.Config) (*sim.Server, string) {
	tb.Helper()
	s := sim.New(cfg)
	base, err := s.Start("127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s, base
}

func config(dir, input, base string, exec pipeline.Executor) pipeline.Config {
	return pipeline.Config{Source: pipeline.Source{Input: input}, Template: pipeline.Template{Model: "gpt-5-mini", IDColumn: "id", Prompt: prompt},
		Output:      filepath.Join(dir, "results.jsonl"),
		BaseURL:     base,
		Concurrency: 8, RetryInitial: time.Millisecond, RetryMax: 20 * time.Millisecond, MaxAttempts: 30,
		DrainTimeout: 5 * time.Second, Executor: exec,
	}
}

// fast is the mode with test-sized polling.
func fast() *background.Executor {
	return background.New(background.Config{PollInitial: 5 * time.Millisecond, PollMax: 40 * time.Millisecond})
}

// journal is what a journal holds: each key's marks (response ids, in
// order) and its last record.
type journal struct {
	marks   map[string][]string
	records map[string]results.Record
	lines   int
}

func readJournal(tb testing.TB, path string) journal {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	j := journal{marks: map[string][]string{}, records: map[string]results.Record{}}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		j.lines++
		var probe struct {
			Kind string `json:"kind"`
		}
		if err := json.Unmarshal(sc.Bytes(), &probe); err != nil {
			tb.Fatalf("%s:%d: %v", path, j.lines, err)
		}
		if probe.Kind != "" {
			var m results.Mark
			json.Unmarshal(sc.Bytes(), &m)
			if m.Kind != background.MarkKind || m.Key == "" || m.ID == "" || m.Time.IsZero() {
				tb.Fatalf("%s:%d: bad mark %s", path, j.lines, sc.Bytes())
			}
			j.marks[m.Key] = append(j.marks[m.Key], m.ID)
			continue
		}
		var rec results.Record
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			tb.Fatal(err)
		}
		j.records[rec.CustomID] = rec
	}
	return j
}

// The whole life: every row is created once in the background, its id
// journalled before its record, polled until completed, and journalled
// like an online answer, with the simulator's usage.
func TestBackground_FullLife(t *testing.T) {
	dir := t.TempDir()
	const n = 120
	s, base := startSim(t, sim.Config{Seed: 5, BackgroundDelay: 30 * time.Millisecond, BackgroundJitter: 60 * time.Millisecond,
		RateLimit: 0.05, ServerError: 0.05, RetryAfter: 3 * time.Millisecond})
	e := fast()
	sum, err := pipeline.Run(context.Background(), config(dir, writeInput(t, dir, n), base, e))
	if err != nil {
		t.Fatalf("Run() error = %v", err)
	}
	if sum.Rows.OK != n {
		t.Fatalf("rows = %+v, want %d ok", sum.Rows, n)
	}
	j := readJournal(t, filepath.Join(dir, "results.jsonl"))
	for k, rec := range j.records {
		if len(j.marks[k]) != 1 {
			t.Errorf("row %s: %d response marks, want 1", k, len(j.marks[k]))
		}
		if rec.OutputText == "" || rec.Usage.OutputTokens == 0 || rec.Response == nil || rec.RequestSHA256 == "" {
			t.Errorf("row %s: record lacks the answer: %+v", k, rec)
		}
		var body struct{ ID, Status string }
		json.Unmarshal(rec.Response.Body, &body)
		if body.Status != "completed" || body.ID != j.marks[k][0] {
			t.Errorf("row %s: journalled body is %s %s, want the completed response %s", k, body.ID, body.Status, j.marks[k][0])
		}
	}
	for i, c := range s.Creations() {
		if c != 1 {
			t.Errorf("row %q created %d times", i, c)
		}
	}
	st := s.Stats()
	if len(s.Creations()) != n || st.Background.Created != n || st.Background.Completed != n {
		t.Errorf("sim background stats = %+v, want %d created and completed", st.Background, n)
	}
	if sum.Usage.Total.InputTokens != st.InputTokens || sum.Usage.Total.OutputTokens != st.OutputTokens {
		t.Errorf("summary usage = %+v, sim billed %d in, %d out", sum.Usage.Total, st.InputTokens, st.OutputTokens)
	}
	es := e.Stats()
	if es.Created != n || es.Finished != n || es.Polls < n || es.Running != 0 {
		t.Errorf("executor stats = %+v", es)
	}
	t.Logf("%d rows: %d polls (%.1f per row), sim saw %d GETs", n, es.Polls, float64(es.Polls)/n, st.Background.Gets)
}

// interruptWhen cancels the returned context once cond holds (checked
// every millisecond).
func interruptWhen(t *testing.T, cond func() bool) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		for ctx.Err() == nil && !cond() {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	return ctx
}

// An interrupted run leaves responses running server-side; the resume
// polls them and never creates a row again.
func TestBackground_ResumePollsNeverRecreates(t *testing.T) {
	dir := t.TempDir()
	const n = 80
	s, base := startSim(t, sim.Config{Seed: 9, BackgroundDelay: 300 * time.Millisecond, BackgroundJitter: 200 * time.Millisecond})
	input := writeInput(t, dir, n)
	first := fast()
	ctx := interruptWhen(t, func() bool { return s.Stats().Background.Created >= n/2 })
	_, err := pipeline.Run(ctx, config(dir, input, base, first))
	if !errors.Is(err, pipeline.ErrInterrupted) {
		t.Fatalf("first Run() error = %v, want interrupted", err)
	}
	left := first.Stats().Running
	j := readJournal(t, filepath.Join(dir, "results.jsonl"))
	if left == 0 || int(left) != len(j.marks)-len(j.records) {
		t.Fatalf("first run left %d running; journal has %d marks, %d records", left, len(j.marks), len(j.records))
	}

	second := fast()
	sum, err := pipeline.Run(context.Background(), config(dir, input, base, second))
	if err != nil || sum.Rows.OK != n {
		t.Fatalf("second Run() = %+v, %v; want %d ok", sum.Rows, err, n)
	}
	if got := second.Stats().Resumed; got != left {
		t.Errorf("second run polled %d journalled responses, want the %d left running", got, left)
	}
	for k, c := range s.Creations() {
		if c != 1 {
			t.Errorf("row %q created %d times", k, c)
		}
	}
	if st := s.Stats(); st.Background.Created != n || st.Background.Completed != n {
		t.Errorf("sim: %+v; want %d created, %d completed", st.Background, n, n)
	}
}

// A journalled response that is gone (404: past its retention) puts its
// row back to pending: it is created again and completes.
func TestBackground_ExpiredGoesBackToPending(t *testing.T) {
	dir := t.TempDir()
	const n = 30
	s, base := startSim(t, sim.Config{Seed: 11, BackgroundDelay: 20 * time.Millisecond, BackgroundExpireAfter: 2 * time.Second})
	input := writeInput(t, dir, n)
	// The first run polls too late to see anything (its first poll is
	// after an hour) and is interrupted once every row is created.
	slow := background.New(background.Config{PollInitial: time.Hour})
	ctx := interruptWhen(t, func() bool { return s.Stats().Background.Created >= n })
	if _, err := pipeline.Run(ctx, config(dir, input, base, slow)); !errors.Is(err, pipeline.ErrInterrupted) {
		t.Fatalf("first Run() error = %v, want interrupted", err)
	}
	if !waitFor(5*time.Second, func() bool { return s.Stats().Background.Expired >= n }) {
		t.Fatalf("sim expired %d responses, want %d", s.Stats().Background.Expired, n)
	}
	e := fast()
	sum, err := pipeline.Run(context.Background(), config(dir, input, base, e))
	if err != nil || sum.Rows.OK != n {
		t.Fatalf("second Run() = %+v, %v; want %d ok", sum.Rows, err, n)
	}
	if st := e.Stats(); st.Recreated != n || st.Resumed != n {
		t.Errorf("second run: %+v, want %d resumed and %d created again", st, n, n)
	}
	j := readJournal(t, filepath.Join(dir, "results.jsonl"))
	for i := range n {
		if c := s.Creations()[rowText(i)]; c != 2 {
			t.Errorf("row %d created %d times, want 2 (once, then again after its 404)", i, c)
		}
		k := fmt.Sprintf("k%05d", i)
		if len(j.marks[k]) != 2 || j.records[k].Error != nil {
			t.Errorf("row %s: marks %v, record error %+v; want two marks and an ok record", k, j.marks[k], j.records[k].Error)
		}
	}
}

// A response that ends "failed" with server_error puts its row back to
// pending: it is created again, up to MaxAttempts responses; a row whose
// responses all failed is journalled retryable, and sent again by the
// next run.
func TestBackground_FailedServerErrorGoesBackToPending(t *testing.T) {
	dir := t.TempDir()
	const n = 100
	s, base := startSim(t, sim.Config{Seed: 13, BackgroundDelay: 10 * time.Millisecond, BackgroundFail: 0.3})
	input := writeInput(t, dir, n)
	e := fast()
	sum, err := pipeline.Run(context.Background(), config(dir, input, base, e))
	if err != nil {
		t.Fatalf("Run() error = %v", err)
	}
	j := readJournal(t, filepath.Join(dir, "results.jsonl"))
	st := s.Stats().Background
	cr := s.Creations()
	again := 0
	for i := range n {
		k, c := fmt.Sprintf("k%05d", i), cr[rowText(i)]
		again += c - 1
		rec := j.records[k]
		switch {
		case rec.Error == nil:
		case rec.Error.Retryable && rec.Error.Code == "server_error" && c == background.DefaultMaxAttempts:
		default:
			t.Errorf("row %s: created %d times, record error %+v", k, c, rec.Error)
		}
		if len(j.marks[k]) != c {
			t.Errorf("row %s: %d marks for %d creations", k, len(j.marks[k]), c)
		}
	}
	if st.Failed == 0 || int64(again) != e.Stats().Recreated {
		t.Errorf("sim failed %d responses; %d creations again; executor %+v", st.Failed, again, e.Stats())
	}
	if got := st.Failed; got != again+countRetryable(j) {
		t.Errorf("sim failed %d responses, want one per creation again (%d) plus one per retryable row (%d)", got, again, countRetryable(j))
	}
	if sum.Rows.OK+sum.Rows.Retryable != n {
		t.Errorf("rows = %+v", sum.Rows)
	}
}

func countRetryable(j journal) int {
	n := 0
	for _, r := range j.records {
		if r.Error != nil && r.Error.Retryable {
			n++
		}
	}
	return n
}

// Under --max-cost a running response holds its reservation until it
// ends: the job never has more running than the cap allows, so the cost
// billed stays within the cap (plus what answers cost beyond their
// estimates).
func TestBackground_MaxCostCountsRunningResponses(t *testing.T) {
	dir := t.TempDir()
	const n = 200
	s, base := startSim(t, sim.Config{Seed: 17, BackgroundDelay: 150 * time.Millisecond})
	cfg := config(dir, writeInput(t, dir, n), base, fast())
	cfg.Body = []byte(`{"max_output_tokens":400}`)
	cfg.Concurrency = 32
	table := prices.Default()
	cfg.Prices = table
	p, ok := table.Lookup("gpt-5-mini")
	if !ok {
		t.Fatal("no price for gpt-5-mini")
	}
	// Five rows' worth at their reserved estimates (the simulator's
	// answers are far shorter than max_output_tokens: the job goes on
	// well past five rows).
	cfg.MaxCost = 5 * p.Cost(20, 0, 400)
	var maxRunning int
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			b := s.Stats().Background
			maxRunning = max(maxRunning, b.Created-b.Completed-b.Incomplete-b.Failed-b.Cancelled)
		}
	}()
	sum, err := pipeline.Run(context.Background(), cfg)
	close(stop)
	<-sampled
	var serr *pipeline.StopError
	if !errors.As(err, &serr) {
		t.Fatalf("Run() error = %v, want the cap's stop", err)
	}
	st := s.Stats()
	billed := p.Cost(st.InputTokens, 0, st.OutputTokens)
	if maxRunning > 6 {
		t.Errorf("%d responses running at once under a cap that fits 5 at their estimates", maxRunning)
	}
	if billed > cfg.MaxCost {
		t.Errorf("sim billed %v, over the cap %v", billed, cfg.MaxCost)
	}
	if st.Background.Created < 10 {
		t.Errorf("only %d responses created: the cap should let the job go on as responses settle", st.Background.Created)
	}
	t.Logf("cap %v: %d created, at most %d running at once, billed %v, rows %+v", cfg.MaxCost, st.Background.Created, maxRunning, billed, sum.Rows)
}

func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return cond()
}

// logBuffer is a logger whose lines a test reads.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A gateway that drops "background" and "store" (it answers every create
// synchronously): each answer is the row's result, with one warning.
func TestBackground_SynchronousEndpointAnswersAreTaken(t *testing.T) {
	dir := t.TempDir()
	const n = 40
	s, base := startSim(t, sim.Config{Seed: 19})
	u, _ := url.Parse(base)
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: u.Scheme, Host: u.Host})
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var m map[string]any
		json.Unmarshal(body, &m)
		delete(m, "background")
		delete(m, "store")
		body, _ = json.Marshal(m)
		r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		proxy.ServeHTTP(w, r)
	}))
	defer gw.Close()
	var logs logBuffer
	cfg := config(dir, writeInput(t, dir, n), gw.URL+"/v1", fast())
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	sum, err := pipeline.Run(context.Background(), cfg)
	if err != nil || sum.Rows.OK != n {
		t.Fatalf("Run() = %+v, %v; want %d ok", sum.Rows, err, n)
	}
	if got := strings.Count(logs.String(), "does not run background responses"); got != 1 {
		t.Errorf("warned %d times that the endpoint does not run background responses, want once:\n%s", got, logs.String())
	}
	st := s.Stats()
	if st.Background.Created != 0 || st.Background.Gets != 0 || st.Completed != n {
		t.Errorf("sim: %+v completed %d; want %d synchronous answers, no background", st.Background, st.Completed, n)
	}
	if j := readJournal(t, cfg.Output); len(j.marks) != 0 || len(j.records) != n {
		t.Errorf("journal: %d marks, %d records", len(j.marks), len(j.records))
	}
}

// An endpoint that refuses "background" with a 400 (as servers without
// response storage do) stops the job at once with a usage error that
// suggests the default mode; no row is journalled as failed.
func TestBackground_RejectedBackgroundIsAUsageError(t *testing.T) {
	dir := t.TempDir()
	var posts int
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		posts++
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(400)
		io.WriteString(w, `{"error":{"message":"Unrecognized request argument supplied: background","type":"invalid_request_error","param":null,"code":null}}`)
	}))
	defer srv.Close()
	cfg := config(dir, writeInput(t, dir, 50), srv.URL+"/v1", fast())
	_, err := pipeline.Run(context.Background(), cfg)
	var uerr *pipeline.UsageError
	if !errors.As(err, &uerr) || !strings.Contains(err.Error(), "run in the default mode") {
		t.Fatalf("Run() error = %v, want a usage error suggesting the default mode", err)
	}
	if j := readJournal(t, cfg.Output); len(j.records) != 0 {
		t.Errorf("%d rows journalled as failed, want none", len(j.records))
	}
	if posts > cfg.Concurrency {
		t.Errorf("%d creates sent, want at most the %d in flight", posts, cfg.Concurrency)
	}
}

// Cancel cancels the responses an interrupted run left running and
// journals each as a failed row "cancelled"; nothing is left to poll.
func TestCancel_CancelsRunningResponses(t *testing.T) {
	dir := t.TempDir()
	const n = 40
	s, base := startSim(t, sim.Config{Seed: 23, BackgroundDelay: time.Hour, APIKey: "sk-test-cancel-0123456789"})
	cfg := config(dir, writeInput(t, dir, n), base, fast())
	cfg.APIKey = "sk-test-cancel-0123456789"
	ctx := interruptWhen(t, func() bool { return s.Stats().Background.Created >= n })
	if _, err := pipeline.Run(ctx, cfg); !errors.Is(err, pipeline.ErrInterrupted) {
		t.Fatalf("Run() error = %v, want interrupted", err)
	}
	client := &httpapi.Client{BaseURL: base, APIKey: cfg.APIKey}
	res, err := background.Cancel(context.Background(), cfg.Output, client, secret.NewRedactor(cfg.APIKey), nil)
	if err != nil || res.Running != n || res.Cancelled != n {
		t.Fatalf("Cancel() = %+v, %v; want %d cancelled", res, err, n)
	}
	if st := s.Stats().Background; st.Cancelled != n {
		t.Errorf("sim cancelled %d, want %d", st.Cancelled, n)
	}
	j := readJournal(t, cfg.Output)
	for k, rec := range j.records {
		if rec.Error == nil || rec.Error.Code != background.CodeCancelled || rec.Error.Retryable {
			t.Errorf("row %s: record error %+v, want cancelled", k, rec.Error)
		}
	}
	if len(j.records) != n {
		t.Errorf("%d records, want %d", len(j.records), n)
	}
	// Nothing left: a second cancel finds nothing to do.
	if res, err := background.Cancel(context.Background(), cfg.Output, client, nil, nil); err != nil || res.Running != 0 {
		t.Errorf("second Cancel() = %+v, %v; want nothing running", res, err)
	}
}

// gateway fronts the simulator at base with a reverse proxy; serve, when
// it answers true, has answered a request itself; modify may rewrite the
// simulator's answers.
func gateway(t *testing.T, base string, serve func(w http.ResponseWriter, r *http.Request) bool, modify func(*http.Response) error) string {
	u, _ := url.Parse(base)
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: u.Scheme, Host: u.Host})
	proxy.ModifyResponse = modify
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if serve != nil && serve(w, r) {
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(gw.Close)
	return gw.URL + "/v1"
}

// Odd shapes a gateway in front of several servers produces: the create
// answered "in_progress" instead of "queued", polls answered 429 with
// Retry-After, and the first poll of each response answered 404 by a
// replica that does not hold it yet (a store that lags its create behind
// a load balancer). Every row completes, none is created twice.
func TestBackground_GatewayShapes(t *testing.T) {
	dir := t.TempDir()
	const n = 60
	s, base := startSim(t, sim.Config{Seed: 29, BackgroundDelay: 30 * time.Millisecond, BackgroundJitter: 30 * time.Millisecond})
	var mu sync.Mutex
	gets := 0
	polled := map[string]bool{}
	serve := func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet {
			return false
		}
		mu.Lock()
		gets++
		g, first := gets, !polled[r.URL.Path]
		polled[r.URL.Path] = true
		mu.Unlock()
		switch {
		case first:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"detail":"Not Found"}`)
			return true
		case g%5 == 1:
			w.Header().Set("Retry-After-Ms", "15")
			w.WriteHeader(http.StatusTooManyRequests)
			io.WriteString(w, `{"error":{"message":"Rate limit reached for requests","type":"requests","code":"rate_limit_exceeded"}}`)
			return true
		}
		return false
	}
	modify := func(resp *http.Response) error {
		if resp.Request.Method != http.MethodPost || resp.StatusCode != 200 {
			return nil
		}
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		b = bytes.Replace(b, []byte(`"status":"queued"`), []byte(`"status":"in_progress"`), 1)
		resp.Body, resp.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
		resp.Header.Del("Content-Length")
		return nil
	}
	e := fast()
	sum, err := pipeline.Run(context.Background(), config(dir, writeInput(t, dir, n), gateway(t, base, serve, modify), e))
	if err != nil || sum.Rows.OK != n {
		t.Fatalf("Run() = %+v, %v; want %d ok", sum.Rows, err, n)
	}
	for k, c := range s.Creations() {
		if c != 1 {
			t.Errorf("row %q created %d times", k, c)
		}
	}
	if st := e.Stats(); st.Recreated != 0 || st.Created != n {
		t.Errorf("executor stats %+v: want %d created, none again", st, n)
	}
}

// A gateway that routes only the create (GET /responses/{id} is 404):
// the job stops with a usage error at the first response it cannot find,
// instead of creating every row again and again; the responses created
// are journalled, for cancel.
func TestBackground_EndpointWithoutRetrieveStops(t *testing.T) {
	dir := t.TempDir()
	s, base := startSim(t, sim.Config{Seed: 31, BackgroundDelay: 10 * time.Millisecond})
	serve := func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodGet {
			http.NotFound(w, r)
			return true
		}
		return false
	}
	cfg := config(dir, writeInput(t, dir, 200), gateway(t, base, serve, nil), fast())
	_, err := pipeline.Run(context.Background(), cfg)
	var uerr *pipeline.UsageError
	if !errors.As(err, &uerr) || !strings.Contains(err.Error(), "does not serve them back") {
		t.Fatalf("Run() error = %v, want a usage error", err)
	}
	j := readJournal(t, cfg.Output)
	for k, c := range s.Creations() {
		if c != 1 {
			t.Errorf("row %q created %d times", k, c)
		}
	}
	if created := s.Stats().Background.Created; len(j.marks) != created || len(j.records) != 0 {
		t.Errorf("journal: %d marks for %d created, %d records", len(j.marks), created, len(j.records))
	}
}

// Cancel collects what it cannot cancel: a response that ended before the
// cancel (OpenAI answers 400 "Cannot cancel a completed response") and one
// that completes despite the cancel (best-effort, as Azure has shown) are
// journalled as their rows' results.
func TestCancel_CollectsResponsesThatEnded(t *testing.T) {
	dir := t.TempDir()
	const n = 20
	s, base := startSim(t, sim.Config{Seed: 37, BackgroundDelay: 100 * time.Millisecond})
	cfg := config(dir, writeInput(t, dir, n), base, background.New(background.Config{PollInitial: time.Hour}))
	ctx := interruptWhen(t, func() bool { return s.Stats().Background.Created >= n })
	if _, err := pipeline.Run(ctx, cfg); !errors.Is(err, pipeline.ErrInterrupted) {
		t.Fatalf("Run() error = %v, want interrupted", err)
	}
	if !waitFor(5*time.Second, func() bool { return s.Stats().Background.Completed >= n }) {
		t.Fatal("the simulator did not complete the responses")
	}
	res, err := background.Cancel(context.Background(), cfg.Output, &httpapi.Client{BaseURL: base}, nil, nil)
	if err != nil || res.Finished != n {
		t.Fatalf("Cancel() = %+v, %v; want %d finished", res, err, n)
	}
	j := readJournal(t, cfg.Output)
	for k, rec := range j.records {
		if rec.Error != nil || rec.OutputText == "" || rec.Usage.OutputTokens == 0 || rec.RequestSHA256 == "" {
			t.Errorf("row %s: %+v, want its completed answer", k, rec)
		}
	}
	if len(j.records) != n {
		t.Errorf("%d records, want %d", len(j.records), n)
	}

	// Best-effort: the gateway answers the cancel with the response still
	// in_progress; it completes anyway.
	dir = t.TempDir()
	s, base = startSim(t, sim.Config{Seed: 41, BackgroundDelay: 300 * time.Millisecond})
	gw := gateway(t, base, func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/cancel") {
			return false
		}
		id := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/v1/responses/"), "/cancel")
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":%q,"object":"response","status":"in_progress","background":true,"output":[]}`, id)
		return true
	}, nil)
	cfg = config(dir, writeInput(t, dir, 3), gw, background.New(background.Config{PollInitial: time.Hour}))
	ctx = interruptWhen(t, func() bool { return s.Stats().Background.Created >= 3 })
	if _, err := pipeline.Run(ctx, cfg); !errors.Is(err, pipeline.ErrInterrupted) {
		t.Fatalf("Run() error = %v, want interrupted", err)
	}
	res, err = background.Cancel(context.Background(), cfg.Output, &httpapi.Client{BaseURL: gw}, nil, nil)
	if err != nil || res.Finished != 3 {
		t.Fatalf("best-effort Cancel() = %+v, %v; want 3 finished", res, err)
	}
	if j := readJournal(t, cfg.Output); len(j.records) != 3 {
		t.Errorf("%d records, want 3", len(j.records))
	}
}
