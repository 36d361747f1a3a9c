package main

import (
	"flag"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/llmbatch/llmbatch/io/sim"
	"github.com/llmbatch/llmbatch/pipeline"
	"github.com/llmbatch/llmbatch/pipeline/batchapi"
)

// batchOptions are the flags of --mode batch.
type batchOptions struct {
	MaxLines     int
	MaxBytes     int64
	PollInterval time.Duration
	Detach       bool
	Resubmit     bool
}

func (b *batchOptions) register(fs *flag.FlagSet) {
	fs.BoolVar(&b.Detach, "detach", false, "with --mode batch, exit 0 once every row is in a batch; the next run (same command) collects")
	fs.BoolVar(&b.Resubmit, "resubmit", true, "with --mode batch, put the rows that expired, were cancelled or failed transiently into new batches in the same run")
	fs.IntVar(&b.MaxLines, "batch-max-lines", batchapi.DefaultMaxLines, "with --mode batch, rows per batch input file at most")
	fs.Int64Var(&b.MaxBytes, "batch-max-bytes", batchapi.DefaultMaxBytes, "with --mode batch, bytes per batch input file at most")
}

func (b *batchOptions) validate() error {
	switch {
	case b.MaxLines < 1:
		return usagef("run: --batch-max-lines must be at least 1")
	case b.MaxBytes < 1:
		return usagef("run: --batch-max-bytes must be at least 1")
	}
	return nil
}

// batchMode sets cfg up for --mode batch: the Batch API executor, one row
// a request, and its progress: a log line for each batch whose state or
// counts changed.
func (b *batchOptions) apply(cfg *pipeline.Config, o *runOptions, logger *slog.Logger) (*batchapi.Executor, error) {
	if err := b.validate(); err != nil {
		return nil, err
	}
	if b.Detach && o.Sim {
		return nil, usagef("run: --detach with --sim: the simulated endpoint, and its batches, end with this run")
	}
	cfg.PackSize = 1
	var mu sync.Mutex
	last := map[string]batchapi.Batch{}
	e := batchapi.New(batchapi.Config{MaxLines: b.MaxLines, MaxBytes: b.MaxBytes, PollInterval: b.PollInterval,
		Detach: b.Detach, Resubmit: b.Resubmit,
		Progress: func(bt batchapi.Batch) {
			mu.Lock()
			prev, ok := last[bt.ID]
			last[bt.ID] = bt
			mu.Unlock()
			if ok && prev.Status == bt.Status && prev.RequestCounts == bt.RequestCounts {
				return
			}
			if !o.Quiet {
				logger.Info("batch", "id", bt.ID, "status", bt.Status, "total", bt.RequestCounts.Total,
					"completed", bt.RequestCounts.Completed, "failed", bt.RequestCounts.Failed)
			}
		}})
	cfg.Executor = e
	return e, nil
}

// batchSim makes the simulated endpoint of "run --sim --mode batch" run
// its batches in a couple of seconds.
func batchSim(c *sim.Config) {
	c.BatchDelay = 2 * time.Second
}

// batchInterruptNotice says what an interrupt does to a batch job.
func batchInterruptNotice(env environ) {
	const msg = "interrupted: no new batches; batches already created keep running server-side and are billed: run the same command again to collect them, `llmbatch status JOURNAL` to see them, `llmbatch cancel JOURNAL` to cancel them"
	if env.log != nil {
		env.log.Warn(msg)
		return
	}
	fmt.Fprintln(env.stderr, "llmbatch: "+msg)
}

// batchDone is the closing line of a batch job: what this run did with
// batches, and what to do about those left running.
func batchDone(env environ, o *runOptions, e *batchapi.Executor) {
	c := e.Counts()
	if !o.Quiet {
		fmt.Fprintf(env.stderr, "batches this run: %d files uploaded, %d batches created, %d collected", c.Uploaded, c.Created, c.Collected)
		if c.Failed > 0 {
			fmt.Fprintf(env.stderr, ", %d failed validation", c.Failed)
		}
		fmt.Fprintln(env.stderr)
	}
	if c.Running > 0 {
		fmt.Fprintf(env.stderr, "%d batch(es) still running server-side (billed when they finish): run the same command again to collect them; llmbatch status %s shows them; llmbatch cancel %s cancels them\n",
			c.Running, o.Output, o.Output)
	}
}
