// Package background is the background-responses run mode
// (llmbatch run --mode background): each row's request is created on the
// Responses API with "background": true and "store": true, which answers
// at once with the response's id while the work goes on server-side; the
// id is journalled (a mark, fsynced) before the row counts as running, and
// the response is then polled (GET /responses/{id}) until it ends. Its
// final object becomes the row's record exactly like an online answer
// (usage, cost, output_text).
//
// What it buys: a crash or a kill loses no paid answer. A resume polls the
// rows whose id is journalled and that have no record, and never creates
// them again; only a row whose create call was in flight at the kill may
// be created twice (a window of one round trip instead of the whole
// generation). And no request has to outlive an HTTP timeout: a response
// that takes 30 minutes is 30 minutes of short GETs.
//
// Bounds: Concurrency (--concurrency) bounds the create calls in flight;
// MaxPending (--max-pending, default 1,000) bounds the responses running
// server-side, which is what the endpoint's rate limits see. Under
// --max-cost a running response holds its reserved estimate until it ends.
//
// Polling starts PollInitial (1s) after the create and backs off by half
// again each time up to PollMax (30s), with a tenth of jitter; a 429 or
// 5xx waits at least its Retry-After. A response that is gone (404 to
// three polls in a row: past its retention) or ended "failed" with a
// transient error (server_error) goes back to pending: it is created
// again, up to MaxAttempts times in all, after which its row is
// journalled as a retryable failure that the next run sends again. A
// response this run created and never found (404 from its first polls
// on) means the endpoint does not serve responses back (a gateway that
// routes only the create): the job stops with a usage error instead of
// creating every row again.
//
// On a stop (Ctrl-C, --max-cost, a fatal answer) no response is created
// any more and polling ends; the responses still running are billed and
// keep running server-side: re-running the same command collects them
// (Stats.Running counts them), and Cancel cancels them.
//
// An endpoint that does not run background responses is told apart: one
// that answers the create with a finished response has its answer taken
// as the row's result (with one warning); one that refuses "background"
// (a 400 naming background or store, before any response was created)
// stops the job with a usage error that suggests the default mode.
package background

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llmbatch/llmbatch/io/api"
	"github.com/llmbatch/llmbatch/io/httpapi"
	"github.com/llmbatch/llmbatch/io/results"
	"github.com/llmbatch/llmbatch/pipeline"
)

// Defaults of Config's fields.
const (
	DefaultMaxPending  = 1000
	DefaultPollInitial = time.Second
	DefaultPollMax     = 30 * time.Second
	DefaultMaxAttempts = 3
)

// MarkKind is the kind of the journal marks this mode writes: one per
// response created, {"kind":"response","key":KEY,"id":ID,"time":...,
// "data":{"index":N,"request_sha256":SHA}}.
const MarkKind = "response"

// Config tunes the mode. Zero fields take the defaults above.
type Config struct {
	// MaxPending bounds the responses running server-side at once.
	MaxPending int
	// PollInitial is the wait before a response's first poll; later waits
	// grow by half each time up to PollMax.
	PollInitial, PollMax time.Duration
	// MaxAttempts bounds how many responses are created for one row in a
	// run, when responses end failed with a transient error or are gone
	// (404) before they were read.
	MaxAttempts int
	// Journal is the journal's path, named in the messages that tell how
	// to cancel the responses left running.
	Journal string
}

func (c Config) withDefaults() Config {
	if c.MaxPending <= 0 {
		c.MaxPending = DefaultMaxPending
	}
	if c.PollInitial <= 0 {
		c.PollInitial = DefaultPollInitial
	}
	if c.PollMax <= 0 {
		c.PollMax = DefaultPollMax
	}
	c.PollMax = max(c.PollMax, c.PollInitial)
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	return c
}

// Doer reads and acts on stored objects (GET /responses/{id}, POST
// /responses/{id}/cancel). *httpapi.Client implements it.
type Doer interface {
	Do(ctx context.Context, method, path string, body []byte, dec httpapi.Decoder) (*httpapi.Answer, error)
}

// Stats counts what a run of the mode did.
type Stats struct {
	Created   int64 // responses created (create answered queued or in_progress)
	Resumed   int64 // responses journalled by an earlier run, polled instead of created
	Polls     int64 // GET /responses/{id} calls
	Finished  int64 // rows journalled from a response's final state
	Recreated int64 // responses created again: gone (404) or failed with a transient error
	Sync      int64 // creates answered with a finished response (no background support)
	// Running counts the responses left running server-side when the run
	// stopped: billed, collected by the next run.
	Running int64
}

// Executor is the mode: a pipeline.Executor and pipeline.Resumer.
type Executor struct {
	cfg Config

	mu    sync.Mutex
	marks map[string]mark // rows with a journalled response and no record since

	syncWarn                                                 sync.Once
	created, resumed, polls, finished, recreated, sync, left atomic.Int64
}

// mark is a journalled response of a row.
type mark struct {
	id  string
	t   time.Time
	sha string // the request's hash, when the mark carries it
}

// markData is a mark's "data": what a record needs besides the answer.
type markData struct {
	Index         int64  `json:"index"`
	RequestSHA256 string `json:"request_sha256,omitempty"`
}

// New returns the mode for cfg. An Executor serves one Run (its Resume
// and Stats are that run's): make a new one for each.
func New(cfg Config) *Executor {
	return &Executor{cfg: cfg.withDefaults(), marks: map[string]mark{}}
}

// Stats returns the run's counts so far.
func (e *Executor) Stats() Stats {
	return Stats{Created: e.created.Load(), Resumed: e.resumed.Load(), Polls: e.polls.Load(), Finished: e.finished.Load(),
		Recreated: e.recreated.Load(), Sync: e.sync.Load(), Running: e.left.Load()}
}

// Resume implements pipeline.Resumer: a row's response mark is kept until
// a record of the row follows it.
func (e *Executor) Resume(rec *results.Record, m *results.Mark) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if m != nil {
		if m.Kind == MarkKind && m.Key != "" && m.ID != "" {
			var d markData
			json.Unmarshal(m.Data, &d)
			e.marks[m.Key] = mark{id: m.ID, t: m.Time, sha: d.RequestSHA256}
		}
		return
	}
	delete(e.marks, rec.CustomID)
}

// take returns and forgets the journalled response of req's row, if it is
// one of req's own request.
func (e *Executor) take(x *pipeline.Exec, req *pipeline.Request) (mark, bool) {
	e.mu.Lock()
	m, ok := e.marks[req.Key()]
	delete(e.marks, req.Key())
	e.mu.Unlock()
	if ok && m.sha != "" && m.sha != sha(req.Body()) {
		x.Logger().Warn("background: the row's request changed since its response was created: creating a new one (the old one is not collected)",
			"key", req.Key(), "response", m.id)
		return mark{}, false
	}
	return m, ok
}

// row is one row on its way: created, polled, journalled.
type row struct {
	req      *pipeline.Request
	settle   func(*results.Record)
	id       string
	start    time.Time // when its response was created
	attempts int       // create attempts
	made     int       // responses created for it this run
	limited  int
	seen     bool // a poll found its response
	missing  int  // polls answered 404 in a row
}

// notFoundPolls is how many polls in a row must answer 404 before a
// response counts as gone: a load balancer in front of servers that keep
// responses in memory may send a poll to one that does not have it.
const notFoundPolls = 3

// Execute implements pipeline.Executor.
func (e *Executor) Execute(x *pipeline.Exec) error {
	doer, ok := x.Endpoint().(Doer)
	if !ok {
		return &pipeline.UsageError{Err: errors.New("background mode: the endpoint cannot read responses by id (GET /responses/{id})")}
	}
	pending := make(chan struct{}, e.cfg.MaxPending)
	creating := make(chan struct{}, x.Concurrency())
	var pollers, creators sync.WaitGroup
	for range x.Concurrency() {
		creators.Go(func() {
			for req := range x.Plan() {
				select {
				case pending <- struct{}{}:
				case <-x.Stopping().Done():
					continue // stays pending
				}
				settle, err := x.Reserve(req)
				if err != nil {
					<-pending
					if x.Stopping().Err() == nil {
						x.Stop(err)
					}
					continue
				}
				r := &row{req: req, settle: settle}
				if m, ok := e.take(x, req); ok {
					e.resumed.Add(1)
					r.id, r.start = m.id, m.t
					if r.start.IsZero() {
						r.start = time.Now()
					}
				} else if !e.create(x, r, creating) {
					<-pending
					continue
				}
				pollers.Go(func() {
					e.poll(x, doer, r, creating)
					<-pending
				})
			}
		})
	}
	creators.Wait()
	pollers.Wait()
	st := e.Stats()
	if st.Running > 0 {
		x.Logger().Warn(fmt.Sprintf("background: %d responses are still running server-side and are billed: re-run the same command to collect them, or cancel them with: llmbatch cancel %s", st.Running, or(e.cfg.Journal, "JOURNAL")),
			"running", st.Running)
	}
	if st.Created+st.Resumed > 0 {
		per := 0.0
		if st.Finished > 0 {
			per = float64(st.Polls) / float64(st.Finished)
		}
		x.Logger().Info("background responses", "created", st.Created, "resumed", st.Resumed, "recreated", st.Recreated,
			"finished", st.Finished, "polls", st.Polls, "polls_per_row", fmt.Sprintf("%.1f", per), "running", st.Running)
	}
	return nil
}

// create creates r's response and journals its id, or journals r's
// outcome when no response runs (an error, a synchronous answer). It
// reports whether a response is running, to be polled; when not, r was
// settled.
func (e *Executor) create(x *pipeline.Exec, r *row, creating chan struct{}) bool {
	req := r.req
	select {
	case creating <- struct{}{}:
	case <-x.Stopping().Done():
		r.settle(nil)
		return false
	}
	if req.API().Path() != "/responses" {
		<-creating
		x.Stop(&pipeline.UsageError{Err: fmt.Errorf("background mode runs on the Responses API only (row %s is for %s); run it in the default (online) mode", req.Key(), req.API().Path())})
		r.settle(nil)
		return false
	}
	body, err := backgroundBody(req.Body())
	if err != nil {
		<-creating
		x.Stop(&pipeline.UsageError{Err: fmt.Errorf("background mode: row %s: %w", req.Key(), err)})
		r.settle(nil)
		return false
	}
	dec := decoder{req.API()}
	o := x.Try(req, func(ctx context.Context, req *pipeline.Request) (*httpapi.Answer, error) {
		return x.Endpoint().Send(ctx, req.API().Path(), body, dec)
	})
	<-creating
	r.attempts += o.Attempts
	r.limited += o.RateLimited
	o.Attempts, o.RateLimited = r.attempts, r.limited
	if o.Err == nil && o.Answer != nil && running(o.Answer.Result.Status) {
		id, _ := head(o.Answer.Body)
		if id == "" {
			o.Err = &httpapi.Error{Class: httpapi.RowFailed, StatusCode: o.Answer.StatusCode, RequestID: o.Answer.RequestID,
				Code: httpapi.CodeNotResponse, Message: "a background response without an id: it cannot be polled"}
			e.finish(x, r, x.Record(req, o))
			return false
		}
		d, _ := json.Marshal(markData{Index: req.Index(), RequestSHA256: sha(req.Body())})
		if err := x.Mark(&results.Mark{Kind: MarkKind, Key: req.Key(), ID: id, Data: d}); err != nil {
			// Running server-side but not journalled: the job is stopping.
			x.Logger().Warn("background: a response was created but its id could not be journalled; the next run creates it again",
				"key", req.Key(), "response", id, "err", err)
			e.left.Add(1)
			r.settle(nil)
			return false
		}
		e.created.Add(1)
		r.made++
		r.id, r.start = id, time.Now()
		return true
	}
	var he *httpapi.Error
	if errors.As(o.Err, &he) && rejectsBackground(he) && e.created.Load() == 0 && e.resumed.Load() == 0 {
		x.Stop(&pipeline.UsageError{Err: fmt.Errorf("the endpoint refused a background response (%v): it does not run background responses; run in the default mode (online: each request is sent and its answer awaited)", he)})
		r.settle(nil)
		return false
	}
	if o.Err == nil && o.Answer != nil {
		e.sync.Add(1)
		e.syncWarn.Do(func() {
			x.Logger().Warn("background: the endpoint answered a background create with a finished response: it does not run background responses; each answer is taken as its row's result, but a crash loses the answers in flight (the default, online mode does the same with less overhead)")
		})
	}
	e.finish(x, r, x.Record(req, o))
	return false
}

// finish journals r's record (none: the row stays pending) and ends its
// reservation.
func (e *Executor) finish(x *pipeline.Exec, r *row, rec *results.Record) {
	r.settle(rec)
	if rec != nil {
		x.Emit(r.req, rec)
	}
}

// poll polls r's response until it ends, journals its final state, and
// settles r; a response gone or failed transiently is created again.
func (e *Executor) poll(x *pipeline.Exec, doer Doer, r *row, creating chan struct{}) {
	req := r.req
	dec := decoder{req.API()}
	wait := e.cfg.PollInitial
	for {
		t := time.NewTimer(jitter(wait))
		select {
		case <-t.C:
		case <-x.Stopping().Done():
			t.Stop()
			e.left.Add(1)
			r.settle(nil)
			return
		}
		ctx, cancel := context.WithTimeout(x.Draining(), x.Timeout())
		ans, err := doer.Do(ctx, http.MethodGet, "/responses/"+url.PathEscape(r.id), nil, dec)
		cancel()
		e.polls.Add(1)
		var he *httpapi.Error
		if err != nil && !errors.As(err, &he) {
			he = &httpapi.Error{Class: httpapi.Retryable, Code: httpapi.CodeConnection, Message: err.Error(), Err: err}
		}
		// A 200 whose body is the response object: its status says.
		status := ""
		if ans != nil && ans.StatusCode/100 == 2 && (he == nil || he.Code != httpapi.CodeMalformed) {
			status = ans.Result.Status
		}
		switch {
		case he == nil && running(status):
			r.seen, r.missing = true, 0
			wait = min(wait+wait/2, e.cfg.PollMax)
			continue
		case he == nil, status != "" && he.Class != httpapi.Retryable:
			// A final state: completed, or incomplete, cancelled, failed
			// for good.
			ans.Latency = time.Since(r.start)
			e.finished.Add(1)
			e.finish(x, r, x.Record(req, pipeline.Outcome{Answer: ans, Err: asErr(he), Attempts: r.attempts, RateLimited: r.limited}))
			return
		case he.StatusCode == http.StatusNotFound && r.missing+1 < notFoundPolls:
			r.missing++
			wait = min(wait+wait/2, e.cfg.PollMax)
			continue
		case he.StatusCode == http.StatusNotFound && r.made > 0 && !r.seen:
			// Created by this run, never found: the endpoint does not
			// serve responses back (a gateway that routes only the create).
			x.Stop(&pipeline.UsageError{Err: fmt.Errorf("the endpoint created background responses but answers GET /responses/{id} with %v: it does not serve them back, so they cannot be collected; run in the default mode (online: each request is sent and its answer awaited); the responses created are journalled and may run (billed): llmbatch cancel %s cancels them",
				he, or(e.cfg.Journal, "JOURNAL"))})
			e.left.Add(1)
			r.settle(nil)
			return
		case status == "failed" || he.StatusCode == http.StatusNotFound:
			// Failed transiently, or gone: back to pending.
			why := "failed transiently"
			if he.StatusCode == http.StatusNotFound {
				why = "is gone (404: no longer stored)"
			}
			if x.Stopping().Err() != nil {
				r.settle(nil)
				return
			}
			if r.made >= e.cfg.MaxAttempts {
				ans = orAnswer(ans)
				ans.Latency = time.Since(r.start)
				he.Class = httpapi.Retryable
				e.finished.Add(1)
				e.finish(x, r, x.Record(req, pipeline.Outcome{Answer: ans, Err: he, Attempts: r.attempts, RateLimited: r.limited}))
				return
			}
			x.Logger().Info("background: response "+why+"; creating it again", "key", req.Key(), "response", r.id, "err", he)
			e.recreated.Add(1)
			r.seen, r.missing = false, 0
			if !e.create(x, r, creating) {
				return
			}
			wait = e.cfg.PollInitial
		case he.Class == httpapi.Fatal:
			x.Stop(&pipeline.StopError{Reason: "the endpoint gave a fatal answer to a poll; fix it, then re-run the same command to collect the running responses", Err: he})
			e.left.Add(1)
			r.settle(nil)
			return
		case he.Class == httpapi.Retryable:
			if he.StatusCode == http.StatusTooManyRequests {
				r.limited++
			}
			wait = min(wait+wait/2, e.cfg.PollMax)
			wait = max(wait, he.RetryAfter)
		default:
			// A 4xx other than 404 to a GET: the response cannot be read.
			ans = orAnswer(ans)
			ans.Latency = time.Since(r.start)
			e.finished.Add(1)
			e.finish(x, r, x.Record(req, pipeline.Outcome{Answer: ans, Err: he, Attempts: r.attempts, RateLimited: r.limited}))
			return
		}
	}
}

func asErr(he *httpapi.Error) error {
	if he == nil {
		return nil
	}
	return he
}

func orAnswer(a *httpapi.Answer) *httpapi.Answer {
	if a == nil {
		return &httpapi.Answer{}
	}
	return a
}

// jitter is d give or take a tenth.
func jitter(d time.Duration) time.Duration {
	return d + time.Duration((rand.Float64()-0.5)*0.2*float64(d))
}

// running reports whether a response status is not final.
func running(status string) bool { return status == "queued" || status == "in_progress" }

// rejectsBackground reports whether a create's error says the endpoint
// does not take background responses: a 400 (or 404, 422, 501) that
// names background or store, as OpenAI-compatible servers without
// response storage answer.
func rejectsBackground(e *httpapi.Error) bool {
	switch e.StatusCode {
	case 400, 404, 422, 501:
	default:
		return false
	}
	t := strings.ToLower(e.Code + " " + e.Type + " " + e.Message)
	return strings.Contains(t, "background") || strings.Contains(t, "store")
}

// decoder reads the answers of this mode: a running response (queued,
// in_progress) is not a failure; a cancelled one is the row's failure
// "cancelled"; anything else is read by the API.
type decoder struct{ api httpapi.Decoder }

// CodeCancelled is the error code of a row whose response was cancelled.
const CodeCancelled = "cancelled"

func (d decoder) Decode(body []byte) (api.Result, error) {
	_, status := head(body)
	switch status {
	case "queued", "in_progress":
		r := api.Partial(body)
		r.Status = status
		return r, nil
	case "cancelled":
		r, _ := d.api.Decode(body)
		r.Status = status
		r.Failure = &api.Failure{Code: CodeCancelled, Message: "the background response was cancelled"}
		return r, nil
	}
	return d.api.Decode(body)
}

// head reads a response object's id and status.
func head(body []byte) (id, status string) {
	var h struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	json.Unmarshal(body, &h)
	return h.ID, h.Status
}

// sha is the hex SHA-256 of a request body (its record's request_sha256).
func sha(body []byte) string {
	s := sha256.Sum256(body)
	return hex.EncodeToString(s[:])
}

// backgroundBody is body with "background": true and "store": true.
func backgroundBody(body []byte) ([]byte, error) {
	b := bytes.TrimSpace(body)
	if len(b) < 2 || b[0] != '{' {
		return nil, errors.New("the request body is not a JSON object")
	}
	if !bytes.Contains(b, []byte(`"background"`)) && !bytes.Contains(b, []byte(`"store"`)) {
		rest := bytes.TrimSpace(b[1:])
		out := make([]byte, 0, len(b)+32)
		out = append(out, `{"background":true,"store":true`...)
		if rest[0] != '}' {
			out = append(out, ',')
		}
		return append(out, rest...), nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("the request body: %w", err)
	}
	if s, ok := m["store"]; ok && string(bytes.TrimSpace(s)) != "true" {
		return nil, fmt.Errorf(`the body sets "store": %s, but background responses must be stored: remove it`, s)
	}
	m["background"], m["store"] = json.RawMessage("true"), json.RawMessage("true")
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func or(s, def string) string {
	if s != "" {
		return s
	}
	return def
}
