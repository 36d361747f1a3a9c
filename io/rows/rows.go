// Package rows reads job inputs (JSONL, CSV/TSV, Parquet) one row at a time.
//
// Every reader streams: it holds one row (or, for Parquet, one row group's
// pages) in memory, never the whole file. Readers return io.EOF after the
// last row. A *RowError describes one bad row; it is not fatal, and the
// caller may call Next again to go on with the following row. Any other
// error is fatal to the reader.
package rows

import (
	"errors"
	"fmt"
)

// DefaultMaxRowBytes is the default limit on one row's encoded size (a JSONL
// line, a CSV record). Longer rows are reported as a *RowError and skipped.
const DefaultMaxRowBytes = 4 << 20

// Sentinel errors, for errors.Is. ErrRowTooLong, ErrInvalidUTF8,
// ErrFieldCount and ErrNotObject are reasons wrapped by a *RowError (one bad
// row); ErrEmptyInput, ErrHeader, ErrUnknownFormat and ErrUnknownColumn are
// wrapped by fatal errors.
var (
	ErrRowTooLong  = errors.New("row exceeds the size limit")
	ErrInvalidUTF8 = errors.New("invalid UTF-8")
	ErrFieldCount  = errors.New("wrong number of fields")
	ErrNotObject   = errors.New("line is not a JSON object")
	ErrEmptyInput  = errors.New("input has no rows")

	// ErrHeader is wrapped by the fatal error for a CSV header with an
	// empty, duplicate or non-UTF-8 column name.
	ErrHeader = errors.New("invalid header")
	// ErrUnknownFormat is wrapped by the error for an input whose format
	// cannot be told from its extension or from Options.Format.
	ErrUnknownFormat = errors.New("unknown input format")
	// ErrUnknownColumn is wrapped by the error for a Parquet projection
	// that names a column the file does not have.
	ErrUnknownColumn = errors.New("unknown column")
)

// Row is one input row.
type Row struct {
	// Index is the row's 0-based position among the input's data rows
	// (a header line is not a row; a bad row still takes an index).
	Index int64
	// Line is the 1-based line (JSONL, CSV) where the row starts, or 0
	// where lines do not apply (Parquet).
	Line int64
	// Fields holds the row's columns. JSON numbers are json.Number; nested
	// JSON values are map[string]any and []any; CSV cells are strings.
	Fields map[string]any
}

// RowError reports one bad row. Its Error text has the form
// "FILE:LINE: reason" (or "FILE: row N: reason" where lines do not apply).
type RowError struct {
	File  string // name of the input as the user gave it
	Line  int64  // 1-based line, 0 if unknown
	Index int64  // 0-based row index
	Err   error
	// Where overrides the position text, e.g. "row group 2 row 17" (Parquet).
	Where string
}

// Error returns "FILE:LINE: reason", "FILE: WHERE: reason" or
// "FILE: row N: reason".
func (e *RowError) Error() string {
	switch {
	case e.Where != "":
		return fmt.Sprintf("%s: %s: %v", e.File, e.Where, e.Err)
	case e.Line > 0:
		return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
	default:
		return fmt.Sprintf("%s: row %d: %v", e.File, e.Index, e.Err)
	}
}

// Unwrap returns the reason, so that errors.Is(err, ErrFieldCount) and
// the like work.
func (e *RowError) Unwrap() error { return e.Err }

// Reader is implemented by every input format.
type Reader interface {
	// Next returns the next row, a *RowError for a bad row (the reader
	// stays usable), io.EOF after the last row, or another (fatal) error.
	Next() (Row, error)
}
