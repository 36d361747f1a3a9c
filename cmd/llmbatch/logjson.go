package main

import (
	"log/slog"

	"github.com/llmbatch/llmbatch/io/prices"
	"github.com/llmbatch/llmbatch/io/results"
	"github.com/llmbatch/llmbatch/pipeline"
)

// With --log-format json every line "run" writes on stderr is one JSON
// object (a slog record): the log, the progress lines, the closing totals
// ("done"), the interruption notice and the final error. Counts, tokens
// and seconds are JSON numbers; a cost is both "cost", the string the text
// format shows ("$0.0035" or "unknown"), and, when known, "cost_usd", a
// JSON number written with the exact decimal digits of the amount (a
// reader that parses it as a float64 may round it in the last digits).
// Flag errors come before the format is known and stay plain text.

// usdNumber is an amount of dollars that marshals as a JSON number with
// its exact decimal digits (prices.Money marshals as a string).
type usdNumber prices.Money

// MarshalJSON writes the amount as a bare decimal number such as 0.0035.
func (u usdNumber) MarshalJSON() ([]byte, error) {
	return []byte(prices.Money(u).Decimal()), nil
}

// costAttrs are the attributes of a cost in a JSON record.
func costAttrs(c prices.Cost) []any {
	a := []any{"cost", c.String()}
	if c.Known {
		a = append(a, "cost_usd", usdNumber(c.Amount))
	}
	return a
}

// logDone writes the closing totals of a job as records: "done" with the
// counts (this_run: what this run did; the others: the journal's totals
// over every run), then one record per hint the text format prints.
func logDone(l *slog.Logger, o *runOptions, s *results.Summary, f pipeline.Progress) {
	u := s.Usage.Total
	this := []any{"rows", runRows(s, f), "requests", s.Run.Requests, "retries", s.Run.Retries,
		"rate_limited", s.Run.RateLimited, "wall_seconds", s.Run.WallSeconds}
	if f.Final {
		this = append(this, costAttrs(f.RunCost)...)
	}
	attrs := []any{
		slog.Group("this_run", this...),
		slog.Group("rows", "ok", s.Rows.OK, "failed", s.Rows.Failed, "retryable", s.Rows.Retryable,
			"pending", s.Rows.Pending, "skipped", s.Rows.Skipped),
		"requests", s.Run.Requests, "retries", s.Run.Retries, "rate_limited", s.Run.RateLimited,
		"wall_seconds", s.Run.WallSeconds,
		slog.Group("tokens", "input", u.InputTokens, "cached_input", u.CachedInputTokens,
			"output", u.OutputTokens, "reasoning", u.ReasoningTokens),
	}
	if c := s.Cost; c != nil {
		attrs = append(attrs, costAttrs(c.Total)...)
		if !c.Total.Known {
			attrs = append(attrs, "cost_priced_usd", usdNumber(c.Priced), "unpriced_models", c.Unknown)
		}
		if len(c.PerModel) > 1 {
			per := make([]any, 0, len(c.PerModel))
			for _, m := range sortedKeys(c.PerModel) {
				per = append(per, slog.Group(m, costAttrs(c.PerModel[m])...))
			}
			attrs = append(attrs, slog.Group("cost_per_model", per...))
		}
		if len(c.PerTier) > 0 {
			per := make([]any, 0, len(c.PerTier))
			for _, t := range sortedKeys(c.PerTier) {
				per = append(per, slog.Group(t, costAttrs(c.PerTier[t])...))
			}
			attrs = append(attrs, slog.Group("cost_per_tier", per...))
		}
		attrs = append(attrs, "prices_as_of", c.AsOf)
	}
	attrs = append(attrs, answerAttrs(s)...)
	journal := o.Shards.journal(o.Output)
	attrs = append(attrs, "journal", journal, "summary", results.SummaryPath(journal))
	l.Info("done", attrs...)
	if o.Limit > 0 && s.Rows.Pending > 0 {
		l.Info("--limit: rows not read yet: re-run without --limit (or with a higher one) to continue", "limit", o.Limit, "rows", s.Rows.Pending)
	}
	if s.Rows.Retryable > 0 {
		l.Warn("rows ran out of attempts on transient errors: re-run the same command to send them again", "rows", s.Rows.Retryable)
	}
	if s.Rows.Failed > 0 {
		l.Warn("rows failed for good: see their \"error\" in the journal; --retry-failed sends them again", "rows", s.Rows.Failed)
	}
}
