package rows_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/llmbatch/llmbatch/io/rows"
)

func TestFormatOf(t *testing.T) {
	tests := []struct {
		path   string
		format string // Options.Format
		want   string
		err    string
	}{
		{path: "in.jsonl", want: "jsonl"},
		{path: "dir.v2/in.NDJSON", want: "jsonl"},
		{path: "in.csv", want: "csv"},
		{path: "in.TSV", want: "tsv"},
		{path: "in.parquet", want: "parquet"},
		{path: "-", want: "jsonl"},
		{path: "in.txt", format: "CSV", want: "csv"},
		{path: "-", format: "ndjson", want: "jsonl"},
		{path: "x.txt", err: `unknown input format for "x.txt": use .jsonl, .ndjson, .csv, .tsv or .parquet, or --input-format`},
		{path: "in.json", err: `unknown input format for "in.json": use .jsonl, .ndjson, .csv, .tsv or .parquet, or --input-format`},
		{path: "noext", err: `unknown input format for "noext": use .jsonl, .ndjson, .csv, .tsv or .parquet, or --input-format`},
		{path: "in.csv", format: "xml", err: `unknown input format "xml": use jsonl, csv, tsv or parquet`},
	}
	for _, tt := range tests {
		got, err := rows.FormatOf(tt.path, rows.Options{Format: tt.format})
		if got != tt.want || errText(err) != tt.err {
			t.Errorf("FormatOf(%q, %q) = %q, %v, want %q, %q", tt.path, tt.format, got, err, tt.want, tt.err)
		}
		if err != nil && !errors.Is(err, rows.ErrUnknownFormat) {
			t.Errorf("FormatOf(%q): errors.Is(%v, ErrUnknownFormat) = false", tt.path, err)
		}
	}
}

// writeFile writes data to name in dir and returns its path.
func writeFile(tb testing.TB, dir, name string, data []byte) string {
	tb.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		tb.Fatal(err)
	}
	return p
}

func TestOpenAndCount(t *testing.T) {
	dir := t.TempDir()
	pq := writeParquet(t, pqRows(7), 3)
	tests := []struct {
		name      string
		path      string
		opts      rows.Options
		wantCount int64
		wantRows  int // results (rows and *RowErrors)
		first     map[string]any
	}{{
		name:      "JSONL",
		path:      writeFile(t, dir, "in.jsonl", []byte("\xef\xbb\xbf{\"a\":\"x\"}\n\n  \n{bad}\n{\"a\":\"y\"}")),
		wantCount: 3,
		wantRows:  3,
		first:     map[string]any{"a": "x"},
	}, {
		name:      "JSONLTooLongLine",
		path:      writeFile(t, dir, "long.ndjson", []byte("{\"a\":\"0123456789\"}\n{\"a\":\"x\"}\n")),
		opts:      rows.Options{MaxRowBytes: 10},
		wantCount: 2,
		wantRows:  2,
	}, {
		name:      "CSV",
		path:      writeFile(t, dir, "in.csv", []byte("a,b\n\"x\ny\",1\n\n2\n\"z\",3")),
		wantCount: 3,
		wantRows:  3,
		first:     map[string]any{"a": "x\ny", "b": "1"},
	}, {
		name:      "CSVDelimiter",
		path:      writeFile(t, dir, "semi.csv", []byte("a;b\nx;1\n")),
		opts:      rows.Options{Delimiter: ';'},
		wantCount: 1,
		wantRows:  1,
		first:     map[string]any{"a": "x", "b": "1"},
	}, {
		name:      "TSV",
		path:      writeFile(t, dir, "in.tsv", []byte("a\tb\nx,y\t1\n")),
		wantCount: 1,
		wantRows:  1,
		first:     map[string]any{"a": "x,y", "b": "1"},
	}, {
		name:      "FormatOverride",
		path:      writeFile(t, dir, "data.txt", []byte("a\tb\nx\t1\n")),
		opts:      rows.Options{Format: "tsv"},
		wantCount: 1,
		wantRows:  1,
		first:     map[string]any{"a": "x", "b": "1"},
	}, {
		name:      "CSVHeaderOnly",
		path:      writeFile(t, dir, "header.csv", []byte("a,b\n")),
		wantCount: 0,
	}, {
		name:      "Parquet",
		path:      writeFile(t, dir, "in.parquet", pq),
		opts:      rows.Options{Columns: []string{"id", "name"}},
		wantCount: 7,
		wantRows:  7,
		first:     map[string]any{"id": int64(0), "name": "row 0 é"},
	}, {
		name:      "Stdin",
		path:      "-",
		opts:      rows.Options{Stdin: strings.NewReader("{\"a\":\"x\"}\n")},
		wantCount: -1,
		wantRows:  1,
		first:     map[string]any{"a": "x"},
	}, {
		name:      "StdinCSV",
		path:      "-",
		opts:      rows.Options{Format: "csv", Stdin: strings.NewReader("a\nx\n")},
		wantCount: -1,
		wantRows:  1,
		first:     map[string]any{"a": "x"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := rows.Count(tt.path, tt.opts)
			if err != nil || n != tt.wantCount {
				t.Errorf("Count() = %d, %v, want %d", n, err, tt.wantCount)
			}
			r, c, err := rows.Open(tt.path, tt.opts)
			if err != nil {
				t.Fatalf("Open() = %v", err)
			}
			got, err := readAll(t, r)
			if err != nil {
				t.Fatalf("Next() = %v", err)
			}
			if err := c.Close(); err != nil {
				t.Errorf("Close() = %v", err)
			}
			if len(got) != tt.wantRows {
				t.Fatalf("read %d results, want %d", len(got), tt.wantRows)
			}
			if tt.first != nil && !reflect.DeepEqual(got[0].Row.Fields, tt.first) {
				t.Errorf("first row = %#v, want %#v", got[0].Row.Fields, tt.first)
			}
		})
	}
}

func TestOpen_Errors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		path string
		opts rows.Options
		want []string // substrings of the error
	}{
		{"Missing", filepath.Join(dir, "missing.csv"), rows.Options{}, []string{"missing.csv", "no such file"}},
		{"UnknownExtension", "x.txt", rows.Options{}, []string{`unknown input format for "x.txt"`}},
		{"ParquetStdin", "-", rows.Options{Format: "parquet"}, []string{"stdin"}},
		{"BadDelimiter", writeFile(t, dir, "d.csv", []byte("a\n")), rows.Options{Delimiter: '\n'}, []string{"d.csv", "invalid delimiter"}},
		{"CorruptParquet", writeFile(t, dir, "bad.parquet", []byte("PAR1 this is not a parquet file")), rows.Options{}, []string{"bad.parquet"}},
		{"UnknownColumn", writeFile(t, dir, "in.parquet", writeParquet(t, pqRows(1), 1)), rows.Options{Columns: []string{"nope"}}, []string{"in.parquet", `unknown column "nope"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := rows.Open(tt.path, tt.opts)
			if err == nil {
				t.Fatal("Open() = nil error")
			}
			for _, s := range tt.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("Open() = %q, want it to contain %q", err, s)
				}
			}
		})
	}
	if _, err := rows.Count(filepath.Join(dir, "bad.parquet"), rows.Options{}); err == nil || !strings.Contains(err.Error(), "bad.parquet") {
		t.Errorf("Count(bad.parquet) = %v, want an error naming the file", err)
	}
}
