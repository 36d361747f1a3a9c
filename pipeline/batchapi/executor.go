// Package batchapi runs a job through the OpenAI Batch API: the
// pipeline.Executor of `llmbatch run --mode batch`. Rows are planned as in
// the online mode (the same requests, keys, resume set and bad-row
// handling); instead of being sent one by one, they are written as Batch
// input lines ({"custom_id": key, "method": "POST", "url": "/v1" + the
// API's path, "body": the request}), uploaded as files (POST /files,
// purpose "batch") and run as batches (POST /batches, completion_window
// "24h"), which are polled (GET /batches/{id}) until they end. Their
// output and error files are then downloaded and every line becomes its
// row's journal record exactly as an online answer would (httpapi.Classify
// classifies each line's status and body), joined by custom_id, never by
// position, and marked as billed at batch prices ("tier": "batch").
//
// # Split limits
//
// A file holds at most Config.MaxLines lines and Config.MaxBytes bytes
// (OpenAI's limits, 50,000 and 200 MB, by default; gateways differ) and
// rows of one model and one endpoint only. Packed requests (embeddings
// with several rows a request) are not supported: run the mode with
// pipeline.Config.PackSize 1.
//
// # Marks
//
// Every id is journalled (results.Mark, fsynced) the moment it exists,
// before the next step:
//
//	{"kind":"batch_file","id":"file-…","data":{"endpoint":"/v1/responses","model":"gpt-5-mini","lines":2,"bytes":512,"keys":["a","b"]}}
//	{"kind":"batch_create","id":"file-…"}
//	{"kind":"batch","id":"batch_…","data":{"input_file_id":"file-…","endpoint":"/v1/responses"}}
//	{"kind":"batch_state","id":"batch_…","data":{…the Batch object as read…}}
//
// batch_file is written after the upload, batch_create just before the
// batch is asked for, batch after the creation, batch_state when a batch
// ended (and was collected), failed validation, or was cancelled by
// `llmbatch cancel`. A resume (State) gives each row to
// the latest file that names it until a record of the row follows: such
// rows are never uploaded again; their batch is polled and collected (or,
// for a file whose batch was not created, created). A row's record comes
// from its batch's output, so a crash anywhere leaves each row either
// journalled or held by exactly one batch.
//
// # Failures
//
// A line answered with an HTTP error status is classified like an online
// answer. Lines that expired or were cancelled (batch_expired,
// batch_cancelled in the error file) and lines with transient failures
// (5xx, 429) are journalled as retryable: the next run sends them again,
// and with Config.Resubmit the same run puts only those into new batches,
// up to MaxResubmits times a row. A batch that fails validation
// (invalid_json_line, duplicate_custom_id, too_many_tasks,
// token_limit_exceeded, ...) bills nothing: its errors are reported with
// their lines and keys, its rows stay pending, and Execute returns an
// error once the other batches are done.
//
// A batch is created only by one POST whose answer is awaited (also when
// the job is interrupted, up to its drain timeout): a create that got no
// answer (a reset, a timeout) is not retried in the run. A resume that
// finds a batch_create mark without its batch mark (the process died
// between asking and journalling) looks for the batch among the
// account's batches (GET /batches) by its input file before creating one;
// an endpoint that cannot list batches gets it created again, with a
// warning. The window between an upload's answer and its fsynced mark is
// not covered: a crash exactly there uploads the file once more (a file
// is not billed).
//
// # Cost
//
// Records carry "tier": "batch": totals, the summary, progress and report
// price them at the price table's batch multiplier. Under
// pipeline.Config.MaxCost a batch is created only while the journal's
// cost plus the estimates (at batch prices) of the batches running fits
// the cap (pipeline.Exec.ReserveAll); with none running, the part of the
// next batch that fits goes out, and the job stops when not one row fits.
// Batches created by an earlier run are not counted until their rows are
// journalled.
package batchapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/llmbatch/llmbatch/io/httpapi"
	"github.com/llmbatch/llmbatch/io/results"
	"github.com/llmbatch/llmbatch/pipeline"
	"github.com/llmbatch/llmbatch/retry"
)

// Defaults of Config's fields.
const (
	DefaultMaxLines     = 50_000
	DefaultMaxBytes     = 200_000_000
	DefaultPollInterval = 30 * time.Second
	// MaxResubmits bounds how often one run puts a row into a new batch.
	MaxResubmits = 3
	// Window is the completion window asked of every batch.
	Window = "24h"
	// Tier is the price tier of the records the mode journals.
	Tier = "batch"
)

// Config configures the mode.
type Config struct {
	// MaxLines and MaxBytes bound one input file; defaults DefaultMaxLines
	// and DefaultMaxBytes.
	MaxLines int
	MaxBytes int64
	// PollInterval is the first wait between two polls of a batch; it
	// grows by half each poll up to 10 times itself. Default
	// DefaultPollInterval.
	PollInterval time.Duration
	// Detach returns once every row is in a batch (after one poll of
	// each, collecting those already ended): the next run collects.
	Detach bool
	// Resubmit puts the rows whose lines expired, were cancelled or
	// failed transiently into new batches in the same run.
	Resubmit bool
	// Progress, when set, is called with a batch's object each time it is
	// read (from any goroutine).
	Progress func(Batch)
	// TempDir holds the downloaded output files while they are read;
	// "" means os.TempDir().
	TempDir string
}

// Client is what the mode needs of the endpoint: *httpapi.Client.
type Client interface {
	Do(ctx context.Context, method, path string, body []byte, dec httpapi.Decoder) (*httpapi.Answer, error)
	Upload(ctx context.Context, path string, fields []string, filename string, content []byte, dec httpapi.Decoder) (*httpapi.Answer, error)
	Download(ctx context.Context, path string, w io.Writer) (int64, *httpapi.Answer, error)
}

// Executor is the Batch API run mode; it implements pipeline.Executor and
// pipeline.Resumer. Use one per run.
type Executor struct {
	cfg   Config
	state *State

	// Set while Execute runs.
	x   *pipeline.Exec
	cli Client

	mu       sync.Mutex
	wg       sync.WaitGroup
	files    map[*File]*pending // files with rows held, being polled
	resubmit []*pipeline.Request
	tries    map[string]int // resubmissions by key, this run
	failures []string       // batches that failed validation, described
	planDone chan struct{}
	counts   Counts
}

// Counts is what one run of the mode did.
type Counts struct {
	Uploaded  int // input files uploaded
	Created   int // batches created
	Collected int // batches whose results were journalled
	Failed    int // batches that failed validation
	// Running is how many batches were left running server-side when
	// Execute returned (stopped, or detached).
	Running int
}

// pending is a held file's planned rows: its batch is collected once every
// row it holds was planned (or the plan ended).
type pending struct {
	reqs  map[string]*pipeline.Request
	ready chan struct{} // closed when reqs holds every owned key
	// settle releases a row's reservation under the cost cap with its
	// record (pipeline.Exec.ReserveAll); nil for a batch of an earlier run.
	settle func(*pipeline.Request, *results.Record)
}

// settleRow releases req's reservation, if p holds one.
func (p *pending) settleRow(req *pipeline.Request, rec *results.Record) {
	if p.settle != nil {
		p.settle(req, rec)
	}
}

// New returns the mode's executor.
func New(cfg Config) *Executor {
	if cfg.MaxLines <= 0 {
		cfg.MaxLines = DefaultMaxLines
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	return &Executor{cfg: cfg, state: NewState(), files: map[*File]*pending{}, tries: map[string]int{}, planDone: make(chan struct{})}
}

// Resume implements pipeline.Resumer.
func (e *Executor) Resume(rec *results.Record, m *results.Mark) { e.state.Add(rec, m) }

// Counts returns what the run did so far.
func (e *Executor) Counts() Counts {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.counts
}

// chunk is an input file being filled.
type chunk struct {
	model, endpoint string
	buf             bytes.Buffer
	reqs            []*pipeline.Request
	ends            []int // where each request's line ends in buf
}

// Execute implements pipeline.Executor.
func (e *Executor) Execute(x *pipeline.Exec) error {
	cli, ok := x.Endpoint().(Client)
	if !ok {
		return &pipeline.UsageError{Err: errors.New("batch mode needs an HTTP endpoint (a base URL): the configured endpoint cannot upload files")}
	}
	e.x, e.cli = x, cli
	for _, f := range e.state.Active() {
		e.hold(f)
	}
	chunks := map[string]*chunk{}
	var err error
	for req := range x.Plan() {
		if err != nil {
			continue // take what is still planned; the rows stay pending
		}
		if req.Rows() > 1 {
			err = &pipeline.UsageError{Err: errors.New("batch mode sends one row a request: packed requests (embeddings) need a pack size of 1 (Config.PackSize 1, the command's --embed-batch 1)")}
			x.Stop(err)
			continue
		}
		if e.claim(req) {
			continue
		}
		err = e.add(chunks, req)
	}
	close(e.planDone)
	for _, c := range chunks {
		if err == nil && len(c.reqs) > 0 {
			err = e.submit(c)
		}
	}
	for err == nil {
		e.wg.Wait()
		e.mu.Lock()
		again := e.resubmit
		e.resubmit = nil
		e.mu.Unlock()
		if len(again) == 0 || x.Stopping().Err() != nil || e.cfg.Detach {
			break
		}
		x.Logger().Info("batch: resubmitting the rows that expired, were cancelled or failed transiently", "rows", len(again))
		chunks = map[string]*chunk{}
		for _, req := range again {
			if err = e.add(chunks, req); err != nil {
				break
			}
		}
		for _, c := range chunks {
			if err == nil && len(c.reqs) > 0 {
				err = e.submit(c)
			}
		}
	}
	e.wg.Wait()
	if err != nil {
		return err
	}
	if n := e.Counts().Running; n > 0 {
		x.Logger().Info("batches are still running server-side and are billed when they finish: run the same command again to collect them, `llmbatch status JOURNAL` to see them, `llmbatch cancel JOURNAL` to cancel them",
			"batches", n)
	}
	if len(e.failures) > 0 && x.Stopping().Err() == nil {
		return &pipeline.StopError{Reason: fmt.Sprintf("%d batch(es) failed validation or could not be created; their rows stay pending (nothing was billed)", len(e.failures)),
			Err: errors.New(joinLimit(e.failures))}
	}
	return nil
}

func joinLimit(s []string) string {
	var b bytes.Buffer
	for i, t := range s {
		if i > 0 {
			b.WriteString(" | ")
		}
		b.WriteString(t)
	}
	return b.String()
}

// claim hands req to the journalled file that holds its row, if any.
func (e *Executor) claim(req *pipeline.Request) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	f := e.state.Owner(req.Key())
	if f == nil {
		return false
	}
	p := e.files[f]
	if p == nil { // cannot happen: every active file is held
		return false
	}
	p.reqs[req.Key()] = req
	if len(p.reqs) == f.Owned {
		close(p.ready)
	}
	return true
}

// hold starts polling (or creating the batch of) a file journalled by an
// earlier run.
func (e *Executor) hold(f *File) {
	p := &pending{reqs: map[string]*pipeline.Request{}, ready: make(chan struct{})}
	e.files[f] = p
	e.wg.Go(func() { e.follow(f, p) })
}

// add puts req into its chunk, submitting the chunk first when req would
// pass a limit.
func (e *Executor) add(chunks map[string]*chunk, req *pipeline.Request) error {
	ep := "/v1" + req.API().Path()
	k := req.Model() + "\x00" + ep
	c := chunks[k]
	if c == nil {
		c = &chunk{model: req.Model(), endpoint: ep}
		chunks[k] = c
	}
	line, err := json.Marshal(inputLine{CustomID: req.Key(), Method: http.MethodPost, URL: ep, Body: req.Body()})
	if err != nil {
		return fmt.Errorf("batch input line of row %q: %w", req.Key(), err)
	}
	line = append(line, '\n')
	if len(c.reqs) > 0 && (len(c.reqs)+1 > e.cfg.MaxLines || int64(c.buf.Len()+len(line)) > e.cfg.MaxBytes) {
		if err := e.submit(c); err != nil {
			return err
		}
		c.buf.Reset()
		c.reqs, c.ends = nil, nil
	}
	c.buf.Write(line)
	c.reqs = append(c.reqs, req)
	c.ends = append(c.ends, c.buf.Len())
	return nil
}

// submit uploads c, journals the file, creates its batch, journals it and
// starts following it. An error stops the job.
func (e *Executor) submit(c *chunk) error {
	x := e.x
	if x.Stopping().Err() != nil {
		return nil // the rows stay pending
	}
	// Under --max-cost the batch's rows are held as in flight until it
	// ends; when the cap leaves room for only some, the others wait for
	// the batches running now, in the next round.
	n, settle, err := x.ReserveAll(c.reqs, Tier)
	if err != nil {
		if x.Stopping().Err() != nil {
			return nil
		}
		return err
	}
	if n < len(c.reqs) {
		x.Logger().Info("batch: the cost cap leaves room for part of the next batch; the rest waits", "rows", n, "waiting", len(c.reqs)-n)
		e.mu.Lock()
		e.resubmit = append(e.resubmit, c.reqs[n:]...)
		e.mu.Unlock()
		c.reqs = c.reqs[:n]
	}
	unreserve := func() {
		for _, r := range c.reqs {
			settle(r, nil)
		}
	}
	// Not copied: the upload ends before submit returns and c is reused.
	content := c.buf.Bytes()[:c.ends[len(c.reqs)-1]]
	sum := sha256.Sum256(content)
	name := "llmbatch-" + hex.EncodeToString(sum[:8]) + ".jsonl"
	var obj fileObject
	err = e.call(func(ctx context.Context) (*httpapi.Answer, error) {
		return e.cli.Upload(ctx, "/files", []string{"purpose", "batch"}, name, content, fileDecoder)
	}, &obj, true)
	if err != nil {
		unreserve()
		if x.Stopping().Err() != nil {
			return nil
		}
		return &pipeline.StopError{Reason: fmt.Sprintf("cannot upload a batch input file (%d rows)", len(c.reqs)), Err: err}
	}
	keys := make([]string, len(c.reqs))
	for i, r := range c.reqs {
		keys[i] = r.Key()
	}
	data, _ := json.Marshal(FileData{Endpoint: c.endpoint, Model: c.model, Lines: len(keys), Bytes: int64(len(content)), Keys: keys})
	m := &results.Mark{Kind: KindFile, ID: obj.ID, Data: data}
	if err := x.Mark(m); err != nil {
		unreserve()
		return nil // the job is stopping: the rows stay pending
	}
	x.Logger().Info("batch: input file uploaded", "file", obj.ID, "rows", len(keys), "bytes", len(content), "model", c.model)
	e.mu.Lock()
	e.counts.Uploaded++
	e.state.Add(nil, m)
	f := e.state.files[obj.ID]
	p := &pending{reqs: make(map[string]*pipeline.Request, len(c.reqs)), ready: make(chan struct{}), settle: settle}
	for _, r := range c.reqs {
		p.reqs[r.Key()] = r
	}
	close(p.ready)
	e.files[f] = p
	e.mu.Unlock()
	e.wg.Go(func() { e.follow(f, p) })
	return nil
}

// create creates f's batch and journals it.
func (e *Executor) create(f *File) (*BatchInfo, error) {
	x := e.x
	if f.Creating {
		// An earlier run asked for this file's batch and may have died
		// before journalling its id: find it rather than create another.
		b, err := e.find(f)
		if err != nil {
			return nil, err
		}
		if b != nil {
			x.Logger().Info("batch: found the batch an earlier run created but did not journal", "batch", b.ID, "file", f.ID)
			return e.adopt(f, b)
		}
	}
	intent := &results.Mark{Kind: KindCreate, ID: f.ID}
	if err := x.Mark(intent); err != nil {
		return nil, err
	}
	e.mu.Lock()
	e.state.Add(nil, intent)
	e.mu.Unlock()
	body, _ := json.Marshal(map[string]any{"input_file_id": f.ID, "endpoint": f.Endpoint, "completion_window": Window,
		"metadata": map[string]string{"created_by": "llmbatch"}})
	var b Batch
	err := e.call(func(ctx context.Context) (*httpapi.Answer, error) {
		return e.cli.Do(ctx, http.MethodPost, "/batches", body, batchDecoder)
	}, &b, false)
	if err != nil {
		return nil, err
	}
	return e.adopt(f, &b)
}

// adopt journals b, created from f, and makes it f's batch.
func (e *Executor) adopt(f *File, b *Batch) (*BatchInfo, error) {
	x := e.x
	data, _ := json.Marshal(BatchData{InputFileID: f.ID, Endpoint: f.Endpoint})
	m := &results.Mark{Kind: KindBatch, ID: b.ID, Data: data}
	if err := x.Mark(m); err != nil {
		return nil, err
	}
	x.Logger().Info("batch: created", "batch", b.ID, "file", f.ID, "rows", f.Lines)
	e.mu.Lock()
	e.counts.Created++
	e.state.Add(nil, m)
	bi := e.state.batches[b.ID]
	e.mu.Unlock()
	e.progress(b)
	return bi, nil
}

// maxListPages bounds how many pages of GET /batches find reads.
const maxListPages = 20

// find looks for a batch created from f among the account's batches
// (GET /batches, newest first, 100 a page, up to maxListPages pages, and
// no further back than the day before f was journalled). It returns nil
// when there is none. An endpoint that cannot list batches (404, 405,
// 501) answers nil with a warning: the batch is created, possibly again.
func (e *Executor) find(f *File) (*Batch, error) {
	x := e.x
	after := ""
	for range maxListPages {
		path := "/batches?limit=100"
		if after != "" {
			path += "&after=" + url.QueryEscape(after)
		}
		var page struct {
			Data    []Batch `json:"data"`
			HasMore bool    `json:"has_more"`
			LastID  string  `json:"last_id"`
		}
		err := e.call(func(ctx context.Context) (*httpapi.Answer, error) {
			return e.cli.Do(ctx, http.MethodGet, path, nil, listDecoder)
		}, &page, true)
		var he *httpapi.Error
		if errors.As(err, &he) && (he.StatusCode == http.StatusNotFound || he.StatusCode == http.StatusMethodNotAllowed || he.StatusCode == http.StatusNotImplemented) {
			x.Logger().Warn("batch: the endpoint cannot list batches (GET /batches): a batch an earlier run may have created for this file cannot be found, and is created again",
				"file", f.ID, "err", err)
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		oldest := int64(0)
		for i := range page.Data {
			b := &page.Data[i]
			if b.InputFileID == f.ID {
				return b, nil
			}
			if oldest == 0 || (b.CreatedAt > 0 && b.CreatedAt < oldest) {
				oldest = b.CreatedAt
			}
		}
		if !page.HasMore || len(page.Data) == 0 || (f.Time > 0 && oldest > 0 && oldest < f.Time-24*3600) {
			return nil, nil
		}
		after = page.LastID
		if after == "" {
			after = page.Data[len(page.Data)-1].ID
		}
	}
	return nil, nil
}

// call makes an object call with retries on transient failures and reads
// its answer's body into out. Without retryLost, a call that got no answer
// at all (it may have acted) is not retried.
//
// A call under way is not cancelled when the job stops, only when it is
// drained: an upload or a creation the server may have acted on gets its
// answer, and its id is journalled. No call starts once the job stops.
func (e *Executor) call(do func(ctx context.Context) (*httpapi.Answer, error), out any, retryLost bool) error {
	p := retry.Policy{MaxAttempts: retry.DefaultMaxAttempts, Initial: min(e.cfg.PollInterval, retry.DefaultInitial)}
	var ans *httpapi.Answer
	_, err := p.Do(e.x.Stopping(), func(int) error {
		actx, cancel := context.WithTimeout(e.x.Draining(), e.x.Timeout())
		defer cancel()
		var err error
		ans, err = do(actx)
		var he *httpapi.Error
		if errors.As(err, &he) && he.StatusCode == 0 && !retryLost {
			return &final{err}
		}
		if errors.As(err, &he) && he.Class == httpapi.Fatal {
			e.x.Stop(&pipeline.StopError{Reason: "the endpoint refused a Batch API call; fix it, then re-run the same command to resume", Err: err})
		}
		return err
	})
	var f *final
	if errors.As(err, &f) {
		err = f.err
	}
	if err != nil {
		return err
	}
	return json.Unmarshal(ans.Body, out)
}

// final wraps an error that must not be retried.
type final struct{ err error }

func (f *final) Error() string { return f.err.Error() }

func (e *Executor) progress(b *Batch) {
	if e.cfg.Progress != nil {
		e.cfg.Progress(*b)
	}
}

// follow creates f's batch if the journal has none, polls it until it
// ends, and collects it.
func (e *Executor) follow(f *File, p *pending) {
	x := e.x
	bi := f.Batch
	// A batch an earlier run created is polled at once; a new one after
	// a first interval (it is validating), unless detached.
	wait := e.cfg.PollInterval
	if bi != nil || e.cfg.Detach {
		wait = 0
	}
	if bi == nil {
		var err error
		if bi, err = e.create(f); err != nil {
			e.unhold(f, p)
			if x.Stopping().Err() == nil {
				x.Logger().Error("batch: cannot create a batch; its file is journalled and the next run creates it", "file", f.ID, "err", err)
				e.mu.Lock()
				e.failures = append(e.failures, fmt.Sprintf("the batch of file %s (%d rows) could not be created: %v", f.ID, f.Lines, err))
				e.mu.Unlock()
			}
			return
		}
	}
	for {
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-x.Stopping().Done():
				t.Stop()
				e.leftRunning()
				return
			}
			wait = min(wait*3/2, 10*e.cfg.PollInterval)
		} else {
			wait = e.cfg.PollInterval
		}
		var b Batch
		err := e.call(func(ctx context.Context) (*httpapi.Answer, error) {
			return e.cli.Do(ctx, http.MethodGet, "/batches/"+bi.ID, nil, batchDecoder)
		}, &b, true)
		if err != nil {
			if x.Stopping().Err() == nil {
				// The batch runs on, unseen: stop rather than send more
				// (and, under --max-cost, rather than wait for it).
				x.Stop(&pipeline.StopError{Reason: fmt.Sprintf("cannot read batch %s, which keeps running server-side; re-run the same command to poll it again", bi.ID), Err: err})
			}
			e.leftRunning()
			return
		}
		e.progress(&b)
		if Terminal(b.Status) {
			e.collect(bi, &b, p)
			return
		}
		if e.cfg.Detach {
			e.leftRunning()
			return
		}
	}
}

// unhold gives up on f for this run: its rows stay pending (the next run
// creates its batch) and their reservations are released.
func (e *Executor) unhold(f *File, p *pending) {
	e.mu.Lock()
	reqs := make([]*pipeline.Request, 0, len(p.reqs))
	for _, r := range p.reqs {
		reqs = append(reqs, r)
	}
	delete(e.files, f)
	e.mu.Unlock()
	for _, r := range reqs {
		p.settleRow(r, nil)
	}
}

func (e *Executor) leftRunning() {
	e.mu.Lock()
	e.counts.Running++
	e.mu.Unlock()
}

// collect journals the records of an ended batch.
func (e *Executor) collect(bi *BatchInfo, b *Batch, p *pending) {
	x := e.x
	select {
	case <-p.ready:
	case <-e.planDone:
	case <-x.Stopping().Done():
		e.leftRunning()
		return
	}
	e.mu.Lock()
	reqs := make(map[string]*pipeline.Request, len(p.reqs))
	for k, r := range p.reqs {
		reqs[k] = r
	}
	e.mu.Unlock()
	f := bi.File
	if b.Status == StatusFailed {
		desc := fmt.Sprintf("batch %s (file %s, %d rows) failed validation: %s", b.ID, f.ID, f.Lines, describe(b, f.Keys))
		x.Logger().Error("batch: failed validation; nothing was billed and its rows stay pending", "batch", b.ID, "file", f.ID, "errors", describe(b, f.Keys))
		if err := e.markState(b); err != nil {
			return
		}
		for _, r := range reqs {
			p.settleRow(r, nil)
		}
		e.mu.Lock()
		e.counts.Failed++
		e.failures = append(e.failures, desc)
		delete(e.files, f)
		e.mu.Unlock()
		return
	}
	seen := make(map[string]bool, len(reqs))
	for _, id := range []string{b.OutputFileID, b.ErrorFileID} {
		if id == "" {
			continue
		}
		if err := e.readFile(id, reqs, seen, p); err != nil {
			if x.Draining().Err() == nil {
				x.Logger().Error("batch: cannot read the batch's results; the next run reads them again", "batch", b.ID, "file", id, "err", err)
			}
			return
		}
	}
	// Rows the batch held that neither file answered.
	for k, req := range reqs {
		if !seen[k] {
			e.deliver(req, p, pipeline.Outcome{Attempts: 1, Err: &httpapi.Error{Class: httpapi.Retryable, Code: "batch_missing",
				Message: fmt.Sprintf("batch %s (%s) has no line for this row", b.ID, b.Status)}})
		}
	}
	if err := e.markState(b); err != nil {
		return
	}
	e.mu.Lock()
	delete(e.files, f)
	e.counts.Collected++
	e.mu.Unlock()
	x.Logger().Info("batch: collected", "batch", b.ID, "status", b.Status, "completed", b.RequestCounts.Completed,
		"failed", b.RequestCounts.Failed, "total", b.RequestCounts.Total)
}

// markState journals b's object as read.
func (e *Executor) markState(b *Batch) error {
	data, _ := json.Marshal(b)
	m := &results.Mark{Kind: KindState, ID: b.ID, Data: data}
	if err := e.x.Mark(m); err != nil {
		return err
	}
	e.mu.Lock()
	e.state.Add(nil, m)
	e.mu.Unlock()
	return nil
}

// readFile downloads an output or error file and journals a record for
// each of its lines whose row is in reqs, noting them in seen.
func (e *Executor) readFile(id string, reqs map[string]*pipeline.Request, seen map[string]bool, p *pending) error {
	x := e.x
	tmp, err := os.CreateTemp(e.cfg.TempDir, "llmbatch-"+id+"-*.jsonl")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	pol := retry.Policy{MaxAttempts: retry.DefaultMaxAttempts, Initial: min(e.cfg.PollInterval, retry.DefaultInitial)}
	_, err = pol.Do(x.Draining(), func(int) error {
		if _, err := tmp.Seek(0, io.SeekStart); err != nil {
			return err
		}
		if err := tmp.Truncate(0); err != nil {
			return err
		}
		_, _, err := e.cli.Download(x.Draining(), "/files/"+id+"/content", tmp)
		return err
	})
	if err != nil {
		return err
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return err
	}
	return e.readLines(tmp, reqs, seen, p)
}

// readLines journals the record of each line of r.
func (e *Executor) readLines(r io.Reader, reqs map[string]*pipeline.Request, seen map[string]bool, p *pending) error {
	dec := json.NewDecoder(r)
	unknown := 0
	for {
		var l outputLine
		err := dec.Decode(&l)
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("a line of the batch's results file is not JSON: %w", err)
		}
		if l.CustomID == nil {
			continue
		}
		req := reqs[*l.CustomID]
		if req == nil || seen[*l.CustomID] {
			unknown++
			continue
		}
		seen[*l.CustomID] = true
		var o pipeline.Outcome
		o.Attempts = 1
		switch {
		case l.Response != nil:
			o.Answer, o.Err = httpapi.Classify(l.Response.StatusCode, l.Response.RequestID, unquote(l.Response.Body), req.API())
			var he *httpapi.Error
			if errors.As(o.Err, &he) && he.Class == httpapi.Fatal {
				he.Class = httpapi.Retryable // one line's 401 is not the job's: send it again
			}
		case l.Error != nil:
			o.Err = &httpapi.Error{Class: httpapi.Retryable, Code: l.Error.Code, Message: l.Error.Message}
		default:
			o.Err = &httpapi.Error{Class: httpapi.Retryable, Code: "batch_missing", Message: "the batch's line has neither a response nor an error"}
		}
		e.deliver(req, p, o)
	}
	if unknown > 0 {
		e.x.Logger().Info("batch: results lines skipped: their rows are journalled already (an earlier run collected them) or were not read this run", "lines", unknown)
	}
	return nil
}

// deliver journals req's record from o; a retryable one is resubmitted.
func (e *Executor) deliver(req *pipeline.Request, p *pending, o pipeline.Outcome) {
	x := e.x
	rec := x.Record(req, o)
	if rec != nil {
		rec.Tier = Tier
	}
	p.settleRow(req, rec)
	if rec == nil {
		return
	}
	x.Emit(req, rec)
	if rec.Error != nil && rec.Error.Retryable && e.cfg.Resubmit {
		e.mu.Lock()
		if e.tries[req.Key()] < MaxResubmits {
			e.tries[req.Key()]++
			e.resubmit = append(e.resubmit, req)
		}
		e.mu.Unlock()
	}
}

// unquote returns the JSON text a body holds when a gateway wrote it as a
// JSON string ("body": "{\"id\": ...}"), else body as it is.
func unquote(body json.RawMessage) json.RawMessage {
	if len(body) == 0 || body[0] != '"' {
		return body
	}
	var s string
	if json.Unmarshal(body, &s) != nil || !json.Valid([]byte(s)) {
		return body
	}
	return json.RawMessage(s)
}
