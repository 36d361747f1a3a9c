package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/llmbatch/llmbatch/io/results"
	"github.com/llmbatch/llmbatch/io/store"
)

const exportUsage = `Usage: llmbatch export [flags] RESULTS.jsonl [MORE.jsonl ...] -o FILE.parquet|FILE.csv

Writes one flat row per key (its latest record), in input order (by
index; rows of several journals with the same index in the order given),
to a Parquet or CSV file (the journals may be a quoted glob of a job's
shards, 'results.shard-*.jsonl', read in shard order):
key, index, status, output_text, model, the token counts, cost_usd,
latency_ms, attempts, error_code, error_message, input_json (the kept
input columns as one JSON object) and embedding (an embeddings answer's
vector: a list of float32 in Parquet, a JSON array in CSV). Parquet
columns are typed, nullable where a record has no value, and
zstd-compressed; cost_usd is an exact DECIMAL(18,12). The file is
written beside FILE and renamed into place when complete.

With --schema FILE (the --body file that asked for structured output, or
a JSON schema), the columns are key, index, status, cost_usd, error_code,
each kept input column, then one column per top-level property of the
schema with its type: string and enum STRING, integer INT64, number
DOUBLE, boolean BOOLEAN, arrays LISTs, objects structs (CSV: scalars as
text, the rest as JSON). A value that breaks its type is null.

Flags:
`

func export(ctx context.Context, args []string, env environ) (err error) {
	var out, format, pricesFile string
	fs := newFlagSet("export", env.stderr, exportUsage)
	fs.StringVar(&out, "o", "", "file to write: .parquet or .csv (required)")
	fs.StringVar(&format, "format", "", "parquet or csv, overriding -o's extension")
	var schemaFile string
	fs.StringVar(&schemaFile, "schema", "", "typed columns: one per top-level property of the JSON schema in `FILE` (a --body file with text.format or response_format, or a schema)")
	registerPrices(fs, &pricesFile)
	paths, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(paths) == 0 {
		return usagef("export: no journal given (usage: llmbatch export RESULTS.jsonl -o FILE.parquet|FILE.csv)")
	}
	if out == "" {
		return usagef("export: no output file given: add -o FILE.parquet or -o FILE.csv")
	}
	if format == "" {
		format = strings.TrimPrefix(strings.ToLower(filepath.Ext(store.Redact(out))), ".")
	}
	if format != results.FormatParquet && format != results.FormatCSV {
		return usagef("export: cannot tell the format of %q: use a .parquet or .csv name, or --format", out)
	}
	paths, _, cleanup, err := journalArgs(ctx, "export", paths, env)
	if err != nil {
		return err
	}
	defer cleanup()
	table, err := loadPrices(pricesFile, "export")
	if err != nil {
		return err
	}

	// An export to object storage is written to a local temp file, then
	// uploaded: the object appears whole or not at all.
	tempDir, remote := filepath.Dir(out), store.IsURL(out)
	if remote {
		tempDir = os.TempDir()
	}
	f, err := results.CreateTemp(tempDir, "."+filepath.Base(store.Redact(out))+".tmp")
	if err != nil {
		return fmt.Errorf("export: create a temp file beside %s: %w", out, err)
	}
	// A failed write is not a usage error: it names the file (exit 1).
	writeErr := func(err error) error {
		return fmt.Errorf("export: write %s (temp file %s): %w", out, f.Name(), err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	if schemaFile != "" {
		schema, err := loadSchema(schemaFile)
		if err != nil {
			return err
		}
		n, info, err := exportTyped(ctx, bw, tempDir, format, schema, paths, table)
		if err != nil {
			var werr *exportWriteError
			if errors.As(err, &werr) {
				return writeErr(werr.err)
			}
			return err
		}
		return finishExport(ctx, f, bw, out, n, 0, info, env, writeErr)
	}
	ex, err := results.NewExporter(bw, format)
	if err != nil {
		return err
	}
	var n, unpriced int64
	// Rows come in the journal's order (that of the answers); they are
	// written in the input's (by index).
	sorter := newRowSorter(tempDir)
	defer sorter.close()
	info, err := results.ReadLatest(paths, results.ExportFields, func(rec *results.Record) error {
		row, err := results.NewExportRow(rec, table)
		if err != nil {
			return err
		}
		if row.CostUSD == nil && (row.InputTokens > 0 || row.OutputTokens > 0) {
			unpriced++
		}
		n++
		if err := sorter.add(row); err != nil {
			return &exportWriteError{err}
		}
		return ctx.Err()
	})
	var werr *exportWriteError
	if errors.As(err, &werr) {
		return writeErr(werr.err)
	}
	if err != nil {
		return usagef("export: %v", err)
	}
	err = sorter.emit(func(row results.ExportRow) error {
		if err := ex.Write(row); err != nil {
			return err
		}
		return ctx.Err()
	})
	if err != nil {
		return writeErr(err)
	}
	if err := ex.Close(); err != nil {
		return writeErr(err)
	}
	return finishExport(ctx, f, bw, out, n, unpriced, info, env, writeErr)
}

// finishExport syncs the export's temp file and renames it into place.
func finishExport(ctx context.Context, f *os.File, bw *bufio.Writer, out string, n, unpriced int64, info results.ReadInfo, env environ, writeErr func(error) error) error {
	if err := bw.Flush(); err != nil {
		return writeErr(err)
	}
	if err := f.Sync(); err != nil {
		return writeErr(err)
	}
	if err := f.Close(); err != nil {
		return writeErr(err)
	}
	if store.IsURL(out) {
		if err := upload(ctx, f.Name(), out); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		out = store.Redact(out)
	} else if err := os.Rename(f.Name(), out); err != nil {
		return fmt.Errorf("export: rename %s to %s: %w", f.Name(), out, err)
	}
	for _, t := range info.Torn {
		fmt.Fprintf(env.stderr, "llmbatch: skipped a torn last line (the writer died mid-write): %s\n", t)
	}
	if unpriced > 0 {
		fmt.Fprintf(env.stderr, "llmbatch: warning: %d rows have a model with no price: their cost_usd is empty; add prices with --prices FILE\n", unpriced)
	}
	fmt.Fprintf(env.stderr, "wrote %d rows (%d records read) to %s\n", n, info.Lines-info.Marks, out)
	return nil
}

// upload copies the local file path to the object at url and removes the
// file.
func upload(ctx context.Context, path, url string) error {
	defer os.Remove(path)
	in, err := os.Open(path)
	if err != nil {
		return err
	}
	defer in.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // before Close, an upload that failed leaves no object
	w, err := store.Create(ctx, url)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, in); err != nil {
		cancel()
		w.Close()
		return fmt.Errorf("upload to %s: %w", store.Redact(url), err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("upload to %s: %w", store.Redact(url), err)
	}
	return nil
}

// exportWriteError marks a failed write of the export file inside the
// journal reader's callback, so that it is not taken for a bad journal.
type exportWriteError struct{ err error }

func (e *exportWriteError) Error() string { return e.err.Error() }
