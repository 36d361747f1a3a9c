package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/llmbatch/llmbatch/io/results"
)

const reportUsage = `Usage: llmbatch report [flags] RESULTS.jsonl [MORE.jsonl ...]

Reads one or more journals, or a quoted glob of them (e.g. the shards of
one job: 'results.shard-*.jsonl', checked to be one job's, with the
shards missing or unfinished named) and prints on
stdout: rows ok/failed by error code (each key once, its latest record
winning), usage and cost per model, requests, retries, 429s, the attempts
histogram, latency percentiles and wall time. Usage, cost and request
counts cover every record, superseded ones included: each answered
request was paid for.

Flags:
`

func report(ctx context.Context, args []string, env environ) error {
	var (
		jsonOut    bool
		pricesFile string
	)
	fs := newFlagSet("report", env.stderr, reportUsage)
	fs.BoolVar(&jsonOut, "json", false, "print the report as JSON")
	registerPrices(fs, &pricesFile)
	paths, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(paths) == 0 {
		return usagef("report: no journal given (usage: llmbatch report RESULTS.jsonl [MORE.jsonl ...])")
	}
	paths, shards, cleanup, err := journalArgs(ctx, "report", paths, env)
	if err != nil {
		return err
	}
	defer cleanup()
	table, err := loadPrices(pricesFile, "report")
	if err != nil {
		return err
	}
	rep := results.NewReport(table)
	info, err := results.ReadEach(paths, 0, func(rec *results.Record) error {
		rep.Add(rec)
		return ctx.Err()
	})
	if err != nil {
		return usagef("report: %v", err)
	}
	rep.Finish()
	for _, t := range info.Torn {
		fmt.Fprintf(env.stderr, "llmbatch: skipped a torn last line (the writer died mid-write): %s\n", t)
	}
	if len(rep.Cost.Unknown) > 0 {
		fmt.Fprintf(env.stderr, "llmbatch: warning: no price for %s: its cost is unknown; add it with --prices FILE\n", strings.Join(rep.Cost.Unknown, ", "))
	}
	w := &errWriter{w: env.stdout}
	if jsonOut {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if shards != nil {
			enc.Encode(struct {
				*results.Report
				Shards *results.ShardSet `json:"shards"`
			}{rep, shards})
		} else {
			enc.Encode(rep)
		}
	} else {
		printShards(w, shards)
		printReport(w, rep)
	}
	if w.err != nil {
		return fmt.Errorf("report: write the report to stdout: %w", w.err)
	}
	return nil
}

// errWriter keeps the first write error, so that a report printed in many
// small writes can be checked once at the end.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

func printReport(w io.Writer, r *results.Report) error {
	rows := r.Rows
	fmt.Fprintf(w, "rows: %d keys: %d ok, %d failed, %d retryable (sent again on resume)\n", rows.Keys, rows.OK, rows.Failed, rows.Retryable)
	if len(rows.ByError) > 0 {
		codes := sortedKeys(rows.ByError)
		slices.SortStableFunc(codes, func(a, b string) int { return int(rows.ByError[b] - rows.ByError[a]) })
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  error code\trows")
		for _, c := range codes {
			fmt.Fprintf(tw, "  %s\t%d\n", c, rows.ByError[c])
		}
		tw.Flush()
	}
	fmt.Fprintf(w, "records: %d (%d superseded by a later record of the same key)\n\n", r.Records, r.Superseded)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "model\tinput\tcached\toutput\treasoning\ttotal\tcost\t")
	for _, m := range sortedKeys(r.Usage.PerModel) {
		u := r.Usage.PerModel[m]
		if u.InputTokens == 0 && u.OutputTokens == 0 {
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%s\t\n", m, u.InputTokens, u.CachedInputTokens, u.OutputTokens, u.ReasoningTokens, u.TotalTokens, r.Cost.PerModel[m])
	}
	u := r.Usage.Total
	total := r.Cost.Total.String()
	if !r.Cost.Total.Known {
		total = "unknown (≥ " + r.Cost.Priced.String() + ")"
	}
	fmt.Fprintf(tw, "total\t%d\t%d\t%d\t%d\t%d\t%s\t\n", u.InputTokens, u.CachedInputTokens, u.OutputTokens, u.ReasoningTokens, u.TotalTokens, total)
	tw.Flush()
	fmt.Fprintf(w, "prices: list prices as of %s\n\n", r.Cost.AsOf)

	fmt.Fprintf(w, "requests: %d, retries: %d, 429s: %d\n", r.Requests, r.Retries, r.RateLimited)
	fmt.Fprint(w, "attempts:")
	for _, n := range slices.Sorted(maps.Keys(r.Attempts)) {
		fmt.Fprintf(w, " %d×%d", n, r.Attempts[n])
	}
	fmt.Fprintln(w, " (attempts×records)")
	fmt.Fprintf(w, "latency: p50 %s, p95 %s, p99 %s\n", ms(r.Latency.P50), ms(r.Latency.P95), ms(r.Latency.P99))
	if r.WallSeconds > 0 {
		fmt.Fprintf(w, "wall time: %s (%s to %s; includes gaps between resumed runs)\n",
			time.Duration(r.WallSeconds*float64(time.Second)).Round(time.Millisecond),
			r.Start.Format(time.RFC3339), r.End.Format(time.RFC3339))
	}
	return nil
}

func ms(n int64) string { return (time.Duration(n) * time.Millisecond).String() }
