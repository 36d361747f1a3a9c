package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/llmbatch/llmbatch/io/api"
	"github.com/llmbatch/llmbatch/io/httpapi"
	"github.com/llmbatch/llmbatch/io/prices"
	"github.com/llmbatch/llmbatch/io/results"
	"github.com/llmbatch/llmbatch/io/rows"
	"github.com/llmbatch/llmbatch/io/secret"
	"github.com/llmbatch/llmbatch/retry"
)

// Progress is a snapshot of a running job. Row counts cover the whole
// journal, earlier runs included.
type Progress struct {
	Total       int64 // rows in the input; -1 while unknown
	Done        int64 // rows finished (ok or failed for good)
	OK, Failed  int64
	Retryable   int64 // rows that ran out of attempts (sent again on resume)
	Skipped     int64 // rows finished earlier, skipped by this run
	Finished    int64 // rows this run journalled (ok, failed or out of attempts; bad input rows included)
	InFlight    int64
	Requests    int64 // attempts sent by this run
	Retries     int64
	RateLimited int64 // 429 answers in this run
	Usage       api.Usage
	Cost        prices.Cost // of Usage, whole journal; unknown if a model has no price
	RunCost     prices.Cost // of the usage of the rows this run journalled
	Elapsed     time.Duration
	Final       bool
	// PaceRPM and PaceTPM are the limits the pacer paces to (0: none);
	// PaceWindow the attempts it lets be in flight.
	PaceRPM, PaceTPM int64
	PaceWindow       int
}

// Run runs the job cfg describes, resuming from cfg.Output if it exists,
// and returns the job's summary (also written beside the journal). The
// error is nil when every row was sent and journalled, whatever the rows'
// outcomes (see Summary.Rows); a *UsageError, *StopError, or
// ErrInterrupted otherwise. A non-nil summary is returned whenever the
// journal was opened.
func Run(ctx context.Context, cfg Config) (*results.Summary, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg = cfg.forShard()
	if rows.IsURL(cfg.Output) {
		return runRemoteJournal(ctx, cfg)
	}
	return runLocal(ctx, cfg)
}

// runLocal is Run for a checked config whose journal is a local file.
func runLocal(ctx context.Context, cfg Config) (*results.Summary, error) {
	b, err := newBuilder(&cfg)
	if err != nil {
		return nil, err
	}
	stream, err := isStream(cfg.Input)
	if err != nil {
		return nil, err
	}
	job, err := fingerprint(&cfg, stream)
	if err != nil {
		return nil, err
	}
	if err := checkPaths(&cfg); err != nil {
		return nil, err
	}
	var reuse *reuseIndex
	if len(cfg.Reuse) > 0 {
		paths, err := expandReuse(&cfg)
		if err != nil {
			return nil, err
		}
		if reuse, err = newReuseIndex(&cfg, paths); err != nil {
			return nil, err
		}
		defer reuse.close()
	}
	ropts := cfg.rowsOptions(b)
	if stream {
		if f, _ := rows.FormatOf(cfg.Input, ropts); f == rows.FormatParquet {
			return nil, usageErrorf("%s: parquet input must be a regular file (it is read from its end), not a pipe or stdin", cfg.Input)
		}
	}
	reader, closer, err := rows.Open(cfg.Input, ropts)
	if err != nil {
		return nil, &UsageError{Err: err}
	}
	defer closer.Close()

	totals := results.NewTotals()
	spend, err := newLedger(&cfg, totals)
	if err != nil {
		return nil, err
	}
	// Request tags, to tell a row whose request changed, are kept for the
	// records written under our job's fingerprint: rows kept by a --force
	// run were journalled by another job, with other requests.
	exec := cfg.Executor
	if exec == nil {
		exec = pool{}
	}
	resumer, _ := exec.(Resumer)
	digestCtx, stopDigest := context.WithCancel(ctx)
	digest := digestInput(digestCtx, &cfg, stream)
	defer func() { stopDigest(); digest() }() // the hash ends before Run returns
	var onMark func(*results.Mark)
	if resumer != nil {
		onMark = func(m *results.Mark) { resumer.Resume(nil, m) }
	}
	reasks := &reaskPlan{keep: cfg.Reask > 0}
	journal, info, err := results.Resume(cfg.Output, func(rec *results.Record) {
		if rec.Job != nil {
			totals.KeepRequests(rec.Job.Fingerprint == job.Fingerprint)
		}
		spend.record(rec)
		reasks.note(rec)
		if resumer != nil {
			resumer.Resume(rec, nil)
		}
	}, onMark, func(info results.ScanInfo) error {
		if info.Lines > 0 && info.Job != nil && !sameShard(info.Job, job) {
			// Not even with Force: the rows would be another shard's.
			return usageErrorf("%s was written by another shard (%s); each shard keeps its own journal", cfg.Output, compareJobs(info.Job, job))
		}
		if info.Lines > 0 && !cfg.Force && info.Job != nil {
			if d := compareJobs(info.Job, job); d != "" && !lastRunWas(cfg.Output, job) {
				return usageErrorf("%s was written by a different job (%s); use another %s, or %s to resume with the new settings", cfg.Output, d, cfg.name("Output"), cfg.name("Force"))
			}
		}
		return nil
	})
	totals.KeepRequests(false)
	var uerr *UsageError
	switch {
	case errors.As(err, &uerr):
		return nil, err
	case err != nil:
		return nil, &UsageError{Err: err}
	}
	ok := false
	defer func() {
		if !ok { // an error before the run: the run did not close it
			journal.Close()
		}
	}()
	if info.TempsLeft != nil {
		cfg.Logger.Warn("cannot remove a temp file left by a killed run", "err", info.TempsLeft)
	}
	if info.TornBytes > 0 {
		cfg.Logger.Warn("cut a torn last line from the journal (the previous run died mid-write); that row will be sent again",
			"journal", cfg.Output, "bytes", info.TornBytes)
	}
	journal.SyncInterval = cfg.SyncInterval
	journal.Redact = secret.NewRedactor(cfg.APIKey)
	endpoint := cfg.Endpoint
	// Bodies our client returns were parsed whole by a registered API:
	// the journal may copy them as they are (results.Response.Checked).
	checked := endpoint == nil && (cfg.API == nil || registered(cfg.API))
	if endpoint == nil {
		hc := cfg.HTTPClient
		if hc == nil {
			hc = newHTTPClient(cfg.Concurrency)
			defer hc.CloseIdleConnections() // their goroutines end with Run
		}
		endpoint = cfg.newClient(hc)
	}
	r := &runner{cfg: &cfg, b: b, reader: reader, stream: stream, ropts: ropts, journal: journal, job: job, needJob: info.Job == nil || compareJobs(info.Job, job) != "",
		answerGuard: answerGuard{baseURL: cfg.BaseURL, path: cfg.api().Path(), name: cfg.name},
		endpoint:    endpoint, checked: checked, start: time.Now(), seed: maphash.MakeSeed(), ledger: spend, reasks: reasks, reuse: reuse}
	r.total.Store(-1)
	r.digest = digest
	if totals.Count(results.OK)+totals.Count(results.Failed) > 0 {
		r.certified = certified(cfg.Output, digest)
	}
	r.pace = newPacer(&cfg, &r.gate)
	r.exec = exec
	if r.pk, err = newPacker(&cfg, cfg.api()); err != nil {
		return nil, err
	}
	r.policy = retry.Policy{MaxAttempts: cfg.MaxAttempts, Initial: cfg.RetryInitial, Max: cfg.RetryMax, Gate: &r.gate,
		OnRetry: func(attempt int, wait time.Duration, err error) {
			// Counted when the retry is sent (send), not here: a stop
			// during the wait cancels it.
			cfg.Logger.Debug("retry", "attempt", attempt, "wait", wait, "err", err)
		}}
	if info.Lines > 0 {
		cfg.Logger.Info("resuming", "journal", cfg.Output, "ok", totals.Count(results.OK),
			"failed", totals.Count(results.Failed), "retryable", totals.Count(results.Retryable))
	}
	if !stream && cfg.countTotal(ropts) {
		// The total, for progress, counted beside the run; it ends
		// before Run returns, like every goroutine Run starts.
		countCtx, cancel := context.WithCancel(ctx)
		counted := make(chan struct{})
		defer func() { cancel(); <-counted }()
		go func() {
			defer close(counted)
			if n, err := rows.CountContext(countCtx, cfg.Input, ropts); err == nil {
				r.total.Store(n)
			}
		}()
	}
	ok = true
	return r.run(ctx)
}

// newClient is the endpoint Run sends through when Config.Endpoint is nil.
func (c *Config) newClient(hc *http.Client) *httpapi.Client {
	return &httpapi.Client{BaseURL: c.BaseURL, APIKey: c.APIKey, RawAuth: c.RawAuth,
		Header: c.Header, HTTPClient: hc, UserAgent: "llmbatch"}
}

// lastRunWas reports whether the summary beside the journal names job: a
// --force run that had nothing left to send wrote no record to carry the
// new fingerprint, but its summary did.
func lastRunWas(journal string, job *results.Job) bool {
	s := lastSummary(journal)
	return s != nil && s.Job != nil && s.Job.Fingerprint == job.Fingerprint
}

// lastSummary is the summary the last run left beside journal, or nil
// when there is none that decodes.
func lastSummary(journal string) *results.Summary {
	b, err := os.ReadFile(results.SummaryPath(journal))
	if err != nil {
		return nil
	}
	var s results.Summary
	if json.Unmarshal(b, &s) != nil {
		return nil
	}
	return &s
}

// runner is one run of a job.
type runner struct {
	attempts attemptCtxs // the contexts of attempts, reused
	cfg      *Config
	b        *builder
	reader   rows.Reader
	stream   bool // the input can be read only once (stdin, a FIFO)
	ropts    rows.Options
	journal  *results.Journal
	job      *results.Job
	needJob  bool // the journal names no job, or another (--force): the next record carries ours
	endpoint Endpoint
	checked  bool // the endpoint's answer bodies are known to be valid JSON
	policy   retry.Policy
	gate     retry.Gate
	pace     *pacer
	start    time.Time

	total                                         atomic.Int64
	skipped, requests, retries, limited, inFlight atomic.Int64

	stop context.CancelCauseFunc

	ledger *ledger // the journal's totals, what was spent, the MaxCost reservations

	pk   *packer  // nil unless the API packs rows
	exec Executor // how requests reach the endpoint

	// The first rows of a run: stop a misconfigured job (see guard.go).
	answerGuard answerGuard
	buildGuard  buildGuard

	// Used by the producer only: the input's keys, to find duplicates.
	seed maphash.Seed
	keys keySet
	read int64 // rows read, bad ones included
	// eof: the producer read the input to its end (not cut by Limit or
	// a stop). certified: the summary of the last run says every record
	// was made from this input: finished rows are skipped by key, unbuilt
	// (inputcert.go). digest waits for the input's SHA-256.
	eof, certified bool
	digest         func() string
	dups           int         // duplicate keys seen
	changed        int64       // finished rows whose request changed, skipped under Force
	reasks         *reaskPlan  // rows earlier runs left to re-ask (schema.go)
	reuse          *reuseIndex // earlier journals' answers (Config.Reuse), or nil
}

func (r *runner) run(ctx context.Context) (*results.Summary, error) {
	stopCtx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	r.stop = stop
	// Requests in flight outlive a stop by up to DrainTimeout, so that an
	// answer already paid for is journalled.
	reqCtx, cancelReq := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelReq()
	finished := make(chan struct{})
	go func() {
		select {
		case <-stopCtx.Done():
			t := time.NewTimer(r.cfg.DrainTimeout)
			defer t.Stop()
			select {
			case <-t.C:
				cancelReq()
			case <-finished:
			}
		case <-finished:
		}
	}()

	if r.stream {
		r.reader = newAsyncReader(stopCtx, r.reader)
	}
	if r.cfg.Observer != nil {
		r.cfg.Observer.Start(func() Progress { return r.snapshot(false) })
	}
	progressDone := r.startProgress()
	out := make(chan *results.Record, r.cfg.Concurrency)
	marks := make(chan markWrite)
	writerErr := make(chan error, 1)
	go func() { writerErr <- r.write(out, marks, cancelReq) }()

	// plan -> execute -> sink: the producer plans requests, the executor
	// sends them, the writer journals what comes back.
	// Requests built ahead, one per worker up to maxAhead: a worker back
	// for more finds one waiting instead of parking until the producer
	// is scheduled again (with a hand-over channel, nineteen times in
	// twenty at 64 workers on 2 cores).
	plan := make(chan *Request, min(r.cfg.Concurrency, maxAhead))
	execErr := make(chan error, 1)
	x := &Exec{r: r, stopCtx: stopCtx, reqCtx: reqCtx, plan: plan, out: out, marks: marks}
	go func() {
		err := r.exec.Execute(x)
		if err != nil {
			r.stop(err)
			// The producer may be waiting to hand over a request: take
			// what it still plans, until the stop ends it.
			for range plan {
			}
		}
		execErr <- err
	}()
	readErr := r.produce(stopCtx, plan, out)
	close(plan)
	if r.changed > 0 {
		r.cfg.Logger.Warn(r.cfg.name("Force")+": rows whose request differs from the one journalled for their key were skipped, keeping the journalled results",
			"journal", r.cfg.Output, "rows", r.changed)
	}
	if err := <-execErr; err != nil && readErr == nil {
		readErr = err
	}
	// Rows held back while the guards watched the start of the run, when
	// the run ended before they could judge: journalled as they are.
	for _, rec := range append(r.buildGuard.release(), r.answerGuard.release()...) {
		out <- rec
	}
	close(out)
	werr := <-writerErr
	close(finished)
	cerr := r.journal.Close()
	progressDone()

	sum := r.summary()
	if werr == nil && cerr == nil && readErr == nil && r.eof && r.changed == 0 && stopCtx.Err() == nil && ctx.Err() == nil {
		// Every finished row was checked against (or built from) this
		// input: say so, for the next resume (inputcert.go).
		sum.Input = inputCertOf(r.cfg.Output, r.digest())
	}
	cause := context.Cause(stopCtx)
	var err error
	switch {
	case werr != nil:
		err = &StopError{Reason: "cannot write the journal; rows whose results were not written are sent again on resume", Err: werr}
	case cerr != nil:
		err = &StopError{Reason: "cannot close the journal", Err: cerr}
	case readErr != nil:
		err = readErr
	case cause != nil && !errors.Is(cause, context.Canceled) && !errors.Is(cause, context.DeadlineExceeded):
		err = cause
	case ctx.Err() != nil:
		err = fmt.Errorf("%w: %w", ErrInterrupted, ctx.Err())
	}
	if err != nil {
		sum.Run.Stopped = err.Error()
	}
	if serr := results.WriteSummaryRedacted(results.SummaryPath(r.cfg.Output), sum, r.journal.Redact); serr != nil {
		r.cfg.Logger.Warn("cannot write the summary", "err", serr)
	}
	return sum, err
}

// maxAhead bounds the requests built ahead of the sends: a job of a
// thousand workers, each sending packs of rows, would otherwise hold a
// thousand packs in memory that only its producer's speed needs.
const maxAhead = 64

// produce is the plan: it reads rows until the input ends (or Limit rows
// were read) or the job stops, builds their requests, skips rows the journal has finished,
// journals bad rows (to out), packs rows for an API that packs, and hands
// the requests to the executor (plan holds one request a worker, maxAhead
// at most: rows are read no further ahead of the sends than that; those
// not sent when the job stops stay pending, as a row whose request was
// never built).
func (r *runner) produce(stopCtx context.Context, plan chan<- *Request, out chan<- *results.Record) error {
	for stopCtx.Err() == nil {
		var (
			row rows.Row
			err error
		)
		if r.cfg.Limit > 0 && r.read >= r.cfg.Limit {
			err = io.EOF // --limit: the input ends here for this run
		} else {
			row, err = r.reader.Next()
			r.eof = err == io.EOF
		}
		if err != nil && stopCtx.Err() != nil {
			return nil // stopped while waiting for a row
		}
		if err == io.EOF {
			if !r.stream && r.total.Load() < 0 && (r.cfg.Limit <= 0 || r.read < r.cfg.Limit) {
				r.total.Store(r.read) // not counted ahead (a remote JSONL or CSV): now it is
			}
			if r.read == 0 && !r.emptyShard() {
				return &UsageError{Err: fmt.Errorf("%s: %w", r.cfg.Input, rows.ErrEmptyInput)}
			}
			if r.pk != nil {
				for _, p := range r.pk.flush() {
					plan <- p
				}
			}
			return nil
		}
		r.read++
		var rowErr *rows.RowError
		if err != nil && !errors.As(err, &rowErr) {
			return &UsageError{Err: fmt.Errorf("read input: %w", err)}
		}
		if err == nil && r.certified && r.read > 1 && r.skipCertified(&row) {
			continue
		}
		var (
			req    *Request
			reason string // why the row could not be built, without its position
		)
		if err == nil {
			req, err = r.b.build(&row)
			var uerr *UsageError
			if errors.As(err, &uerr) {
				r.stop(err)
				return err
			}
			if err != nil {
				reason = err.Error()
				rowErr = &rows.RowError{File: r.cfg.Input, Line: row.Line, Index: row.Index, Err: err}
			}
		}
		// A row keyed by its index cannot repeat a key: only keys read
		// from the row go into the set.
		if err == nil && !req.indexKey && r.keys.add(maphash.String(r.seed, req.key)) {
			rowErr = r.duplicate(&row, req.key)
			req = nil
		}
		if rowErr != nil {
			if r.cfg.Strict {
				err := &UsageError{Err: fmt.Errorf("%w (%s: stopped at the first bad row)", rowErr, r.cfg.name("Strict"))}
				r.stop(err)
				return err
			}
			// A row whose key cannot be read is journalled as "#INDEX", a
			// key no row gets otherwise (index keys have no "#").
			key, kerr := r.b.key(&row)
			if kerr != nil || row.Fields == nil {
				key = "#" + strconv.FormatInt(row.Index, 10)
			}
			if errors.Is(rowErr, ErrDuplicateKey) {
				// The key is the earlier row's: journal this one apart.
				key = fmt.Sprintf("%s#%d", key, row.Index)
			}
			if r.finished(key) {
				r.skipped.Add(1)
				continue
			}
			recs, err := r.buildGuard.observe(&results.Record{CustomID: key, Index: row.Index,
				Error: &results.Error{Code: "bad_input", Message: rowErr.Error()}}, reason, rowErr)
			if err != nil {
				r.stop(err)
				return err
			}
			for _, rec := range recs {
				out <- rec
			}
			continue
		}
		if r.finished(req.key) {
			if err := r.unchanged(req, &row); err != nil {
				r.stop(err)
				return err
			}
			r.skipped.Add(1)
			continue
		}
		held, _ := r.buildGuard.observe(nil, "", nil) // a row that builds: never trips
		for _, rec := range held {
			out <- rec
		}
		// A row that failed for good before (sent again by RetryFailed)
		// says nothing about the job's settings: the guard does not see it.
		req.again = r.status(req.key) == results.Failed
		req.reask, _ = r.reasks.again(req.key)
		if r.reused(req, out) {
			continue
		}
		if r.pk == nil {
			plan <- req
			continue
		}
		for _, p := range r.pk.add(req) {
			plan <- p
		}
	}
	return nil
}

// deliver sends req and passes its records to out. A packed request's
// record is split into its rows'; a pack that fails for good (a 4xx: one
// bad input fails them all) is sent again row by row, so that only the
// bad rows fail.
func (r *runner) deliver(stopCtx, reqCtx context.Context, req *Request, out chan<- *results.Record) {
	rec := r.send(stopCtx, reqCtx, req)
	switch {
	case rec == nil:
	case req.pack == nil:
		r.emit(req, rec, out)
		if r.reaskNow(stopCtx, req, rec) {
			r.deliver(stopCtx, reqCtx, req, out)
		}
	case rec.Error != nil && !rec.Error.Retryable && rec.Error.StatusCode >= 400 && rec.Error.StatusCode < 500:
		for _, row := range req.pack.rows {
			if rec := r.send(stopCtx, reqCtx, row); rec != nil {
				r.emit(row, rec, out)
			}
		}
	default:
		for i, rec := range req.pack.unpack(rec) {
			r.emit(req.pack.rows[i], rec, out)
		}
	}
}

// emit passes a request's record to out through the answer guard, which
// holds the first answers of a run back to stop a misconfigured job
// before it journals them all as failed (guard.go).
func (r *runner) emit(req *Request, rec *results.Record, out chan<- *results.Record) {
	if req.again || r.answerGuard.passes() {
		out <- rec
		return
	}
	recs, err := r.answerGuard.observe(rec)
	if err != nil {
		r.stop(err)
	}
	for _, rec := range recs {
		out <- rec
	}
}

// maxDupLookups is how many duplicate keys get the input read again to
// name the row that had the key first.
const maxDupLookups = 10

// ErrDuplicateKey is the reason of a bad row whose key an earlier row has.
var ErrDuplicateKey = errors.New("duplicate key")

// duplicate describes a row whose key an earlier row has. It reads the
// input again to name that row (only on this error path; not for stdin).
func (r *runner) duplicate(row *rows.Row, key string) *rows.RowError {
	hint := "; " + r.cfg.name("IDColumn") + " chooses the key column"
	if r.cfg.IDColumn != "" {
		hint = ""
	}
	where := "an earlier row"
	// Naming the first row reads the input again: only for the first few
	// duplicates, so that a doubled input stays linear.
	if r.dups++; r.dups <= maxDupLookups {
		if first, line, ok := r.findKey(key, row.Index); ok {
			where = fmt.Sprintf("row %d", first)
			if line > 0 {
				where = fmt.Sprintf("line %d", line)
			}
		}
	}
	return &rows.RowError{File: r.cfg.Input, Line: row.Line, Index: row.Index,
		Err: fmt.Errorf("%w %q: %s has it too (keys must be unique%s)", ErrDuplicateKey, key, where, hint)}
}

// findKey returns the index and line of the first row before index before
// with key.
func (r *runner) findKey(key string, before int64) (index, line int64, ok bool) {
	if r.stream {
		return 0, 0, false
	}
	rd, c, err := rows.Open(r.cfg.Input, r.ropts)
	if err != nil {
		return 0, 0, false
	}
	defer c.Close()
	for {
		row, err := rd.Next()
		if err == io.EOF || row.Index >= before {
			return 0, 0, false
		}
		if err != nil {
			var re *rows.RowError
			if errors.As(err, &re) {
				continue
			}
			return 0, 0, false
		}
		if k, err := r.b.key(&row); err == nil && k == key {
			return row.Index, row.Line, true
		}
	}
}

// skipCertified skips row unbuilt when the journal is certified for this
// input (inputcert.go) and row's key is finished; it reports whether it
// did. The key still goes into the set that refuses duplicates, as for a
// built row; a duplicate is left to the full path, which reports it.
func (r *runner) skipCertified(row *rows.Row) bool {
	key, err := r.b.key(row)
	if err != nil || !r.finished(key) {
		return false
	}
	if !r.b.indexKeyed(row) && r.keys.add(maphash.String(r.seed, key)) {
		return false
	}
	r.skipped.Add(1)
	return true
}

// finished reports whether the journal already holds a final result for key.
func (r *runner) finished(key string) bool {
	st := r.status(key)
	if st == results.Failed && r.cfg.Reask > 0 {
		if n, ok := r.reasks.again(key); ok && n <= r.cfg.Reask {
			return false // re-asked: a higher --reask than it had
		}
	}
	return st == results.OK || (st == results.Failed && !r.cfg.RetryFailed)
}

// unchanged checks that a finished row's request is the one journalled
// for its key: the same job's rows read again. A stream (stdin) has no
// content fingerprint and rows keyed by index, and an edited file may keep
// its head and tail, so a different row under a finished key would be
// skipped unsent. With Force such rows are skipped (the journalled result
// is kept) and counted in a warning.
func (r *runner) unchanged(req *Request, row *rows.Row) error {
	var tag uint32
	r.ledger.read(func(t *results.Totals) { tag = t.RequestTag(req.key) })
	if tag == 0 || tag == results.RequestTag(req.sha) {
		return nil
	}
	if r.cfg.Force {
		r.changed++
		return nil
	}
	where := fmt.Sprintf("row %d", row.Index)
	if row.Line > 0 {
		where = fmt.Sprintf("%s:%d", r.cfg.Input, row.Line)
	}
	hint := ""
	if req.indexKey {
		hint = ", or key the rows by an id (" + r.cfg.name("IDColumn") + ") so that new rows get new keys"
	}
	return usageErrorf("%s (key %q): the request body differs from the one journalled in %s for that key (the input or the settings changed since it was sent); "+
		"use another %s for different rows%s, or %s to keep the journalled results and skip such rows", where, req.key, r.cfg.Output, r.cfg.name("Output"), hint, r.cfg.name("Force"))
}

// status returns key's state in the journal.
func (r *runner) status(key string) (st results.Status) {
	r.ledger.read(func(t *results.Totals) { st = t.Status(key) })
	return st
}

// send makes up to MaxAttempts attempts for req and returns its record, or
// nil when the row must stay pending (the job stopped before an answer, or
// the answer was fatal).
func (r *runner) send(stopCtx, reqCtx context.Context, req *Request) (rec *results.Record) {
	if stopCtx.Err() != nil {
		return nil
	}
	settle, err := r.reserve(stopCtx, req)
	if err != nil {
		if stopCtx.Err() == nil {
			r.stop(err)
		}
		return nil // the row stays pending
	}
	defer func() { settle(rec) }()
	return r.record(stopCtx, req, r.try(stopCtx, reqCtx, req, nil))
}

// reserve holds req's estimate under MaxCost and counts it in flight until
// settle (see Exec.Reserve).
func (r *runner) reserve(stopCtx context.Context, req *Request) (settle func(*results.Record), err error) {
	held, err := r.ledger.reserve(stopCtx, req)
	if err != nil {
		return nil, err
	}
	r.inFlight.Add(1)
	return func(rec *results.Record) {
		r.inFlight.Add(-1)
		r.ledger.settle(held, rec, req.model)
	}, nil
}

// try makes up to MaxAttempts attempts of req with call (nil: the API's
// own request), paced and retried (see Exec.Try).
func (r *runner) try(stopCtx, reqCtx context.Context, req *Request, call Call) Outcome {
	var o Outcome
	var est estimate
	o.Attempts, o.Err = r.policy.Do(stopCtx, func(attempt int) error {
		t, err := r.pace.begin(stopCtx, req, &est)
		if err != nil {
			return err // stopped while waiting for the pacer
		}
		ac := r.attempts.start(reqCtx, r.cfg.Timeout)
		defer r.attempts.end(ac)
		actx := ac.ctx
		r.requests.Add(1)
		if attempt > 1 {
			r.retries.Add(1)
		}
		var a *httpapi.Answer
		var sent time.Time
		if r.cfg.Observer != nil {
			sent = time.Now()
		}
		if call == nil {
			a, err = r.endpoint.Send(actx, req.api.Path(), req.body, req.decoder())
		} else {
			a, err = call(actx, req)
		}
		r.pace.end(t, a, err)
		o.Answer, o.viaAPI = a, call == nil
		e := httpapi.AsError(err)
		if r.cfg.Observer != nil {
			r.observe(attempt, sent, a, err)
		}
		if a != nil || (e != nil && e.StatusCode > 0) {
			r.answerGuard.noteAnswer()
		}
		if e != nil {
			if e.StatusCode == 429 {
				r.limited.Add(1)
				o.RateLimited++
			}
			if e.RateLimited && e.RetryAfter == 0 && a != nil {
				e.RetryAfter = r.pace.pauseFor(a.RateLimit, t)
			}
			if e.Class == httpapi.Fatal {
				r.stop(&StopError{Reason: fatalReason(e), Err: e})
			}
		}
		return err
	})
	return o
}

// record makes req's record from its outcome, or returns nil when the row
// must stay pending (see Exec.Record).
func (r *runner) record(stopCtx context.Context, req *Request, o Outcome) *results.Record {
	e := httpapi.AsError(o.Err)
	if o.Err != nil && e == nil {
		return nil // stopped while waiting: the row stays pending
	}
	if e != nil && (e.Class == httpapi.Fatal || (e.Code == httpapi.CodeCanceled && stopCtx.Err() != nil)) {
		return nil // stays pending: the resume sends it
	}
	ans := o.Answer
	rec := &results.Record{CustomID: req.key, Index: req.index, Attempts: o.Attempts, RequestSHA256: req.sha, Model: req.model,
		RateLimited: o.RateLimited, Time: time.Now().UTC(), Input: req.keep}
	if ans != nil {
		rec.Response = &results.Response{StatusCode: ans.StatusCode, RequestID: ans.RequestID, Body: ans.Body, Checked: r.checked && o.viaAPI}
		rec.LatencyMS = ans.Latency.Milliseconds()
		rec.Usage = ans.Result.Usage
		rec.OutputText = ans.Result.OutputText
		if ans.Result.Model != "" {
			rec.Model = ans.Result.Model
		}
	}
	if e != nil {
		rec.Error = &results.Error{Code: e.Code, Message: e.Message, StatusCode: e.StatusCode, Retryable: e.Class == httpapi.Retryable}
		if e.Type != e.Code {
			rec.Error.Type = e.Type
		}
	}
	r.checkOutput(req, rec, ans != nil && e == nil)
	return rec
}

func fatalReason(e *httpapi.Error) string {
	switch {
	case e.StatusCode == 401:
		return "the endpoint rejected the API key (401); check the key, then re-run the same command to resume"
	case e.StatusCode == 402 || e.Quota:
		return "the account's quota, credit or budget is used up; raise it, then re-run the same command to resume"
	case e.StatusCode == 403:
		return "the endpoint refused access (403); fix the permission, then re-run the same command to resume"
	}
	return "the endpoint gave a fatal answer; re-run the same command to resume"
}

// write is the journal's single writer: it appends every record, fsyncs on
// a timer and rewrites the summary every SummaryInterval. After a write
// error it stops the job and discards what still arrives (those rows stay
// pending).
// maxBatch bounds the records the writer writes with one write.
const maxBatch = 256

func (r *runner) write(out <-chan *results.Record, marks <-chan markWrite, cancelReq context.CancelFunc) error {
	tick := time.NewTicker(min(r.cfg.SummaryInterval, results.DefaultSyncInterval))
	defer tick.Stop()
	lastSummary := time.Now()
	var werr error
	fail := func(err error) {
		werr = err
		r.stop(&StopError{Reason: "cannot write the journal", Err: err})
		cancelReq()
	}
	type entry struct{ made, written *results.Record }
	batch := make([]entry, 0, maxBatch)
	var mgroup []markWrite
	for {
		select {
		case rec, ok := <-out:
			if !ok {
				return werr
			}
			// Take what else is queued, and write it all with one
			// write: whole lines, so a crash can tear the last one at
			// most, as with one write a line.
			batch = append(batch[:0], entry{made: rec})
		more:
			for len(batch) < maxBatch {
				select {
				case rec, ok := <-out:
					if !ok {
						break more // the next receive sees the close
					}
					batch = append(batch, entry{made: rec})
				default:
					break more
				}
			}
			if werr != nil {
				for _, e := range batch {
					r.ledger.dropped(e.made)
				}
				continue
			}
			var err error
			for i := range batch {
				rec := batch[i].made
				if r.needJob {
					rec.Job = r.job
					r.needJob = false
				}
				err = r.journal.Add(rec)
				if errors.Is(err, results.ErrEncode) {
					// One record's values, not the journal: keep what was
					// paid for and record the row as failed.
					rec = &results.Record{CustomID: rec.CustomID, Index: rec.Index, Job: rec.Job, Usage: rec.Usage, Model: rec.Model,
						Attempts: rec.Attempts, LatencyMS: rec.LatencyMS, RequestSHA256: rec.RequestSHA256, RateLimited: rec.RateLimited,
						Time: rec.Time, Error: &results.Error{Code: "encode_error", Message: err.Error()}}
					err = r.journal.Add(rec)
				}
				if err != nil {
					break
				}
				batch[i].written = rec
			}
			if err == nil {
				// Even when the write fails part way, the lines before
				// the failure are in the journal, whole.
				var whole int
				whole, err = r.journal.Flush()
				for _, e := range batch[:whole] {
					r.ledger.journalled(e.made, e.written)
					if r.cfg.OnRecord != nil {
						r.cfg.OnRecord(e.written)
					}
				}
				batch = batch[whole:]
			}
			if err != nil {
				for _, e := range batch {
					r.ledger.dropped(e.made)
				}
				fail(err)
				continue
			}
		case mw := <-marks:
			// A mark is written and synced before its executor goes on
			// (Exec.Mark). Marks that queue meanwhile are written with it
			// and share its sync (group commit): a mode that marks every
			// request waits for one fsync, not for one per mark ahead.
			group := append(mgroup[:0], mw)
		moreMarks:
			for len(group) < maxBatch {
				select {
				case mw := <-marks:
					group = append(group, mw)
				default:
					break moreMarks
				}
			}
			mgroup = group
			if werr != nil {
				for _, mw := range group {
					mw.done <- werr
				}
				continue
			}
			var written []markWrite
			for _, mw := range group {
				if r.needJob {
					mw.m.Job = r.job
					r.needJob = false
				}
				err := r.journal.AddMark(mw.m)
				if errors.Is(err, results.ErrEncode) {
					r.needJob = r.needJob || mw.m.Job != nil
					mw.done <- err
					continue
				}
				if err != nil {
					fail(err)
					mw.done <- err
					continue
				}
				written = append(written, mw)
			}
			var err error
			if len(written) > 0 {
				if _, err = r.journal.Flush(); err == nil {
					err = r.journal.Sync()
				}
				if err != nil {
					fail(err)
				}
			}
			for _, mw := range written {
				mw.done <- err
			}
		case <-tick.C:
			if werr != nil {
				continue
			}
			if err := r.journal.Sync(); err != nil {
				fail(err)
				continue
			}
			if time.Since(lastSummary) >= r.cfg.SummaryInterval {
				lastSummary = time.Now()
				if err := results.WriteSummaryRedacted(results.SummaryPath(r.cfg.Output), r.summary(), r.journal.Redact); err != nil {
					r.cfg.Logger.Warn("cannot write the summary", "err", err)
				}
			}
		}
	}
}

func (r *runner) summary() *results.Summary {
	s := &results.Summary{Job: r.job}
	r.ledger.read(func(t *results.Totals) { s.Fill(t, r.total.Load()) })
	s.FillCost(r.cfg.Prices)
	s.Rows.Skipped = r.skipped.Load()
	s.Run = results.RunCounters{
		Requests:    r.requests.Load(),
		Retries:     r.retries.Load(),
		RateLimited: r.limited.Load(),
		Recorded:    r.journal.Records(),
		WallSeconds: time.Since(r.start).Seconds(),
	}
	return s
}

func (r *runner) snapshot(final bool) Progress {
	var p Progress
	r.ledger.read(func(t *results.Totals) {
		p = Progress{
			OK:        t.Count(results.OK),
			Failed:    t.Count(results.Failed),
			Retryable: t.Count(results.Retryable),
			Usage:     t.TotalUsage(),
			Cost:      results.PriceTiers(r.cfg.Prices, t.Usage, t.Tiers).Total,
		}
	})
	p.Done = p.OK + p.Failed
	p.Total = r.total.Load()
	p.Skipped = r.skipped.Load()
	p.Finished, p.RunCost = r.ledger.thisRun()
	p.InFlight = r.inFlight.Load()
	p.Requests = r.requests.Load()
	p.Retries = r.retries.Load()
	p.RateLimited = r.limited.Load()
	p.Elapsed = time.Since(r.start)
	p.Final = final
	p.PaceRPM, p.PaceTPM, p.PaceWindow = r.pace.limits()
	return p
}

// startProgress starts the progress ticker, if any, and returns a function
// that makes the final report and waits for it.
func (r *runner) startProgress() func() {
	if r.cfg.Progress == nil {
		return func() {}
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(r.cfg.ProgressInterval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				r.cfg.Progress(r.snapshot(false))
			case <-stop:
				r.cfg.Progress(r.snapshot(true))
				return
			}
		}
	}()
	return func() { close(stop); <-done }
}
