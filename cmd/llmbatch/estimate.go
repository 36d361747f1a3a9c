package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

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

It accepts every flag of "llmbatch run", so that a run's command line can
be estimated as it is; only those that change the estimate are listed
below. Rows that cannot be built are not priced: the first reasons are
printed and the exit status is 2 (the estimate of the others is printed
too).

Flags:
`

// estimateFlags are the flags listed by "estimate -h": those that change
// its answer. The other flags of run are accepted and ignored.
var estimateFlags = []string{"endpoint", "input-format", "model", "model-column", "prompt", "prompt-column",
	"instructions", "body", "id-column", "delimiter", "max-row-bytes", "limit", "sim", "prices", "mode",
	"assume-output", "from", "json"}

func estimate(ctx context.Context, args []string, env environ) error {
	var o runOptions
	var (
		opts     pipeline.EstimateOptions
		jsonOut  bool
		assumeIn int64
	)
	fs := newFlagSet("estimate", env.stderr, estimateUsage)
	o.register(fs, env) // every flag of run
	fs.Var(&o.Header, "H", "extra request header (a flag of run)")
	fs.Int64Var(&assumeIn, "assume-output", 0, "output tokens assumed per row")
	fs.StringVar(&opts.From, "from", "", "finished journal (RESULTS.jsonl) whose average output tokens per answered row is the assumption")
	fs.BoolVar(&jsonOut, "json", false, "print the estimate as JSON")
	listed := flag.NewFlagSet("estimate", flag.ContinueOnError)
	for _, name := range estimateFlags {
		f := fs.Lookup(name)
		usage := f.Usage
		switch name {
		case "sim":
			usage = "the default model is gpt-5-mini, as with run --sim"
		case "limit":
			usage = "estimate only the first `N` rows, bad ones included, as run --limit N sends"
		case "mode":
			usage = "online or background (standard prices) or batch (the Batch API's prices)"
		}
		listed.Var(f.Value, f.Name, usage)
	}
	fs.Usage = func() {
		fmt.Fprint(env.stderr, estimateUsage)
		listed.SetOutput(env.stderr)
		listed.PrintDefaults()
	}
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
	case o.Limit < 0:
		return usagef("estimate: --limit must not be negative")
	case utf8.RuneCountInString(o.Delimiter) > 1:
		return usagef("estimate: --delimiter must be one character, not %q", o.Delimiter)
	}
	opts.AssumeOutput = assumeIn
	switch o.Mode.Mode {
	case modeOnline, modeBackground:
	case modeBatch:
		opts.Tier = batchapi.Tier
	default:
		return usagef("estimate: --mode must be %s, %s or %s, not %q", modeOnline, modeBackground, modeBatch, o.Mode.Mode)
	}
	cfg := pipeline.Config{
		Source: pipeline.Source{Input: pos[0], InputFormat: o.InputFormat, Reader: env.stdin},
		Template: pipeline.Template{Model: o.Model, Prompt: o.Prompt, PromptColumn: o.PromptColumn, Instructions: o.Instr,
			IDColumn: o.IDColumn},
		Limit: o.Limit,
	}
	if o.Sim && cfg.Model == "" {
		cfg.Model = "gpt-5-mini" // as run --sim does
		if o.Endpoint == "embeddings" {
			cfg.Model = "text-embedding-3-small"
		}
	}
	if err := o.buildConfig(&cfg, "estimate"); err != nil {
		return err
	}
	if err := checkKeepColumns(&cfg, "estimate"); err != nil {
		return err
	}
	est, err := pipeline.Estimate(ctx, cfg, opts)
	if err != nil {
		return err
	}
	if len(est.Unknown) > 0 {
		fmt.Fprintf(env.stderr, "llmbatch: warning: no price for %s: its cost is unknown; add it with --prices FILE\n", strings.Join(est.Unknown, ", "))
	}
	if jsonOut {
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(est); err != nil {
			return err
		}
		return badRows(env, est)
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
	if err := tw.Flush(); err != nil {
		return err
	}
	return badRows(env, est)
}

// badRows prints why the first rows that cannot be built could not, and
// returns the usage error that ends the estimate with status 2; nil when
// every row was built.
func badRows(env environ, est *pipeline.JobEstimate) error {
	if est.BadRows == 0 {
		return nil
	}
	for _, r := range est.FirstBad {
		fmt.Fprintf(env.stderr, "llmbatch: %s\n", r)
	}
	which := "above"
	if est.BadRows > int64(len(est.FirstBad)) {
		which = fmt.Sprintf("the first %d above", len(est.FirstBad))
	}
	return usagef("estimate: rows that cannot be built: %d (%s), not priced; run journals such rows as failed (--strict stops at the first)", est.BadRows, which)
}
