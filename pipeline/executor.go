package pipeline

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/llmbatch/llmbatch/io/api"
	"github.com/llmbatch/llmbatch/io/httpapi"
	"github.com/llmbatch/llmbatch/io/prices"
	"github.com/llmbatch/llmbatch/io/results"
)

// An Executor turns planned requests into journal records. The plan (rows
// read, requests built, finished rows skipped, duplicate keys refused,
// rows packed) and the sink (the journal writer, the totals, the summary,
// progress) are Run's, the same whatever the executor; only how requests
// reach the endpoint differs. The worker pool (Config.Executor nil) is the
// default; a run mode, such as background responses or the Batch API, is
// an Executor in a package of its own, built from Exec's parts.
type Executor interface {
	// Execute takes requests from x.Plan() until it is closed and, for
	// each, journals its outcome (x.Deliver, or x.Record and x.Emit) or
	// leaves its row pending, to be sent again on resume. It returns once
	// every request it took is handled; an error stops the job and is
	// Run's error.
	Execute(x *Exec) error
}

// A Resumer is an Executor that picks up what an earlier run left in the
// journal. Run calls Resume, before Execute, with each of the journal's
// lines in order: rec for a row's record (reused after the call: copy what
// you keep), m for a mark (the other is nil).
type Resumer interface {
	Resume(rec *results.Record, m *results.Mark)
}

// A Call makes one attempt of req: it sends what it must and returns the
// endpoint's answer, as an Endpoint's Send does (an *httpapi.Error
// classifies a failed attempt). ctx ends after Config.Timeout, or when
// the job is drained.
type Call func(ctx context.Context, req *Request) (*httpapi.Answer, error)

// Outcome is what the attempts of one request came to.
type Outcome struct {
	Answer *httpapi.Answer // the last attempt's answer; nil when none arrived
	// Err is nil, an *httpapi.Error (the last attempt's failure), or why
	// no attempt finished (the job stopped): the row then stays pending.
	Err         error
	Attempts    int
	RateLimited int // attempts answered 429

	viaAPI bool // Answer came from the API's own request (its body was parsed whole)
}

// Exec is what an Executor works with: the plan, the shared way of sending
// a request (the cost cap, pacing, retries), and the journal. Its methods
// are safe for concurrent use.
type Exec struct {
	r       *runner
	stopCtx context.Context
	reqCtx  context.Context
	plan    <-chan *Request
	out     chan<- *results.Record
	marks   chan<- markWrite
}

// Plan returns the planned requests; it is closed when the input ends or
// the job stops.
func (x *Exec) Plan() <-chan *Request { return x.plan }

// Stopping ends when the job stops (an interrupt, a fatal answer, the
// cost cap): take no more requests, send nothing new.
func (x *Exec) Stopping() context.Context { return x.stopCtx }

// Draining ends Config.DrainTimeout after Stopping: work still in flight
// must end then.
func (x *Exec) Draining() context.Context { return x.reqCtx }

// Concurrency is Config.Concurrency, with its default.
func (x *Exec) Concurrency() int { return x.r.cfg.Concurrency }

// Timeout is Config.Timeout, with its default: how long one attempt may
// take.
func (x *Exec) Timeout() time.Duration { return x.r.cfg.Timeout }

// Logger is the job's logger.
func (x *Exec) Logger() *slog.Logger { return x.r.cfg.Logger }

// Endpoint is what requests are sent through: Config.Endpoint, or the
// *httpapi.Client Run built (whose Do reads and acts on objects by id).
func (x *Exec) Endpoint() Endpoint { return x.r.endpoint }

// Stop stops the job with err (Run's error); rows not journalled stay
// pending.
func (x *Exec) Stop(err error) { x.r.stop(err) }

// Deliver sends req as the default executor does and journals its rows'
// records: Reserve, Try with the API's own request, Record, settle, Emit.
// A packed request's answer is split into its rows' records; a pack that
// fails for good with a 4xx is sent again row by row, so that only the
// bad rows fail.
func (x *Exec) Deliver(req *Request) { x.r.deliver(x.stopCtx, x.reqCtx, req, x.out) }

// Reserve holds req's estimated cost under Config.MaxCost, waiting while
// it does not fit beside the requests in flight; an error means it never
// will (the job is stopped, or the cap is reached: Stop it with the
// error). settle must be called once with req's record (nil if none was
// made): the estimate then becomes the record's true cost.
func (x *Exec) Reserve(req *Request) (settle func(rec *results.Record), err error) {
	return x.r.reserve(x.stopCtx, req)
}

// Try makes up to Config.MaxAttempts attempts of req with call (nil: POST
// req's body to its API's path, decoded by the API), each paced (RPM,
// TPM, the limits the endpoint announces) and retried on transient
// failures with backoff, as every request is. A fatal answer stops the job.
func (x *Exec) Try(req *Request, call Call) Outcome {
	return x.r.try(x.stopCtx, x.reqCtx, req, call)
}

// Record makes req's journal record from its outcome, as for an answer to
// the default request, or returns nil when the row must stay pending (the
// job stopped before an answer, or the answer was fatal).
func (x *Exec) Record(req *Request, o Outcome) *results.Record {
	return x.r.record(x.stopCtx, req, o)
}

// Reask reports whether rec, req's record just emitted, is to be sent
// again now (--reask: its answer broke the request's JSON schema, or was
// a refusal, and the row has re-asks left), and counts the re-ask: the
// executor then sends req again (Deliver does so itself). A mode that
// does not re-ask within its run leaves such rows retryable in the
// journal, and the resume re-asks them.
func (x *Exec) Reask(req *Request, rec *results.Record) bool {
	return x.r.reaskNow(x.stopCtx, req, rec)
}

// Emit hands a record to the journal writer (through the guards that stop
// a misconfigured job at its first answers). It does not wait for the
// write: a crash may lose it, and the resume sends its row again.
func (x *Exec) Emit(req *Request, rec *results.Record) { x.r.emit(req, rec, x.out) }

// Mark journals m and returns once it is written and fsynced: what it
// records survives any crash after Mark returns. An error means it was
// not journalled (the journal cannot be written; the job is stopping).
func (x *Exec) Mark(m *results.Mark) error {
	if m.Time.IsZero() {
		m.Time = time.Now().UTC()
	}
	done := make(chan error, 1)
	select {
	case x.marks <- markWrite{m, done}:
	case <-x.reqCtx.Done():
		return errors.New("mark not journalled: the job was drained")
	}
	return <-done
}

// markWrite asks the journal writer to write a mark durably.
type markWrite struct {
	m    *results.Mark
	done chan<- error
}

// Key is the row's key (its custom_id in the journal); a packed request's
// is its first row's.
func (r *Request) Key() string { return r.key }

// Index is the row's 0-based position in the input.
func (r *Request) Index() int64 { return r.index }

// Body is the request body, exactly as sent. It must not be changed.
func (r *Request) Body() []byte { return r.body }

// Model is the model the body names.
func (r *Request) Model() string { return r.model }

// API is the endpoint's API the body is for.
func (r *Request) API() api.API {
	if r.api == nil {
		return apis[0]
	}
	return r.api
}

// Rows is how many rows the request carries: 1, or more for a request
// that packs rows (embeddings).
func (r *Request) Rows() int {
	if r.pack == nil {
		return 1
	}
	return len(r.pack.rows)
}

// pool is the default executor: Concurrency workers, each delivering one
// request at a time. The workers live as long as the job, not a goroutine
// per row.
type pool struct{}

func (pool) Execute(x *Exec) error {
	var workers errgroup.Group
	for range x.Concurrency() {
		workers.Go(func() error {
			for req := range x.Plan() {
				x.Deliver(req)
			}
			return nil
		})
	}
	return workers.Wait()
}

// ReserveAll holds, in one step, the estimated cost of reqs under
// Config.MaxCost at tier's prices ("batch": the Batch API's), for requests
// that go out together and stay in flight until their batch ends. There
// is no probe or slow start: a request's output is estimated at its
// max_output_tokens, else at the 95th percentile of the answers so far,
// else at DefaultOutputReserve. It waits while reqs do not fit beside the
// requests in flight; with none in flight it holds only the longest prefix
// that fits: n is how many of reqs (the first n) were held. An error
// means none was (a *StopError: the cap is reached; stop the job with
// it). settle must be called once for each of the n requests with its
// record (nil if none was made).
func (x *Exec) ReserveAll(reqs []*Request, tier string) (n int, settle func(req *Request, rec *results.Record), err error) {
	held, err := x.r.ledger.reserveAll(x.stopCtx, reqs, tier)
	if err != nil {
		return 0, nil, err
	}
	x.r.inFlight.Add(int64(len(held)))
	amounts := make(map[*Request]prices.Money, len(held))
	for i, h := range held {
		amounts[reqs[i]] = h
	}
	var mu sync.Mutex
	return len(held), func(req *Request, rec *results.Record) {
		mu.Lock()
		h, ok := amounts[req]
		delete(amounts, req)
		mu.Unlock()
		if !ok {
			return
		}
		x.r.inFlight.Add(-1)
		x.r.ledger.settle(h, rec, req.model)
	}, nil
}
