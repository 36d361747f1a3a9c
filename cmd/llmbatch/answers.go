package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/llmbatch/llmbatch/io/api"
	"github.com/llmbatch/llmbatch/io/chat"
	"github.com/llmbatch/llmbatch/io/prices"
	"github.com/llmbatch/llmbatch/io/responses"
	"github.com/llmbatch/llmbatch/io/results"
	"github.com/llmbatch/llmbatch/io/rows"
	"github.com/llmbatch/llmbatch/pipeline"
)

// answerOptions are run's flags about answers: re-asking those that break
// the request's JSON schema, reusing earlier journals' answers.
type answerOptions struct {
	Reask int      // --reask
	Reuse []string // --reuse
}

func (o *answerOptions) register(fs *flag.FlagSet) {
	fs.IntVar(&o.Reask, "reask", 0, "send a row again, up to `N` times, when its answer breaks the body's JSON schema (text.format / response_format), is not JSON, or is a refusal; every answer is paid for and counted")
	fs.Func("reuse", "journal(s) of earlier jobs, `OLD.jsonl` (repeatable, comma-separated; quoted globs allowed): a row whose request (endpoint and body) one of them answered ok is journalled from that answer, without a request", func(s string) error {
		o.Reuse = append(o.Reuse, splitList(s)...)
		return nil
	})
}

func (o *answerOptions) validate() error {
	if o.Reask < 0 {
		return usagef("run: --reask must not be negative")
	}
	return nil
}

func (o *answerOptions) apply(cfg *pipeline.Config) {
	cfg.Reask = o.Reask
	cfg.Reuse = o.Reuse
}

// printAnswers adds the re-asks and reused rows to the closing totals.
func printAnswers(env environ, s *results.Summary) {
	if r := s.Reasks; r != nil {
		fmt.Fprintf(env.stderr, "re-asks: %d (answers that broke the schema or refused, asked again), %d input + %d output tokens, cost %s (in the totals above)\n",
			r.Records, r.Usage.InputTokens, r.Usage.OutputTokens, r.Cost)
	}
	if r := s.Reused; r != nil {
		fmt.Fprintf(env.stderr, "reused: %d rows answered from earlier journals without a request (they cost %s when answered; not in the totals above)\n",
			r.Records, r.Cost)
	}
}

// loadSchema reads export --schema's FILE: a request body that asks for
// structured output (text.format, response_format: what --body was), or a
// JSON schema itself.
func loadSchema(path string) (any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, usagef("export: --schema: %v", err)
	}
	doc, err := rows.DecodeObject(b)
	if err != nil {
		return nil, usagef("export: --schema %s: not a JSON object: %v", path, err)
	}
	for _, a := range []api.Schemer{responses.API{}, chat.API{}} {
		if s, _, ok := a.OutputSchema(doc); ok {
			return s, nil
		}
	}
	if _, ok := doc["text"]; ok {
		return nil, usagef("export: --schema %s: its text.format asks for no JSON schema", path)
	}
	if _, ok := doc["response_format"]; ok {
		return nil, usagef("export: --schema %s: its response_format asks for no JSON schema", path)
	}
	return doc, nil
}

// typedRec is a record on its way through the typed export's sort: its
// input columns as JSON text (gob cannot carry map[string]any).
type typedRec struct {
	Rec   results.Record
	Input string
}

// exportTyped writes the typed export of the journals at paths to w (see
// results.TypedExporter): it reads the journals once more first, for the
// names of the kept input columns.
func exportTyped(ctx context.Context, w io.Writer, dir, format string, schema any, paths []string, table *prices.Table) (n int64, info results.ReadInfo, err error) {
	var inputs []string
	seen := map[string]bool{}
	if _, err := results.ReadEach(paths, results.FieldInput, func(rec *results.Record) error {
		for k := range rec.Input {
			if !seen[k] {
				seen[k] = true
				inputs = append(inputs, k)
			}
		}
		return ctx.Err()
	}); err != nil {
		return 0, info, usagef("export: %v", err)
	}
	slices.Sort(inputs)
	ex, err := results.NewTypedExporter(w, format, schema, inputs)
	if err != nil {
		return 0, info, usagef("export: --schema: %v", err)
	}
	// Records come in the journal's order; rows are written in the
	// input's (by index), as the plain export writes them.
	sorter := &rowSorter[typedRec]{dir: dir, index: func(r *typedRec) int64 { return r.Rec.Index },
		size: func(r *typedRec) int64 {
			return int64(256 + len(r.Rec.CustomID) + len(r.Rec.OutputText) + len(r.Input))
		}}
	defer sorter.close()
	info, err = results.ReadLatest(paths, results.FieldOutputText|results.FieldInput, func(rec *results.Record) error {
		n++
		tr := typedRec{Rec: *rec}
		if rec.Input != nil {
			b, err := json.Marshal(rec.Input)
			if err != nil {
				return err
			}
			tr.Input, tr.Rec.Input = string(b), nil
		}
		tr.Rec.Response = nil
		if err := sorter.add(tr); err != nil {
			return &exportWriteError{err}
		}
		return ctx.Err()
	})
	if err != nil {
		var werr *exportWriteError
		if !errors.As(err, &werr) {
			err = usagef("export: %v", err)
		}
		return n, info, err
	}
	err = sorter.emit(func(tr typedRec) error {
		rec := tr.Rec
		if tr.Input != "" {
			dec := json.NewDecoder(strings.NewReader(tr.Input))
			dec.UseNumber()
			if err := dec.Decode(&rec.Input); err != nil {
				return err
			}
		}
		if err := ex.Write(&rec, table); err != nil {
			return err
		}
		return ctx.Err()
	})
	if err != nil {
		return n, info, &exportWriteError{err}
	}
	if err := ex.Close(); err != nil {
		return n, info, &exportWriteError{err}
	}
	return n, info, nil
}

// evaluate compares the latest records of the journals at paths with the
// kept input column expect (see results.Eval).
func evaluate(ctx context.Context, paths []string, expect, field string) (*results.Eval, error) {
	ev := results.NewEval(expect, field)
	if _, err := results.ReadLatest(paths, results.FieldOutputText|results.FieldInput, func(rec *results.Record) error {
		ev.Add(rec)
		return ctx.Err()
	}); err != nil {
		return nil, usagef("report: %v", err)
	}
	ev.Finish()
	if ev.Rows == 0 {
		return nil, usagef("report: --expect %s: no record keeps an input column %q: run the job with --keep-columns %s", expect, expect, expect)
	}
	return ev, nil
}

// printEval prints an evaluation: accuracy, per-class scores, the
// confusion matrix (rows expected, columns answered) and the first
// disagreements.
func printEval(w io.Writer, e *results.Eval) {
	what := "output_text"
	if e.Field != "" {
		what = "field " + e.Field
	}
	fmt.Fprintf(w, "\nevaluation: %s against input column %s: %d rows", what, e.Expect, e.Rows)
	if e.Skipped > 0 {
		fmt.Fprintf(w, " (%d without %s skipped)", e.Skipped, e.Expect)
	}
	fmt.Fprintf(w, "\naccuracy: %.4f (%d of %d)", e.Accuracy, e.Correct, e.Rows)
	if e.NoAnswer > 0 {
		fmt.Fprintf(w, "; %d rows with no answer (failed, or no such field) count as wrong", e.NoAnswer)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "class\texpected\tanswered\tcorrect\tprecision\trecall\t")
	pct := func(p *float64) string {
		if p == nil {
			return "-"
		}
		return fmt.Sprintf("%.4f", *p)
	}
	for _, c := range e.Classes {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%s\t\n", c.Class, c.Expected, c.Predicted, c.Correct, pct(c.Precision), pct(c.Recall))
	}
	tw.Flush()
	var cols []string
	for _, c := range e.Classes {
		if c.Predicted > 0 {
			cols = append(cols, c.Class)
		}
	}
	fmt.Fprintln(w, "confusion (rows: expected, columns: answered):")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "\t")
	for _, c := range cols {
		fmt.Fprintf(tw, "%s\t", c)
	}
	fmt.Fprintln(tw)
	for _, c := range e.Classes {
		row := e.Confusion[c.Class]
		if row == nil {
			continue
		}
		fmt.Fprintf(tw, "%s\t", c.Class)
		for _, p := range cols {
			fmt.Fprintf(tw, "%d\t", row[p])
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	if len(e.Disagreements) > 0 {
		fmt.Fprintf(w, "first disagreements:\n")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  key\texpected\tanswered\terror")
		for _, d := range e.Disagreements {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", d.Key, d.Expected, d.Got, d.Error)
		}
		tw.Flush()
	}
}

// printExtras prints a report's re-asks and reused rows.
func printExtras(w io.Writer, r *results.Report) {
	if e := r.Reasks; e != nil {
		fmt.Fprintf(w, "re-asks: %d records (answers that broke the schema or refused, asked again), %d input + %d output tokens, cost %s (in the totals)\n",
			e.Records, e.Usage.InputTokens, e.Usage.OutputTokens, e.Cost)
	}
	if e := r.Reused; e != nil {
		fmt.Fprintf(w, "reused: %d rows answered from earlier journals without a request; they cost %s when answered (not in the totals)\n",
			e.Records, e.Cost)
	}
}

// answerAttrs are the closing totals' re-asks and reused rows for
// --log-format json.
func answerAttrs(s *results.Summary) []any {
	var attrs []any
	if r := s.Reasks; r != nil {
		attrs = append(attrs, slog.Group("reasks", append([]any{"records", r.Records, "input_tokens", r.Usage.InputTokens, "output_tokens", r.Usage.OutputTokens}, costAttrs(r.Cost)...)...))
	}
	if r := s.Reused; r != nil {
		attrs = append(attrs, slog.Group("reused", append([]any{"rows", r.Records}, costAttrs(r.Cost)...)...))
	}
	return attrs
}
