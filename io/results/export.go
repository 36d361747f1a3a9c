package results

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/parquet-go/parquet-go"

	"github.com/llmbatch/llmbatch/io/embeddings"
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
	// Embedding is the vector of an embeddings answer (a body whose
	// object is "list"), a LIST of FLOAT; null for rows without one.
	// In CSV it is a JSON array.
	Embedding []float32 `parquet:"embedding,optional,list,zstd"`
}

// exportHeader is the CSV header, in the order of ExportRow's fields.
var exportHeader = []string{"key", "index", "status", "output_text", "model", "input_tokens",
	"cached_input_tokens", "output_tokens", "reasoning_tokens", "total_tokens", "cost_usd",
	"latency_ms", "attempts", "error_code", "error_message", "input_json", "embedding"}

// RecordCost prices one record's usage with table, as the exports show it:
// picodollars, ok false when its model has no price (or table is nil).
func RecordCost(rec *Record, table *prices.Table) (int64, bool) {
	if table == nil {
		return 0, false
	}
	p, ok := table.Lookup(rec.Model)
	if !ok {
		return 0, false
	}
	return int64(p.Cost(rec.Usage.InputTokens, rec.Usage.CachedInputTokens, rec.Usage.OutputTokens)), true
}

// NewExportRow flattens rec, pricing its usage with table (nil: unknown).
// rec needs the members ExportFields reads (AllFields does too).
func NewExportRow(rec *Record, table *prices.Table) (ExportRow, error) {
	row := ExportRow{
		Key: rec.CustomID, Index: rec.Index, Status: StatusOf(rec.Error).String(),
		InputTokens: rec.Usage.InputTokens, CachedInputTokens: rec.Usage.CachedInputTokens,
		OutputTokens: rec.Usage.OutputTokens, ReasoningTokens: rec.Usage.ReasoningTokens,
		TotalTokens: rec.Usage.TotalTokens, Attempts: int32(rec.Attempts),
		OutputText: nonEmpty(rec.OutputText), Model: nonEmpty(rec.Model),
	}
	if c, ok := RecordCost(rec, table); ok {
		row.CostUSD = &c
	}
	if rec.LatencyMS > 0 {
		l := rec.LatencyMS
		row.LatencyMS = &l
	}
	if rec.Error != nil {
		row.ErrorCode = nonEmpty(rec.Error.Code)
		row.ErrorMessage = nonEmpty(rec.Error.Message)
	}
	if rec.Response != nil && isEmbeddingList(rec.Response.Body) {
		v, err := embeddings.Vector(rec.Response.Body)
		switch {
		case err == nil:
			row.Embedding = v
		case rec.Error == nil:
			return row, fmt.Errorf("key %s: %w", rec.CustomID, err)
		}
	}
	text := rec.inputJSON
	if text == nil {
		var err error
		if text, err = encodeInput(rec.Input); err != nil {
			return row, fmt.Errorf("key %s: encode input columns: %w", rec.CustomID, err)
		}
	}
	if text != nil {
		s := string(text)
		row.InputJSON = &s
	}
	return row, nil
}

// isEmbeddingList reports whether body is an embeddings answer: an object
// whose "object" member is "list". It reads the members before that one
// only as far as needed to skip them.
func isEmbeddingList(body []byte) bool {
	p := lineScanner{b: body}
	p.ws()
	if !p.eat('{') {
		return false
	}
	for {
		p.ws()
		key, err := p.plainString()
		if err != nil {
			break
		}
		p.ws()
		if !p.eat(':') {
			return false
		}
		p.ws()
		if string(key) == "object" {
			v, err := p.plainString()
			if err != nil {
				break
			}
			return string(v) == "list"
		}
		if bytes.EqualFold(key, []byte("object")) || p.skip() != nil {
			break
		}
		p.ws()
		if !p.eat(',') {
			return false
		}
	}
	var b struct { // an escaped key or value: ask encoding/json
		Object string `json:"object"`
	}
	return json.Unmarshal(body, &b) == nil && b.Object == "list"
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

// parquetMaxFloats bounds the embedding values buffered in one row group:
// past it the row group ends early (50,000 rows of 3,072-dimension vectors
// would otherwise hold 600 MB).
const parquetMaxFloats = 8 << 20

type parquetExporter struct {
	w      *parquet.GenericWriter[ExportRow]
	buf    []ExportRow
	floats int // embedding values in the current row group
}

func (e *parquetExporter) Write(r ExportRow) error {
	e.buf = append(e.buf, r)
	e.floats += len(r.Embedding)
	if len(e.buf) >= parquetBatch || e.floats >= parquetMaxFloats {
		if err := e.flush(); err != nil {
			return err
		}
	}
	if e.floats >= parquetMaxFloats {
		e.floats = 0
		if err := e.w.Flush(); err != nil {
			return fmt.Errorf("write parquet: %w", err)
		}
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
	num []byte
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
		deref(r.ErrorCode), deref(r.ErrorMessage), deref(r.InputJSON), e.vector(r.Embedding))
	return e.w.Write(e.rec)
}

// vector formats v as a JSON array ("" for nil), each value the shortest
// decimal that reads back as the same float32; a value JSON cannot hold
// (NaN, ±Inf) is null.
func (e *csvExporter) vector(v []float32) string {
	if v == nil {
		return ""
	}
	b := append(e.num[:0], '[')
	for i, f := range v {
		if i > 0 {
			b = append(b, ',')
		}
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			b = append(b, "null"...)
			continue
		}
		b = strconv.AppendFloat(b, float64(f), 'g', -1, 32)
	}
	b = append(b, ']')
	e.num = b
	return string(b)
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
