package pipeline

import (
	"time"

	"github.com/llmbatch/llmbatch/io/httpapi"
)

// Observer watches a running job, for metrics (pipeline/metrics serves
// them to Prometheus). Its methods are called from the job's goroutines,
// concurrently, and must return quickly.
type Observer interface {
	// Start is called once, before the first request, with a function
	// that returns the job's progress at the moment it is called, from
	// any goroutine, until and after Run returns.
	Start(snapshot func() Progress)
	// Attempt is called after every attempt (request) has its answer or
	// error.
	Attempt(Attempt)
}

// Attempt is one request's outcome, as an Observer sees it.
type Attempt struct {
	// Status is the HTTP status of the answer, or 0 when there was none
	// (a connection error, a timeout, a cancel).
	Status int
	// Latency is from the request's send to its answer or error.
	Latency time.Duration
	// Retry is true for the second and later attempts of a row.
	Retry bool
}

// observe tells the Observer of an attempt sent at sent.
func (r *runner) observe(attempt int, sent time.Time, a *httpapi.Answer, err error) {
	at := Attempt{Latency: time.Since(sent), Retry: attempt > 1}
	if a != nil {
		at.Status = a.StatusCode
	} else if e := httpapi.AsError(err); e != nil {
		at.Status = e.StatusCode
	}
	r.cfg.Observer.Attempt(at)
}

// limits returns the limits the pacer paces to and its window.
func (p *pacer) limits() (rpm, tpm int64, window int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rpm, p.tpm, p.window
}
