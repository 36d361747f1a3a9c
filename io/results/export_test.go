package results_test

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"github.com/llmbatch/llmbatch/io/prices"
	"github.com/llmbatch/llmbatch/io/results"
)

func exportFile(tb testing.TB, journal, format string) []byte {
	tb.Helper()
	var buf bytes.Buffer
	ex, err := results.NewExporter(&buf, format)
	if err != nil {
		tb.Fatal(err)
	}
	table := prices.Default()
	_, err = results.ReadLatest([]string{journal}, results.AllFields, func(rec *results.Record) error {
		row, err := results.NewExportRow(rec, table)
		if err != nil {
			return err
		}
		return ex.Write(row)
	})
	if err != nil {
		tb.Fatal(err)
	}
	if err := ex.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// wantExport is dupJournal's latest record per key, column by column;
// "NULL" is a null value.
var wantExport = map[string][]string{
	"key":                 {"a", "b", "c", "d"},
	"index":               {"0", "1", "2", "3"},
	"status":              {"ok", "ok", "ok", "failed"},
	"output_text":         {"positive", "negative", "neutral", "NULL"},
	"model":               {"gpt-5-mini-2025-08-07", "gpt-5-mini", "gpt-4o-mini", "NULL"},
	"input_tokens":        {"1000", "400", "300", "0"},
	"cached_input_tokens": {"200", "0", "100", "0"},
	"output_tokens":       {"500", "50", "80", "0"},
	"reasoning_tokens":    {"300", "0", "0", "0"},
	"total_tokens":        {"1500", "450", "380", "0"},
	// picodollars, by hand: a = 800·0.25 + 200·0.025 + 500·2.00 per 1M, ...
	"cost_usd": {
		fmt.Sprint(800*miniIn + 200*miniCached + 500*miniOut),
		fmt.Sprint(400*miniIn + 50*miniOut),
		fmt.Sprint(200*fourOIn + 100*fourOCached + 80*fourOOut),
		"NULL", // no model: no price
	},
	"latency_ms":    {"100", "300", "150", "NULL"},
	"attempts":      {"1", "3", "1", "0"},
	"error_code":    {"NULL", "NULL", "NULL", "bad_input"},
	"error_message": {"NULL", "NULL", "NULL", "in.jsonl:4: bad json"},
	"input_json":    {`{"n":12345678901234567,"text":"great"}`, "NULL", "NULL", "NULL"},
	"embedding":     {"NULL", "NULL", "NULL", "NULL"}, // no embeddings answer
}

func TestExport_ParquetColumnByColumn(t *testing.T) {
	journal := writeFile(t, t.TempDir(), "results.jsonl", dupJournal)
	data := exportFile(t, journal, results.FormatParquet)
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("OpenFile() error = %v", err)
	}
	if got := f.NumRows(); got != 4 {
		t.Fatalf("NumRows() = %d, want 4", got)
	}
	schema := f.Schema()
	for i, col := range schema.Columns() {
		name := col[0]
		leaf, _ := schema.Lookup(col...)
		wantOptional := slices.Contains(wantExport[name], "NULL") || name == "output_text" || name == "model" ||
			name == "cost_usd" || name == "latency_ms" || name == "error_code" || name == "error_message" || name == "input_json"
		wantOptional = wantOptional && name != "embedding" // the list is optional, its elements are not
		if leaf.Node.Optional() != wantOptional {
			t.Errorf("column %s: optional = %v, want %v", name, leaf.Node.Optional(), wantOptional)
		}
		var got []string
		for _, rg := range f.RowGroups() {
			chunk := rg.ColumnChunks()[i]
			if chunk.Type().Kind() != parquet.Boolean { // every column is zstd
				if c := f.Metadata().RowGroups[0].Columns[i].MetaData.Codec; c.String() != "ZSTD" {
					t.Errorf("column %s: codec %v, want ZSTD", name, c)
				}
			}
			pages := chunk.Pages()
			for {
				p, err := pages.ReadPage()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatalf("column %s: ReadPage() error = %v", name, err)
				}
				vals := make([]parquet.Value, p.NumValues())
				n, err := p.Values().ReadValues(vals)
				if err != nil && !errors.Is(err, io.EOF) {
					t.Fatalf("column %s: ReadValues() error = %v", name, err)
				}
				for _, v := range vals[:n] {
					if v.IsNull() {
						got = append(got, "NULL")
					} else {
						got = append(got, v.String())
					}
				}
			}
			pages.Close()
		}
		if want := wantExport[name]; !slices.Equal(got, want) {
			t.Errorf("column %s = %q, want %q", name, got, want)
		}
	}
	if got, want := len(schema.Columns()), len(wantExport); got != want {
		t.Errorf("%d columns, want %d", got, want)
	}
	cost, _ := schema.Lookup("cost_usd")
	if lt := cost.Node.Type().LogicalType(); lt == nil || func() bool { d, ok := lt.Value.(*format.DecimalType); return !ok || d.Scale != 12 || d.Precision != 18 }() {
		t.Errorf("cost_usd logical type = %v, want DECIMAL(18,12)", lt)
	}
	if lt := func() any { c, _ := schema.Lookup("input_json"); return c.Node.Type().LogicalType() }(); fmt.Sprint(lt) != "STRING" {
		t.Errorf("input_json logical type = %v, want STRING", lt)
	}
}

func TestExport_CSV(t *testing.T) {
	journal := writeFile(t, t.TempDir(), "results.jsonl", dupJournal)
	recs, err := csv.NewReader(bytes.NewReader(exportFile(t, journal, results.FormatCSV))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 5 {
		t.Fatalf("%d CSV lines, want header + 4", len(recs))
	}
	for i, name := range recs[0] {
		want := slices.Clone(wantExport[name])
		for j := range want {
			switch {
			case want[j] == "NULL":
				want[j] = ""
			case name == "cost_usd":
				var pico int64
				fmt.Sscan(want[j], &pico)
				want[j] = prices.Money(pico).Decimal()
			}
		}
		var got []string
		for _, r := range recs[1:] {
			got = append(got, r[i])
		}
		if !slices.Equal(got, want) {
			t.Errorf("CSV column %s = %q, want %q", name, got, want)
		}
	}
	if got, want := recs[1][slices.Index(recs[0], "cost_usd")], "0.001205"; got != want {
		t.Errorf("row a cost_usd = %s, want %s", got, want)
	}
}

func TestExport_ParquetLarge(t *testing.T) {
	// Many batches of the writer (kept below a row group to stay fast
	// under -race).
	dir := t.TempDir()
	path := filepath.Join(dir, "big.jsonl")
	var b strings.Builder
	const n = 5*512 + 77
	for i := range n {
		fmt.Fprintf(&b, `{"custom_id":"k%d","index":%d,"output_text":"x","usage":{"input_tokens":%d,"output_tokens":1},"model":"gpt-5-nano","attempts":1}`+"\n", i, i, i%50)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	data := exportFile(t, path, results.FormatParquet)
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if f.NumRows() != n {
		t.Errorf("NumRows = %d, want %d", f.NumRows(), n)
	}
	r := parquet.NewGenericReader[results.ExportRow](bytes.NewReader(data))
	rows := make([]results.ExportRow, 1000)
	var sumIn int64
	var read int
	for {
		k, err := r.Read(rows)
		for _, row := range rows[:k] {
			sumIn += row.InputTokens
		}
		read += k
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	var want int64
	for i := range int64(n) {
		want += i % 50
	}
	if read != n || sumIn != want {
		t.Errorf("read %d rows, input sum %d, want %d, %d", read, sumIn, n, want)
	}
}
