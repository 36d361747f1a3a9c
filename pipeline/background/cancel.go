package background

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sync"
	"time"

	"encoding/json"

	"github.com/llmbatch/llmbatch/io/httpapi"
	"github.com/llmbatch/llmbatch/io/responses"
	"github.com/llmbatch/llmbatch/io/results"
	"github.com/llmbatch/llmbatch/io/secret"
	"github.com/llmbatch/llmbatch/pipeline"
)

// CancelResult counts what Cancel did with the journal's running
// responses.
type CancelResult struct {
	Running int // responses journalled without a record since: those Cancel asked to cancel
	// Cancelled were cancelled: each row is journalled as failed, code
	// "cancelled" (with the usage billed before the cancel, if the
	// endpoint reports it); --retry-failed sends them again.
	Cancelled int
	// Finished had ended before the cancel: their final state is
	// journalled as their rows' results (they were paid for).
	Finished int
	// Gone are no longer stored (404): their rows stay pending, and the
	// next run creates them again.
	Gone int
	// Left are still running: the endpoint did not cancel them (cancel is
	// best-effort) or could not be reached; their rows stay pending, and
	// the next run collects them.
	Left int
}

// cancelConcurrency is how many cancel calls Cancel makes at once.
const cancelConcurrency = 8

// cancelAttempts bounds the attempts of one cancel call on transient
// errors (429, 5xx, a reset).
const cancelAttempts = 5

// Cancel cancels every background response journalled in the journal at
// path that has no record since (POST /responses/{id}/cancel), and
// journals each outcome as its row's record: cancelled (a failed row,
// code "cancelled"), or the final state of a response that had already
// ended. It takes the journal's lock: it fails while a job runs on it.
// A fatal answer (401, 403, no quota) stops it with a *pipeline.StopError;
// what was journalled until then stays.
func Cancel(ctx context.Context, path string, doer Doer, red *secret.Redactor, logger *slog.Logger) (CancelResult, error) {
	var res CancelResult
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if _, err := os.Stat(path); err != nil {
		return res, &pipeline.UsageError{Err: fmt.Errorf("cancel: %w", err)}
	}
	type entry struct {
		key string
		m   mark
		d   markData
	}
	marks := map[string]entry{}
	j, _, err := results.Resume(path, func(rec *results.Record) { delete(marks, rec.CustomID) }, func(m *results.Mark) {
		if m.Kind == MarkKind && m.Key != "" && m.ID != "" {
			var d markData
			json.Unmarshal(m.Data, &d)
			marks[m.Key] = entry{key: m.Key, m: mark{id: m.ID, t: m.Time, sha: d.RequestSHA256}, d: d}
		}
	}, nil)
	if err != nil {
		if errors.Is(err, results.ErrLocked) {
			return res, &pipeline.UsageError{Err: fmt.Errorf("cancel: %w: stop the job first (or let it end), then cancel", err)}
		}
		return res, &pipeline.UsageError{Err: fmt.Errorf("cancel: %w", err)}
	}
	j.Redact = red
	todo := make([]entry, 0, len(marks))
	for _, e := range marks {
		todo = append(todo, e)
	}
	slices.SortFunc(todo, func(a, b entry) int { return int(a.d.Index - b.d.Index) })
	res.Running = len(todo)

	var (
		mu    sync.Mutex
		fatal error
		wg    sync.WaitGroup
		next  = make(chan entry)
	)
	stopCtx, stop := context.WithCancel(ctx)
	defer stop()
	write := func(rec *results.Record) error {
		mu.Lock()
		defer mu.Unlock()
		return j.Append(rec)
	}
	for range min(cancelConcurrency, len(todo)) {
		wg.Go(func() {
			for e := range next {
				ans, he, outcome := cancelOne(stopCtx, doer, e.m.id)
				mu.Lock()
				switch outcome {
				case outCancelled:
					res.Cancelled++
				case outFinished:
					res.Finished++
				case outGone:
					res.Gone++
					logger.Info("cancel: the response is no longer stored; its row stays pending", "key", e.key, "response", e.m.id)
				case outFatal:
					if fatal == nil {
						fatal = &pipeline.StopError{Reason: "the endpoint gave a fatal answer to a cancel", Err: he}
					}
					res.Left++
					stop()
				default:
					res.Left++
					logger.Warn("cancel: the response may still be running", "key", e.key, "response", e.m.id, "err", he)
				}
				mu.Unlock()
				if outcome != outCancelled && outcome != outFinished {
					continue
				}
				if err := write(cancelRecord(e.key, e.d, e.m, ans, he)); err != nil {
					mu.Lock()
					if fatal == nil {
						fatal = &pipeline.StopError{Reason: "cannot write the journal", Err: err}
					}
					mu.Unlock()
					stop()
				}
			}
		})
	}
	for _, e := range todo {
		if stopCtx.Err() != nil {
			break
		}
		next <- e
	}
	close(next)
	wg.Wait()
	if err := j.Close(); err != nil && fatal == nil {
		fatal = &pipeline.StopError{Reason: "cannot close the journal", Err: err}
	}
	if fatal == nil && ctx.Err() != nil {
		fatal = fmt.Errorf("%w: %w", pipeline.ErrInterrupted, ctx.Err())
	}
	res.Left += res.Running - res.Cancelled - res.Finished - res.Gone - res.Left
	return res, fatal
}

// What one cancel came to.
const (
	outLeft = iota
	outCancelled
	outFinished
	outGone
	outFatal
)

// cancelOne cancels the response id and returns the answer that tells its
// final state (the cancel's, or a GET's when the response had ended).
func cancelOne(ctx context.Context, doer Doer, id string) (*httpapi.Answer, *httpapi.Error, int) {
	dec := decoder{responses.API{}}
	path := "/responses/" + url.PathEscape(id)
	method, p := http.MethodPost, path+"/cancel"
	wait := time.Second
	var he *httpapi.Error
	for attempt := 1; attempt <= cancelAttempts; attempt++ {
		actx, cancel := context.WithTimeout(ctx, time.Minute)
		ans, err := doer.Do(actx, method, p, nil, dec)
		cancel()
		he = nil
		if err != nil && !errors.As(err, &he) {
			he = &httpapi.Error{Class: httpapi.Retryable, Code: httpapi.CodeConnection, Message: err.Error(), Err: err}
		}
		status := ""
		if ans != nil && ans.StatusCode/100 == 2 && (he == nil || he.Code != httpapi.CodeMalformed) {
			status = ans.Result.Status
		}
		switch {
		case status == "cancelled":
			return ans, he, outCancelled
		case running(status):
			// Cancel is best-effort: asked, not done yet. Look again.
			method, p = http.MethodGet, path
		case status != "":
			return ans, he, outFinished
		case he.StatusCode == http.StatusNotFound:
			return ans, he, outGone
		case he.Class == httpapi.Fatal:
			return ans, he, outFatal
		case he.StatusCode == http.StatusBadRequest && method == http.MethodPost:
			// "Cannot cancel a completed response": read its final state.
			method, p = http.MethodGet, path
			continue
		case he.Class != httpapi.Retryable:
			return ans, he, outLeft
		}
		if he != nil {
			wait = max(wait, he.RetryAfter)
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, he, outLeft
		}
		wait *= 2
	}
	return nil, he, outLeft
}

// cancelRecord is the record of a row whose response a cancel found
// ended: as Exec.Record makes one from an answer.
func cancelRecord(key string, d markData, m mark, ans *httpapi.Answer, he *httpapi.Error) *results.Record {
	rec := &results.Record{CustomID: key, Index: d.Index, RequestSHA256: d.RequestSHA256, Time: time.Now().UTC()}
	if !m.t.IsZero() {
		rec.LatencyMS = time.Since(m.t).Milliseconds()
	}
	if ans != nil {
		rec.Response = &results.Response{StatusCode: ans.StatusCode, RequestID: ans.RequestID, Body: ans.Body}
		rec.Usage = ans.Result.Usage
		rec.OutputText = ans.Result.OutputText
		rec.Model = ans.Result.Model
	}
	if he != nil {
		rec.Error = &results.Error{Code: he.Code, Message: he.Message, StatusCode: he.StatusCode, Retryable: he.Class == httpapi.Retryable}
		if he.Type != he.Code {
			rec.Error.Type = he.Type
		}
	}
	return rec
}
