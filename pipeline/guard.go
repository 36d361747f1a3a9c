package pipeline

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/llmbatch/llmbatch/io/httpapi"
	"github.com/llmbatch/llmbatch/io/results"
)

// misconfigRows is how many rows in a row must meet the same answer (or
// the same build error) at the start of a run before the job is judged
// misconfigured and stopped, rather than every row failing the same way.
const misconfigRows = 5

// answerGuard stops a job whose first answers are all the same 4xx: a
// base URL that lacks /v1, a gateway's required header, a model that does
// not exist. It holds back the records of the first rows that end with a
// permanent 4xx; when misconfigRows rows in a row have met the same status
// and code before any other outcome, it trips: the job stops (a
// *StopError) and those rows, and later rows meeting the same answer, are
// not journalled, so that a fixed re-run sends them. Any other outcome
// first (a 2xx, another error) disarms it, and the held records are
// journalled as they would have been. It is safe for concurrent use.
//
// A base URL that is well formed but where nothing listens (a wrong port,
// a server not started) is the same mistake without an answer: rows that
// ran out of attempts with every connection refused (or the host not
// found) count like a 4xx as long as nothing has answered this run
// (noteAnswer). Once anything answered, such rows are a transient outage
// and are journalled to retry, as before.
type answerGuard struct {
	mu       sync.Mutex
	state    int // guardWatching, guardDisarmed or guardTripped
	sig      string
	held     []*results.Record
	baseURL  string
	path     string              // the API's path, for the hint
	name     func(string) string // Config.name
	answered atomic.Bool         // an HTTP answer arrived this run
	disarmed atomic.Bool         // state is guardDisarmed: records pass without the lock
}

// noteAnswer records that the endpoint answered an attempt (any status):
// from now on, refused connections are an outage, not a wrong base URL.
func (g *answerGuard) noteAnswer() { g.answered.Store(true) }

const (
	guardWatching = iota
	guardDisarmed
	guardTripped
)

// observe takes a finished row's record and returns the records to
// journal now (none, rec, or rec and those held back), and a non-nil
// error when the guard trips.
func (g *answerGuard) observe(rec *results.Record) ([]*results.Record, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	sig, ok := clientErrorSig(rec)
	if !ok && !g.answered.Load() {
		sig, ok = unreachableSig(rec)
	}
	switch g.state {
	case guardDisarmed:
		return []*results.Record{rec}, nil
	case guardTripped:
		if ok && sig == g.sig {
			return nil, nil // stays pending
		}
		return []*results.Record{rec}, nil
	}
	if !ok || (len(g.held) > 0 && sig != g.sig) {
		g.state = guardDisarmed
		g.disarmed.Store(true)
		out := append(g.held, rec)
		g.held = nil
		return out, nil
	}
	g.sig = sig
	g.held = append(g.held, rec)
	if len(g.held) < misconfigRows {
		return nil, nil
	}
	g.state = guardTripped
	err := g.stopError(rec)
	g.held = nil
	return nil, err
}

// release returns the records still held at the end of the run (fewer
// rows than misconfigRows, all with the same answer): they are journalled.
// passes reports, without taking the lock, that the guard has disarmed:
// every record now goes to the journal as it is (the common case, once a
// job's first answers were good).
func (g *answerGuard) passes() bool { return g.disarmed.Load() }

func (g *answerGuard) release() []*results.Record {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.state == guardTripped {
		return nil
	}
	out := g.held
	g.held = nil
	return out
}

// clientErrorSig returns the status and code of a record that ends with a
// permanent 4xx answer.
func clientErrorSig(rec *results.Record) (string, bool) {
	e := rec.Error
	if e == nil || e.Retryable || e.StatusCode < 400 || e.StatusCode > 499 {
		return "", false
	}
	return fmt.Sprintf("%d %s", e.StatusCode, e.Code), true
}

// unreachableSig returns a signature for a record that ran out of
// attempts without reaching the endpoint: every connection refused, or
// the host not found.
func unreachableSig(rec *results.Record) (string, bool) {
	e := rec.Error
	if e == nil || e.StatusCode != 0 || e.Code != httpapi.CodeConnection {
		return "", false
	}
	msg := strings.ToLower(e.Message)
	switch {
	case strings.Contains(msg, "refused"): // "connect: connection refused"; Windows: "actively refused it"
		return "unreachable refused", true
	case strings.Contains(msg, "no such host"):
		return "unreachable no such host", true
	}
	return "", false
}

func (g *answerGuard) stopError(rec *results.Record) error {
	e := rec.Error
	if e.StatusCode == 0 {
		return &StopError{Reason: fmt.Sprintf("nothing answered at %s: the first %d rows all ran out of attempts (%d each) with %q; those rows were not journalled: "+
			"check the base URL (%s: host and port) and that the server is running, then re-run the same command to resume",
			g.baseURL, misconfigRows, rec.Attempts, e.Message, g.name("BaseURL"))}
	}
	what := fmt.Sprintf("%d", e.StatusCode)
	if e.Code != "" && e.Code != what {
		what += " " + e.Code
	}
	var hint string
	code := strings.ToLower(e.Code + " " + e.Message)
	switch {
	case strings.Contains(code, "model"):
		hint = fmt.Sprintf("check %s (or the body's \"model\") names a model this endpoint serves", g.name("Model"))
	case e.StatusCode == 404:
		hint = fmt.Sprintf("check that the base URL (%s) ends in /v1 and that the endpoint serves POST %s (requests go to BASE%s)", g.baseURL, g.path, g.path)
		if g.path == apis[0].Path() {
			hint += fmt.Sprintf("; a server that offers only chat completions wants %s chat", g.name("API"))
		}
	case e.StatusCode == 400 && strings.Contains(code, "header"):
		hint = fmt.Sprintf("the endpoint wants a header: add it with %s 'Name: value'", g.name("Header"))
	default:
		hint = fmt.Sprintf("check the base URL, %s, %s and the headers (%s) the endpoint requires", g.name("Model"), g.name("Body"), g.name("Header"))
	}
	return &StopError{Reason: fmt.Sprintf("the first %d answered rows all got %s %q, so every row would; those rows were not journalled: %s, then re-run the same command to resume",
		misconfigRows, what, e.Message, hint)}
}

// buildGuard does for the producer what answerGuard does for answers: it
// holds back the bad_input records of the first rows of a run while they
// all fail to build for the same reason (a template that names a column
// no row has), and turns misconfigRows of them into a *UsageError with
// nothing journalled. A row that builds, or fails for another reason,
// disarms it and the held records are journalled. Used by the producer
// goroutine only.
type buildGuard struct {
	disarmed bool
	reason   string
	first    error // the first held row's error, to name in the message
	held     []*results.Record
}

// observe takes the record of a row that could not be built (rec, with
// reason, the build error without the row's position, and rowErr, the
// full one) or, with rec nil, notes a row that built; it returns the
// records to journal now, and a non-nil error when the guard trips.
func (g *buildGuard) observe(rec *results.Record, reason string, rowErr error) ([]*results.Record, error) {
	if g.disarmed {
		if rec == nil {
			return nil, nil
		}
		return []*results.Record{rec}, nil
	}
	if rec == nil || reason == "" || (len(g.held) > 0 && reason != g.reason) {
		g.disarmed = true
		out := g.held
		if rec != nil {
			out = append(out, rec)
		}
		g.held = nil
		return out, nil
	}
	if len(g.held) == 0 {
		g.reason, g.first = reason, rowErr
	}
	g.held = append(g.held, rec)
	if len(g.held) < misconfigRows {
		return nil, nil
	}
	g.held = nil
	return nil, usageErrorf("the first %d rows all fail to build: %s (first: %v); nothing was journalled: fix the template or the input, then re-run",
		misconfigRows, reason, g.first)
}

// release returns the records still held when the input ends.
func (g *buildGuard) release() []*results.Record {
	out := g.held
	g.held = nil
	return out
}
