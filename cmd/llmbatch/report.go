package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
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
request was paid for. Journals of different jobs (another model, prompt
or body; or other inputs whose keys repeat across the journals) are
reported as one, with a warning naming each journal's job.

With --expect COLUMN, it also compares each key's latest answer with the
input column COLUMN the job kept (--keep-columns): the output's field
--field NAME (the output parsed as JSON), or the whole output_text
without it. It prints the accuracy, each class's precision and recall,
the confusion matrix and the first disagreeing rows; a failed row counts
as "(no answer)", a wrong one. Values are compared as text, trimmed.

Flags:
`

func report(ctx context.Context, args []string, env environ) error {
	var (
		jsonOut    bool
		pricesFile string
	)
	fs := newFlagSet("report", env.stderr, reportUsage)
	fs.BoolVar(&jsonOut, "json", false, "print the report as JSON")
	var expect, field string
	fs.StringVar(&expect, "expect", "", "evaluate: compare the answers with the kept input column `COLUMN`")
	fs.StringVar(&field, "field", "", "with --expect, the output's JSON field `NAME` to compare (default: the whole output_text)")
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
	// Each journal is read on its own, to know its jobs and its keys.
	jobs := make([][]*results.Job, len(paths))
	var (
		info    results.ReadInfo
		perFile int64 // keys counted file by file: more than the report's when a key is in several files
	)
	for _, p := range paths { // every file is there before any is read
		if _, err := os.Stat(p); err != nil {
			return usagef("report: open journal: %v", err)
		}
	}
	for i, p := range paths {
		keys := results.NewTotals()
		fi, err := results.ReadEach([]string{p}, 0, func(rec *results.Record) error {
			rep.Add(rec)
			if len(paths) > 1 {
				keys.Add(rec)
			}
			if j := rec.Job; j != nil && !slices.ContainsFunc(jobs[i], func(o *results.Job) bool { return o.Fingerprint == j.Fingerprint }) {
				jobs[i] = append(jobs[i], &results.Job{Fingerprint: j.Fingerprint, Parts: j.Parts})
			}
			return ctx.Err()
		})
		info.Lines += fi.Lines
		info.Torn = append(info.Torn, fi.Torn...)
		if err != nil {
			return usagef("report: %v", err)
		}
		perFile += keys.Count(results.OK) + keys.Count(results.Failed) + keys.Count(results.Retryable)
	}
	rep.Finish()
	if len(paths) > 1 && shards == nil { // shards were checked to be one job's
		warnMixedJobs(env, paths, jobs, perFile-rep.Rows.Keys)
	}
	var ev *results.Eval
	if field != "" && expect == "" {
		return usagef("report: --field needs --expect COLUMN")
	}
	if expect != "" {
		if ev, err = evaluate(ctx, paths, expect, field); err != nil {
			return err
		}
	}
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
		enc.Encode(struct {
			*results.Report
			Eval   *results.Eval     `json:"eval,omitempty"`
			Shards *results.ShardSet `json:"shards,omitempty"`
		}{rep, ev, shards})
	} else {
		printShards(w, shards)
		printReport(w, rep)
		printExtras(w, rep)
		if ev != nil {
			printEval(w, ev)
		}
	}
	if w.err != nil {
		return fmt.Errorf("report: write the report to stdout: %w", w.err)
	}
	return nil
}

// warnMixedJobs warns when the journals hold records of different jobs
// (their fingerprints differ) that the report adds up as one, in two
// cases: their settings differ (model, prompt, body, ...: not one job
// whatever the inputs), or only their inputs do (shards) but keys repeat
// across files (shared, e.g. keys by index "0", "1", ... in every
// shard), so that rows of different jobs count once. repeats is the keys
// found in more than one journal.
func warnMixedJobs(env environ, paths []string, jobs [][]*results.Job, repeats int64) {
	var all []*results.Job
	for _, js := range jobs {
		for _, j := range js {
			if !slices.ContainsFunc(all, func(o *results.Job) bool { return o.Fingerprint == j.Fingerprint }) {
				all = append(all, j)
			}
		}
	}
	if len(all) < 2 {
		return
	}
	var differ []string // the settings that differ, the input aside
	for _, j := range all[1:] {
		for k := range j.Parts {
			if k != "input" && j.Parts[k] != all[0].Parts[k] && !slices.Contains(differ, k) {
				differ = append(differ, k)
			}
		}
		for k := range all[0].Parts {
			if _, ok := j.Parts[k]; !ok && k != "input" && !slices.Contains(differ, k) {
				differ = append(differ, k)
			}
		}
	}
	if len(differ) == 0 && repeats == 0 {
		return // shards of one job: same settings, keys apart
	}
	slices.Sort(differ)
	var b strings.Builder
	fmt.Fprintf(&b, "llmbatch: warning: these journals hold %d different jobs, reported as one:", len(all))
	for i, p := range paths {
		fps := make([]string, len(jobs[i]))
		for k, j := range jobs[i] {
			fps[k] = "job " + j.Fingerprint
		}
		if len(fps) == 0 {
			fps = []string{"no job recorded"}
		}
		fmt.Fprintf(&b, "\n  %s: %s", p, strings.Join(fps, ", "))
	}
	if len(differ) > 0 {
		fmt.Fprintf(&b, "\n  they differ in: %s", strings.Join(differ, ", "))
	} else {
		b.WriteString("\n  they differ in their input only")
	}
	if repeats > 0 {
		hint := "report each job's journals apart"
		if len(differ) == 0 {
			hint = "give the shards keys unique across them (--id-column)"
		}
		fmt.Fprintf(&b, "\n  %d keys are in more than one of them: each counts once (its latest record); %s", repeats, hint)
	}
	fmt.Fprintln(env.stderr, b.String())
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
	fmt.Fprintf(w, "prices: list prices as of %s%s\n\n", r.Cost.AsOf, tierNote(&r.Cost))

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
