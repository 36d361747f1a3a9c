package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/llmbatch/llmbatch/pipeline"
	"github.com/llmbatch/llmbatch/pipeline/batchapi"
)

const estimateUsage = `Usage: llmbatch estimate [run's flags] INPUT

Builds every row's request exactly as "llmbatch run" would, without
sending anything, counts the input tokens offline (o200k_base), and prints
rows, tokens and a low/high cost per model on stdout.

Per row, the high output is the body's max_output_tokens when set, else the
assumption (--assume-output N, or the average of a finished journal with
--from); the low output is the assumption (capped at max_output_tokens),
else 0. Input is priced as uncached, at the standard tier (--mode batch:
at the Batch API's prices).

Flags:
`

func estimate(ctx context.Context, args []string, env environ) error {
	var o runOptions
	var (
		opts     pipeline.EstimateOptions
		jsonOut  bool
		assumeIn int64
	)
	fs := newFlagSet("estimate", env.stderr, estimateUsage)
	o.registerBuild(fs, env)
	fs.Int64Var(&assumeIn, "assume-output", 0, "output tokens assumed per row")
	fs.StringVar(&opts.From, "from", "", "finished journal (RESULTS.jsonl) whose average output tokens per answered row is the assumption")
	fs.BoolVar(&jsonOut, "json", false, "print the estimate as JSON")
	mode := fs.String("mode", modeOnline, "online (standard prices) or batch (the Batch API's prices)")
	var ignoredBatch batchOptions
	ignoredBatch.register(fs) // run's --mode batch flags: they do not change the price
	// Flags of "run" that do not change the requests are accepted and
	// ignored, so that a run's command line can be estimated as it is.
	sim := ignoreRunFlags(fs)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) == 0:
		return usagef("estimate: no INPUT given (usage: llmbatch estimate [flags] INPUT)")
	case len(pos) > 1:
		return usagef("estimate: one INPUT at a time, got %d: %s", len(pos), strings.Join(pos, " "))
	case assumeIn < 0:
		return usagef("estimate: --assume-output must not be negative")
	}
	opts.AssumeOutput = assumeIn
	switch *mode {
	case modeOnline:
	case modeBatch:
		opts.Tier = batchapi.Tier
	default:
		return usagef("estimate: --mode must be online or batch, not %q", *mode)
	}
	cfg := pipeline.Config{Input: pos[0], InputFormat: o.InputFormat, Stdin: env.stdin,
		Model: o.Model, Prompt: o.Prompt, PromptColumn: o.PromptColumn, Instructions: o.Instr, IDColumn: o.IDColumn}
	if *sim && cfg.Model == "" {
		cfg.Model = "gpt-5-mini" // as run --sim does
	}
	if err := o.buildConfig(&cfg, "estimate"); err != nil {
		return err
	}
	est, err := pipeline.Estimate(ctx, cfg, opts)
	if err != nil {
		return err
	}
	if est.BadRows > 0 {
		fmt.Fprintf(env.stderr, "llmbatch: %d bad rows could not be built and are not priced (run reports each one)\n", est.BadRows)
	}
	if len(est.Unknown) > 0 {
		fmt.Fprintf(env.stderr, "llmbatch: warning: no price for %s: its cost is unknown; add it with --prices FILE\n", strings.Join(est.Unknown, ", "))
	}
	if jsonOut {
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(est)
	}
	capField := "max_output_tokens"
	if cfg.API != nil {
		capField = cfg.API.OutputCap()
	}
	switch {
	case capField == "":
		fmt.Fprintf(env.stdout, "output: none (%s answers have no output tokens)\n", cfg.API.Name())
	case est.AssumedFrom == "":
		fmt.Fprintf(env.stdout, "output: %s per row (low 0)\n", capField)
	case est.AssumedFrom == "--assume-output":
		fmt.Fprintf(env.stdout, "output: %d tokens per row assumed (--assume-output), capped at %s\n", est.Assumption, capField)
	default:
		fmt.Fprintf(env.stdout, "output: %d tokens per row assumed (average of %s), capped at %s\n", est.Assumption, est.AssumedFrom, capField)
	}
	fmt.Fprintf(env.stdout, "prices: list prices as of %s, %s tier, input uncached\n\n", est.AsOf, or(est.Tier, "standard"))
	tw := tabwriter.NewWriter(env.stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "model\trows\tinput tokens\toutput low\toutput high\tcost low\tcost high\t")
	for _, m := range append(est.Models, est.Total) {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\t%s\t\n", m.Model, m.Rows, m.InputTokens, m.OutputLow, m.OutputHigh, m.CostLow, m.CostHigh)
	}
	return tw.Flush()
}

// ignoreRunFlags registers the flags of "run" that do not change what is
// sent, so that estimate accepts a run's command line unchanged. It
// returns --sim's value, which sets the default model as in run.
func ignoreRunFlags(fs *flag.FlagSet) *bool {
	var s string
	var n int
	var b bool
	var h headerFlag
	var m usdFlag
	var d time.Duration
	for _, name := range []string{"o", "base-url", "api-key-env", "auth-scheme", "log-format"} {
		fs.StringVar(&s, name, "", "ignored (a flag of run)")
	}
	for _, name := range []string{"concurrency", "max-attempts"} {
		fs.IntVar(&n, name, 0, "ignored (a flag of run)")
	}
	sim := fs.Bool("sim", false, "the default model is gpt-5-mini, as with run --sim")
	for _, name := range []string{"force", "retry-failed", "strict", "quiet"} {
		fs.BoolVar(&b, name, false, "ignored (a flag of run)")
	}
	for _, name := range []string{"timeout", "drain-timeout"} {
		fs.DurationVar(&d, name, 0, "ignored (a flag of run)")
	}
	fs.Int64Var(new(int64), "sim-seed", 0, "ignored (a flag of run)")
	fs.Var(&h, "H", "ignored (a flag of run)")
	fs.Var(&m, "max-cost", "ignored (a flag of run)")
	return sim
}
