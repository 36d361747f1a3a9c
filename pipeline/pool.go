package pipeline

import (
	"context"

	"golang.org/x/sync/errgroup"

	"github.com/llmbatch/llmbatch/io/results"
)

// An executor turns planned requests into journal records: it takes
// requests from plan until plan is closed and hands each outcome to sink.
// The plan (rows read, requests built, finished rows skipped, duplicate
// keys refused, rows packed) and the sink (the journal writer, the totals,
// the summary) are the same whatever the executor; only how requests reach
// the endpoint differs. The worker pool is the one executor today; the
// Batch API and background responses are the next.
//
// stopCtx ends when the job stops (interrupt, fatal answer, cap): no new
// request may start. reqCtx ends DrainTimeout later: requests in flight
// are cancelled.
type executor interface {
	execute(stopCtx, reqCtx context.Context, plan <-chan *request, sink chan<- *results.Record) error
}

// pool is the default executor: Concurrency workers, each sending one
// request at a time, with retries, pacing and the cost cap (runner.send).
// The workers live as long as the job, not a goroutine per row.
type pool struct{ r *runner }

func (p pool) execute(stopCtx, reqCtx context.Context, plan <-chan *request, sink chan<- *results.Record) error {
	var workers errgroup.Group
	for range p.r.cfg.Concurrency {
		workers.Go(func() error {
			for req := range plan {
				p.r.deliver(stopCtx, reqCtx, req, sink)
			}
			return nil
		})
	}
	return workers.Wait()
}
