package main

import (
	"context"
	"fmt"
	"os"

	"github.com/llmbatch/llmbatch/io/results"
	"github.com/llmbatch/llmbatch/io/secret"
	"github.com/llmbatch/llmbatch/pipeline/background"
	"github.com/llmbatch/llmbatch/pipeline/batchapi"
)

const cancelUsage = `Usage: llmbatch cancel [flags] RESULTS.jsonl

Cancels what a job left running server-side, billed, after an interrupted,
killed or detached run; the journal says what that is:

  --mode background: the background responses the journal holds ids of and
  no result for. Each outcome is journalled: a cancelled response fails its
  row with code "cancelled" (--retry-failed sends it again); one that had
  already ended is journalled as its row's result. A response no longer
  stored leaves its row pending.

  --mode batch: every batch still running (POST /batches/{id}/cancel); the
  state the endpoint answers is journalled. Rows a cancelled batch did not
  run stay pending: the next run sends them again. Lines a batch answered
  before it was cancelled are billed; the next run collects them.

The journal must not be in use by a running job.

Exit status: 0 everything running was cancelled or collected; 1 some may
still be running (re-run cancel); 2 bad usage; 3 a fatal endpoint answer
(bad key); 130 interrupted.

Flags:
`

// cancelCmd is "llmbatch cancel": the running background responses and
// batches of a journal are cancelled.
func cancelCmd(ctx context.Context, args []string, env environ) error {
	var eo endpointOptions
	fs := newFlagSet("cancel", env.stderr, cancelUsage)
	eo.register(fs, env)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) != 1:
		return usagef("cancel: give one journal (usage: llmbatch cancel [flags] RESULTS.jsonl)")
	case eo.AuthScheme != "bearer" && eo.AuthScheme != "raw":
		return usagef("cancel: --auth-scheme must be bearer or raw, not %q", eo.AuthScheme)
	}
	if _, err := os.Stat(pos[0]); err != nil {
		return usagef("cancel: %v", err)
	}
	var batches, responses bool
	if _, err := results.ScanMarks(pos[0], nil, func(m *results.Mark) {
		switch m.Kind {
		case batchapi.KindFile, batchapi.KindBatch, batchapi.KindCreate, batchapi.KindState:
			batches = true
		case background.MarkKind:
			responses = true
		}
	}); err != nil {
		return usagef("cancel: %v", err)
	}
	if !batches && !responses {
		fmt.Fprintf(env.stderr, "cancel: %s holds no background response or batch (it ran in the default mode: nothing runs server-side)\n", pos[0])
		return nil
	}
	if batches {
		if err := cancelBatches(ctx, pos[0], &eo, env); err != nil {
			return err
		}
	}
	if responses {
		return cancelResponses(ctx, pos[0], &eo, env)
	}
	return nil
}

// cancelResponses cancels the journal's background responses still running.
func cancelResponses(ctx context.Context, journal string, eo *endpointOptions, env environ) error {
	c, env, err := eo.client("cancel", env)
	if err != nil {
		return err
	}
	logger := newLogger(env, "text", false)
	res, err := background.Cancel(ctx, journal, c, secret.NewRedactor(c.APIKey), logger)
	if res.Running == 0 && err == nil {
		fmt.Fprintf(env.stderr, "cancel: %s holds no background response still running\n", journal)
		return nil
	}
	fmt.Fprintf(env.stderr, "cancel: %d background responses were running: %d cancelled, %d had ended (their results journalled), %d no longer stored (rows pending), %d may still be running\n",
		res.Running, res.Cancelled, res.Finished, res.Gone, res.Left)
	if err != nil {
		return err
	}
	if res.Left > 0 {
		return fmt.Errorf("cancel: %d responses may still be running: run cancel again", res.Left)
	}
	return nil
}
