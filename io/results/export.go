package results

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/parquet-go/parquet-go"

	"github.com/llmbatch/llmbatch/io/prices"
)

// ExportRow is one row of an export: a key's latest record, flattened.
// Its parquet tags are the Parquet schema: optional (nullable) columns are
// null where the record has no value, every column is zstd-compressed, and
// CostUSD is a DECIMAL(18,12) holding exact picodollars.
type ExportRow struct {
	Key               string  `parquet:"key,zstd"`
	Index             int64   `parquet:"index,zstd"`
	Status            string  `parquet:"status,zstd,dict"` // ok, failed or retryable
	OutputText        *string `parquet:"output_text,optional,zstd"`
	Model             *string `parquet:"model,optional,zstd,dict"`
	InputTokens       int64   `parquet:"input_tokens,zstd"`
	CachedInputTokens int64   `parquet:"cached_input_tokens,zstd"`
	OutputTokens      int64   `parquet:"output_tokens,zstd"`
	ReasoningTokens   int64   `parquet:"reasoning_tokens,zstd"`
	TotalTokens       int64   `parquet:"total_tokens,zstd"`
	// CostUSD is the row's cost in picodollars (DECIMAL scale 12); null
	// when the model has no price.
	CostUSD      *int64  `parquet:"cost_usd,optional,zstd,decimal(12:18)"`
	LatencyMS    *int64  `parquet:"latency_ms,optional,zstd"` // null when no answer came
	Attempts     int32   `parquet:"attempts,zstd"`
	ErrorCode    *string `parquet:"error_code,optional,zstd,dict"`
	ErrorMessage *string `parquet:"error_message,optional,zstd"`
	// InputJSON holds the record's kept input columns as one JSON object,
	// in a STRING column (a fixed schema cannot know a job's columns in
	// advance; parquet-go v0.32 mishandles an optional JSON-typed column).
	InputJSON *string `parquet:"input_json,optional,zstd"`
}

// exportHeader is the CSV header, in the order of ExportRow's fields.
var exportHeader = []string{"key", "index", "status", "output_text", "model", "input_tokens",
	"cached_input_tokens", "output_tokens", "reasoning_tokens", "total_tokens", "cost_usd",
	"latency_ms", "attempts", "error_code", "error_message", "input_json"}

// NewExportRow flattens rec, pricing its usage with table (nil: unknown).
func NewExportRow(rec *Record, table *prices.Table) (ExportRow, error) {
	row := ExportRow{
		Key: rec.CustomID, Index: rec.Index, Status: StatusOf(rec.Error).String(),
		InputTokens: rec.Usage.InputTokens, CachedInputTokens: rec.Usage.CachedInputTokens,
		OutputTokens: rec.Usage.OutputTokens, ReasoningTokens: rec.Usage.ReasoningTokens,
		TotalTokens: rec.Usage.TotalTokens, Attempts: int32(rec.Attempts),
		OutputText: nonEmpty(rec.OutputText), Model: nonEmpty(rec.Model),
	}
	if table != nil {
		if p, ok := table.Lookup(rec.Model); ok {
			c := int64(p.Cost(rec.Usage.InputTokens, rec.Usage.CachedInputTokens, rec.Usage.OutputTokens))
			row.CostUSD = &c
		}
	}
	if rec.LatencyMS > 0 {
		l := rec.LatencyMS
		row.LatencyMS = &l
	}
	if rec.Error != nil {
		row.ErrorCode = nonEmpty(rec.Error.Code)
		row.ErrorMessage = nonEmpty(rec.Error.Message)
	}
	if len(rec.Input) > 0 {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(rec.Input); err != nil {
			return row, fmt.Errorf("key %s: encode input columns: %w", rec.CustomID, err)
		}
		s := string(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
		row.InputJSON = &s
	}
	return row, nil
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// Exporter writes ExportRows to a file format. It is not safe for
// concurrent use; Close flushes it but does not close the underlying
// writer.
type Exporter interface {
	Write(ExportRow) error
	Close() error
}

// Export formats.
const (
	FormatParquet = "parquet"
	FormatCSV     = "csv"
)

// NewExporter returns an Exporter writing format (FormatParquet or
// FormatCSV) to w. Parquet rows are written in row groups of
// ParquetRowGroup rows, so memory stays bounded whatever the journal's size.
func NewExporter(w io.Writer, format string) (Exporter, error) {
	switch format {
	case FormatParquet:
		return &parquetExporter{w: parquet.NewGenericWriter[ExportRow](w,
			parquet.MaxRowsPerRowGroup(ParquetRowGroup),
			parquet.CreatedBy("llmbatch", "", ""))}, nil
	case FormatCSV:
		cw := csv.NewWriter(w)
		if err := cw.Write(exportHeader); err != nil {
			return nil, err
		}
		return &csvExporter{w: cw}, nil
	}
	return nil, fmt.Errorf("export: unknown format %q (want parquet or csv)", format)
}

// ParquetRowGroup is the number of rows in each Parquet row group.
const ParquetRowGroup = 50_000

// parquetBatch is how many rows the Parquet exporter hands the writer at once.
const parquetBatch = 512

type parquetExporter struct {
	w   *parquet.GenericWriter[ExportRow]
	buf []ExportRow
}

func (e *parquetExporter) Write(r ExportRow) error {
	e.buf = append(e.buf, r)
	if len(e.buf) >= parquetBatch {
		return e.flush()
	}
	return nil
}

func (e *parquetExporter) flush() error {
	if len(e.buf) == 0 {
		return nil
	}
	if _, err := e.w.Write(e.buf); err != nil {
		return fmt.Errorf("write parquet: %w", err)
	}
	clear(e.buf)
	e.buf = e.buf[:0]
	return nil
}

func (e *parquetExporter) Close() error {
	if err := e.flush(); err != nil {
		return err
	}
	if err := e.w.Close(); err != nil {
		return fmt.Errorf("write parquet: %w", err)
	}
	return nil
}

type csvExporter struct {
	w   *csv.Writer
	rec []string
}

func (e *csvExporter) Write(r ExportRow) error {
	cost := ""
	if r.CostUSD != nil {
		cost = prices.Money(*r.CostUSD).Decimal()
	}
	lat := ""
	if r.LatencyMS != nil {
		lat = strconv.FormatInt(*r.LatencyMS, 10)
	}
	e.rec = append(e.rec[:0], r.Key, strconv.FormatInt(r.Index, 10), r.Status, deref(r.OutputText),
		deref(r.Model), itoa(r.InputTokens), itoa(r.CachedInputTokens), itoa(r.OutputTokens),
		itoa(r.ReasoningTokens), itoa(r.TotalTokens), cost, lat, itoa(int64(r.Attempts)),
		deref(r.ErrorCode), deref(r.ErrorMessage), deref(r.InputJSON))
	return e.w.Write(e.rec)
}

func (e *csvExporter) Close() error {
	e.w.Flush()
	return e.w.Error()
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
