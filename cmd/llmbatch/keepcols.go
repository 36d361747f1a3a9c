package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/llmbatch/llmbatch/io/rows"
	"github.com/llmbatch/llmbatch/pipeline"
)

// keepColumnsPeek is how many JSONL rows are read, before anything is
// sent, for the columns --keep-columns may name.
const keepColumnsPeek = 1000

// checkKeepColumns refuses (usage error) a --keep-columns that names a
// column the input does not have, before anything is sent, naming the
// columns it has. What the input has is known up front from a CSV/TSV
// header or a Parquet schema; a JSONL row may have any keys, so there it
// is the keys of the first keepColumnsPeek rows (all of them in a
// smaller file): a column that none of them has is refused too. A stream
// (stdin, a FIFO) is not read ahead, so it is not checked.
func checkKeepColumns(cfg *pipeline.Config, cmd string) error {
	if len(cfg.KeepColumns) == 0 || cfg.Input == "-" {
		return nil
	}
	if st, err := os.Stat(cfg.Input); err != nil || !st.Mode().IsRegular() {
		return nil // the run reports a missing input; a stream is read once
	}
	opts := rows.Options{Format: cfg.InputFormat, Delimiter: cfg.Delimiter, MaxRowBytes: cfg.MaxRowBytes}
	r, c, err := rows.Open(cfg.Input, opts)
	if err != nil {
		return nil // the run reports it
	}
	defer c.Close()
	var (
		have  []string
		where string // what was read, for the message
	)
	switch rr := r.(type) {
	case *rows.CSVReader:
		if have, err = rr.Header(); err != nil {
			return nil
		}
		where = "its header has"
	case *rows.ParquetReader:
		have, where = rr.Columns(), "its schema has"
	default:
		seen := map[string]bool{}
		n := 0
		for ; n < keepColumnsPeek; n++ {
			row, err := r.Next()
			if err == io.EOF {
				break
			}
			var rowErr *rows.RowError
			if errors.As(err, &rowErr) {
				continue
			}
			if err != nil {
				return nil
			}
			for k := range row.Fields {
				seen[k] = true
			}
		}
		for k := range seen {
			have = append(have, k)
		}
		slices.Sort(have)
		where = "its rows have"
		if n == keepColumnsPeek {
			where = fmt.Sprintf("its first %d rows have", keepColumnsPeek)
		}
	}
	var missing []string
	for _, k := range cfg.KeepColumns {
		if !slices.Contains(have, k) {
			missing = append(missing, fmt.Sprintf("%q", k))
		}
	}
	if len(missing) == 0 {
		return nil
	}
	cols := strings.Join(have, ", ")
	if len(have) == 0 {
		cols = "none"
	}
	what := "a column"
	if len(missing) > 1 {
		what = "columns"
	}
	return usagef("%s: --keep-columns names %s %s does not have: %s; %s: %s", cmd, what, cfg.Input, strings.Join(missing, ", "), where, cols)
}
