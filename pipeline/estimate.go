package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"

	"github.com/llmbatch/llmbatch/io/prices"
	"github.com/llmbatch/llmbatch/io/results"
	"github.com/llmbatch/llmbatch/io/rows"
	"github.com/llmbatch/llmbatch/io/tokens"
)

// EstimateOptions says how Estimate assumes the output tokens it cannot
// count. At most one of AssumeOutput and From may be set.
type EstimateOptions struct {
	// AssumeOutput, when positive, is the output tokens assumed per row.
	AssumeOutput int64
	// From names a finished journal whose answered rows' average output
	// tokens (rounded up) is the assumption.
	From string
	// Tier prices the job at a tier's prices (prices.Table.Multiplier):
	// "batch" for the Batch API; "" is the standard tier.
	Tier string
}

// JobEstimate is the offline estimate of a job: its rows, their input
// tokens as counted by io/tokens, and a low and a high output and cost.
//
// Per row, with A the assumption (EstimateOptions) and M the body's
// max_output_tokens: the high output is M when set, else A; the low output
// is A, capped at M when both are set, else 0. Input tokens are priced as
// uncached (prompt caching can only lower the cost) at the standard tier.
// So low ≤ high, and high is a true upper bound when every body sets
// max_output_tokens (up to the error of the input count).
type JobEstimate struct {
	Rows    int64 `json:"rows"`     // rows priced
	BadRows int64 `json:"bad_rows"` // rows that could not be read or built (not priced)
	// FirstBad is why the first bad rows (at most MaxBadReasons) could
	// not be read or built: "FILE:LINE: reason", as Run journals them.
	FirstBad []string `json:"first_bad_rows,omitempty"`
	// Assumption is the output tokens assumed per row (0: none) and
	// AssumedFrom where it comes from: "--assume-output", the journal's
	// path, or "" when every row's max_output_tokens is used.
	Assumption  int64           `json:"assumed_output_tokens"`
	AssumedFrom string          `json:"assumed_from,omitempty"`
	Models      []ModelEstimate `json:"models"`
	Total       ModelEstimate   `json:"total"` // Model is "total"
	// Unknown lists the models with no price; their cost is unknown.
	Unknown []string `json:"unknown_models,omitempty"`
	AsOf    string   `json:"prices_as_of"`
	// Tier is the price tier the costs are at ("" for standard).
	Tier string `json:"tier,omitempty"`
}

// MaxBadReasons is how many bad rows' reasons an estimate keeps.
const MaxBadReasons = 5

// ModelEstimate is the estimate of the rows of one model.
type ModelEstimate struct {
	Model       string      `json:"model"`
	PricedAs    string      `json:"priced_as,omitempty"`
	Rows        int64       `json:"rows"`
	InputTokens int64       `json:"input_tokens"`
	OutputLow   int64       `json:"output_tokens_low"`
	OutputHigh  int64       `json:"output_tokens_high"`
	CostLow     prices.Cost `json:"cost_low"`
	CostHigh    prices.Cost `json:"cost_high"`
}

// Estimate reads cfg's input and builds every row's request exactly as Run
// would (same templates, body, model and keys), without sending anything,
// and counts and prices the tokens (see JobEstimate). It streams: memory
// does not grow with the input. With cfg.Limit positive it reads only the
// rows Run would. cfg.Output, the endpoint fields and MaxCost are
// ignored. A *UsageError reports a configuration problem,
// including a row whose output tokens nothing bounds (no max_output_tokens
// and no assumption).
func Estimate(ctx context.Context, cfg Config, opts EstimateOptions) (*JobEstimate, error) {
	cfg = cfg.withDefaults()
	switch {
	case cfg.Input == "":
		return nil, usageErrorf("no input file given (%s)", cfg.name("Input"))
	case cfg.Prompt != "" && cfg.PromptColumn != "":
		return nil, usageErrorf("give %s or %s, not both", cfg.name("Prompt"), cfg.name("PromptColumn"))
	case opts.AssumeOutput < 0:
		return nil, usageErrorf("%s must not be negative", cfg.name("EstimateOptions.AssumeOutput"))
	case opts.AssumeOutput > 0 && opts.From != "":
		return nil, usageErrorf("give %s or %s, not both", cfg.name("EstimateOptions.AssumeOutput"), cfg.name("EstimateOptions.From"))
	}
	est := &JobEstimate{AsOf: cfg.Prices.AsOf(), Tier: opts.Tier}
	switch {
	case opts.AssumeOutput > 0:
		est.Assumption, est.AssumedFrom = opts.AssumeOutput, cfg.name("EstimateOptions.AssumeOutput")
	case opts.From != "":
		avg, err := averageOutput(opts.From, cfg.name("EstimateOptions.From"))
		if err != nil {
			return nil, err
		}
		est.Assumption, est.AssumedFrom = avg, opts.From
	}
	b, err := newBuilder(&cfg)
	if err != nil {
		return nil, err
	}
	counter, err := tokens.New()
	if err != nil {
		return nil, err
	}
	reader, closer, err := rows.Open(cfg.Input, cfg.rowsOptions(b))
	if err != nil {
		return nil, &UsageError{Err: err}
	}
	defer closer.Close()

	models := map[string]*ModelEstimate{}
	bad := func(err error) {
		est.BadRows++
		if len(est.FirstBad) < MaxBadReasons {
			est.FirstBad = append(est.FirstBad, err.Error())
		}
	}
	for n := int64(0); cfg.Limit <= 0 || n < cfg.Limit; n++ { // Limit: the rows Run would read
		if n%1024 == 0 && ctx.Err() != nil {
			return nil, fmt.Errorf("%w: %w", ErrInterrupted, ctx.Err())
		}
		row, err := reader.Next()
		if err == io.EOF {
			break
		}
		var rowErr *rows.RowError
		if errors.As(err, &rowErr) {
			bad(rowErr)
			continue
		}
		if err != nil {
			return nil, &UsageError{Err: fmt.Errorf("read input: %w", err)}
		}
		req, err := b.build(&row)
		var uerr *UsageError
		if errors.As(err, &uerr) {
			return nil, err
		}
		if err != nil {
			bad(&rows.RowError{File: cfg.Input, Line: row.Line, Index: row.Index, Err: err})
			continue
		}
		m := req.cost(counter)
		in := m.InputTokens
		low, high := est.Assumption, est.Assumption
		if m.MaxOutput >= 0 {
			low, high = min(low, m.MaxOutput), m.MaxOutput
		} else if est.AssumedFrom == "" {
			return nil, usageErrorf("%s: row %d: its output tokens are unbounded: set %s in %s, or give %s N or %s RESULTS.jsonl",
				cfg.Input, row.Index, req.api.OutputCap(), cfg.name("Body"), cfg.name("EstimateOptions.AssumeOutput"), cfg.name("EstimateOptions.From"))
		}
		me := models[req.model]
		if me == nil {
			me = &ModelEstimate{Model: req.model}
			models[req.model] = me
		}
		me.Rows++
		me.InputTokens += in
		me.OutputLow += low
		me.OutputHigh += high
	}

	est.Total = ModelEstimate{Model: "total", CostLow: prices.Cost{Known: true}, CostHigh: prices.Cost{Known: true}}
	for _, name := range slices.Sorted(maps.Keys(models)) {
		me := models[name]
		num, den, tierOK := cfg.Prices.Multiplier(opts.Tier)
		if entry, ok := cfg.Prices.Resolve(name); ok && tierOK {
			p, _ := cfg.Prices.Lookup(name)
			p = p.Scale(num, den)
			me.PricedAs = entry
			me.CostLow = prices.Cost{Amount: p.Cost(me.InputTokens, 0, me.OutputLow), Known: true}
			me.CostHigh = prices.Cost{Amount: p.Cost(me.InputTokens, 0, me.OutputHigh), Known: true}
		} else {
			est.Unknown = append(est.Unknown, name)
		}
		t := &est.Total
		t.Rows += me.Rows
		t.InputTokens += me.InputTokens
		t.OutputLow += me.OutputLow
		t.OutputHigh += me.OutputHigh
		t.CostLow = addCost(t.CostLow, me.CostLow)
		t.CostHigh = addCost(t.CostHigh, me.CostHigh)
		est.Models = append(est.Models, *me)
	}
	est.Rows = est.Total.Rows
	return est, nil
}

// addCost adds two costs; the sum is unknown if either is.
func addCost(a, b prices.Cost) prices.Cost {
	if !a.Known || !b.Known {
		return prices.Cost{}
	}
	return prices.Cost{Amount: addSat(a.Amount, b.Amount), Known: true}
}

// averageOutput returns the average output tokens, rounded up, of the
// answered rows (no error) of the journal at path.
func averageOutput(path, flag string) (int64, error) {
	var sum, n int64
	if _, err := os.Stat(path); err != nil {
		return 0, &UsageError{Err: fmt.Errorf("%s: %w", flag, err)}
	}
	_, err := results.Scan(path, func(rec *results.Record) {
		if rec.Error == nil && rec.Usage.OutputTokens > 0 {
			sum += rec.Usage.OutputTokens
			n++
		}
	})
	if err != nil {
		return 0, &UsageError{Err: fmt.Errorf("%s: %w", flag, err)}
	}
	if n == 0 {
		return 0, usageErrorf("%s %s: no answered rows with output tokens to average", flag, path)
	}
	return (sum + n - 1) / n, nil
}
