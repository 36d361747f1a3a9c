package rows_test

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/llmbatch/llmbatch/io/rows"
)

func TestCSVReader(t *testing.T) {
	huge := "id,text\n1," + strings.Repeat("x", 10<<20) + "\n2,ok\n"
	tests := []struct {
		name        string
		fixture     string // file under testdata, or
		input       string // inline input
		comma       rune   // 0 means ','
		maxRowBytes int
		want        []want
		fatal       string // whole text of the fatal error ending the rows
		fatalIs     error
	}{{
		name:    "CRLF",
		fixture: "csv-crlf/input.csv",
		want: []want{
			{Line: 2, Index: 0, Fields: map[string]any{"id": "1", "text": "hello"}},
			{Line: 3, Index: 1, Fields: map[string]any{"id": "2", "text": "multi\nline"}},
			{Line: 5, Index: 2, Fields: map[string]any{"id": "3", "text": "end"}},
		},
	}, {
		name:    "BOM",
		fixture: "csv-bom/input.csv",
		want:    []want{{Line: 2, Index: 0, Fields: map[string]any{"id": "1", "text": "a"}}},
	}, {
		name:    "QuotedCommasAndNewlines",
		fixture: "csv-quoted/input.csv",
		want: []want{
			{Line: 2, Index: 0, Fields: map[string]any{"id": "1", "text": "a, b", "n": "x"}},
			{Line: 3, Index: 1, Fields: map[string]any{"id": "2", "text": "line one\nline two\nline three", "n": "y"}},
			{Line: 7, Index: 2, Fields: map[string]any{"id": "3", "text": `say "hi"`, "n": "z"}},
		},
	}, {
		name:    "FieldCountMidFile",
		fixture: "csv-fieldcount/input.csv",
		want: []want{
			{Line: 2, Index: 0, Fields: map[string]any{"a": "1", "b": "2", "c": "3", "d": "4"}},
			{Line: 3, Index: 1, Err: "data.csv:3: wrong number of fields: got 3, want 4", Is: rows.ErrFieldCount},
			{Line: 4, Index: 2, Fields: map[string]any{"a": "5", "b": "6", "c": "7", "d": "8"}},
		},
	}, {
		name:  "TooManyFields",
		input: "a,b\n1,2,3\n4,5\n",
		want: []want{
			{Line: 2, Index: 0, Err: "data.csv:2: wrong number of fields: got 3, want 2", Is: rows.ErrFieldCount},
			{Line: 3, Index: 1, Fields: map[string]any{"a": "4", "b": "5"}},
		},
	}, {
		name:    "InvalidUTF8",
		fixture: "csv-badutf8/input.csv",
		want: []want{
			{Line: 2, Index: 0, Fields: map[string]any{"id": "1", "text": "ok"}},
			{Line: 3, Index: 1, Err: `data.csv:3: column "text": invalid UTF-8`, Is: rows.ErrInvalidUTF8},
			{Line: 4, Index: 2, Fields: map[string]any{"id": "3", "text": "fine"}},
		},
	}, {
		name:    "BareQuote",
		fixture: "csv-barequote/input.csv",
		want: []want{
			{Line: 2, Index: 0, Err: `data.csv:2: column 4: bare " in non-quoted-field`, Is: csv.ErrBareQuote},
			{Line: 3, Index: 1, Fields: map[string]any{"id": "2", "text": "c"}},
		},
	}, {
		name:  "TextAfterClosingQuote",
		input: "id,text\n1,\"a\"b\n2,c\n",
		want: []want{
			{Line: 2, Index: 0, Err: `data.csv:2: column 5: extraneous or missing " in quoted-field`, Is: csv.ErrQuote},
			{Line: 3, Index: 1, Fields: map[string]any{"id": "2", "text": "c"}},
		},
	}, {
		name:  "UnclosedQuote",
		input: "id,text\n1,\"abc\n2,d\n",
		want: []want{
			{Line: 2, Index: 0, Err: `data.csv:2: line 3, column 5: extraneous or missing " in quoted-field`, Is: csv.ErrQuote},
		},
	}, {
		name:        "Oversized",
		input:       "id,text\n1,short\n2,this is much too long\n3,\"also\nmuch too long\"\n4,ok\n",
		maxRowBytes: 10,
		want: []want{
			{Line: 2, Index: 0, Fields: map[string]any{"id": "1", "text": "short"}},
			{Line: 3, Index: 1, Err: "data.csv:3: row exceeds the size limit (10 bytes)", Is: rows.ErrRowTooLong},
			{Line: 4, Index: 2, Err: "data.csv:4: row exceeds the size limit (10 bytes)", Is: rows.ErrRowTooLong},
			{Line: 6, Index: 3, Fields: map[string]any{"id": "4", "text": "ok"}},
		},
	}, {
		name:  "Oversized10MB",
		input: huge,
		want: []want{
			{Line: 2, Index: 0, Err: "data.csv:2: row exceeds the size limit (4194304 bytes)", Is: rows.ErrRowTooLong},
			{Line: 3, Index: 1, Fields: map[string]any{"id": "2", "text": "ok"}},
		},
	}, {
		name:        "AtTheLimit",
		input:       "id,text\n1,12345\r\n2,123456\n3,x",
		maxRowBytes: 7,
		want: []want{
			{Line: 2, Index: 0, Fields: map[string]any{"id": "1", "text": "12345"}},
			{Line: 3, Index: 1, Err: "data.csv:3: row exceeds the size limit (7 bytes)", Is: rows.ErrRowTooLong},
			{Line: 4, Index: 2, Fields: map[string]any{"id": "3", "text": "x"}},
		},
	}, {
		name:    "Empty",
		fixture: "csv-empty/input.csv",
		fatal:   "data.csv: input has no rows: the file has no header line",
		fatalIs: rows.ErrEmptyInput,
	}, {
		name:    "OnlyBlankLines",
		input:   "\n\r\n\n",
		fatal:   "data.csv: input has no rows: the file has no header line",
		fatalIs: rows.ErrEmptyInput,
	}, {
		name:    "HeaderOnly",
		fixture: "csv-headeronly/input.csv",
	}, {
		name:  "BlankLines",
		input: "\n\r\nid\n\n1\n\n",
		want:  []want{{Line: 5, Index: 0, Fields: map[string]any{"id": "1"}}},
	}, {
		name:  "NoFinalNewline",
		input: "id,text\n1,a\n2,b",
		want: []want{
			{Line: 2, Index: 0, Fields: map[string]any{"id": "1", "text": "a"}},
			{Line: 3, Index: 1, Fields: map[string]any{"id": "2", "text": "b"}},
		},
	}, {
		name:  "EmptyQuotedValue",
		input: "id\n\"\"\n",
		want:  []want{{Line: 2, Index: 0, Fields: map[string]any{"id": ""}}},
	}, {
		name:    "TSV",
		fixture: "tsv/input.tsv",
		comma:   '\t',
		want: []want{
			{Line: 2, Index: 0, Fields: map[string]any{"id": "1", "text": "hello, world"}},
			{Line: 3, Index: 1, Fields: map[string]any{"id": "2", "text": "quoted\ttab"}},
		},
	}, {
		name:  "MultiByteDelimiter",
		input: "a§b\n1§2\n\"x§y\"§z\n",
		comma: '§',
		want: []want{
			{Line: 2, Index: 0, Fields: map[string]any{"a": "1", "b": "2"}},
			{Line: 3, Index: 1, Fields: map[string]any{"a": "x§y", "b": "z"}},
		},
	}, {
		name:    "DuplicateHeader",
		input:   "a,b,a\n1,2,3\n",
		fatal:   `data.csv:1: invalid header: duplicate column name "a" (columns 1 and 3)`,
		fatalIs: rows.ErrHeader,
	}, {
		name:    "EmptyHeaderName",
		input:   "a,,c\n1,2,3\n",
		fatal:   "data.csv:1: invalid header: column 2 has an empty name",
		fatalIs: rows.ErrHeader,
	}, {
		name:    "InvalidUTF8Header",
		input:   "a,b\xff\n1,2\n",
		fatal:   "data.csv:1: invalid header: column 2: invalid UTF-8",
		fatalIs: rows.ErrInvalidUTF8,
	}, {
		name:    "BadQuoteInHeader",
		input:   "a,\"b\n",
		fatal:   `data.csv:1: invalid header: column 6: extraneous or missing " in quoted-field`,
		fatalIs: csv.ErrQuote,
	}, {
		name:  "InvalidDelimiter",
		input: "a\n1\n",
		comma: '"',
		fatal: `read data.csv: invalid delimiter '"'`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			input := []byte(tt.input)
			if tt.fixture != "" {
				input = readFixture(t, tt.fixture)
			}
			comma := tt.comma
			if comma == 0 {
				comma = ','
			}
			r := rows.NewCSVReader(bytes.NewReader(input), "data.csv", comma)
			r.MaxRowBytes = tt.maxRowBytes
			got, err := readAll(t, r)
			checkResults(t, got, tt.want)
			if tt.fatal == "" {
				if err != nil {
					t.Fatalf("Next() = %v, want io.EOF", err)
				}
				return
			}
			if err == nil || err.Error() != tt.fatal {
				t.Fatalf("Next() = %v, want fatal error %q", err, tt.fatal)
			}
			if tt.fatalIs != nil && !errors.Is(err, tt.fatalIs) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.fatalIs)
			}
			if _, again := r.Next(); again == nil || again.Error() != err.Error() {
				t.Errorf("Next() after a fatal error = %v, want it again", again)
			}
		})
	}
}

func TestCSVReader_Header(t *testing.T) {
	r := rows.NewCSVReader(strings.NewReader("\xef\xbb\xbfid,text\n1,a\n"), "data.csv", ',')
	h, err := r.Header()
	if got, want := h, []string{"id", "text"}; err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("Header() = %q, %v, want %q", got, err, want)
	}
	row, err := r.Next()
	if got, want := row.Fields, map[string]any{"id": "1", "text": "a"}; err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("Next() = %v, %v, want %v", got, err, want)
	}
}

// errReader returns some bytes, then an error.
type errReader struct {
	data []byte
	err  error
}

func (r *errReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestCSVReader_ReadError(t *testing.T) {
	boom := errors.New("boom")
	r := rows.NewCSVReader(&errReader{data: []byte("id\n1\n2"), err: boom}, "data.csv", ',')
	got, err := readAll(t, r)
	checkResults(t, got, []want{{Line: 2, Index: 0, Fields: map[string]any{"id": "1"}}})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "data.csv") {
		t.Errorf("Next() = %v, want an error wrapping %v naming the file", err, boom)
	}
}

// csvCommas are the delimiters FuzzCSVRows picks from.
var csvCommas = []rune{',', '\t', ';', '§'}

// FuzzCSVRows checks that CSVReader never panics or hangs, that it finds
// the same records at the same lines as encoding/csv reading the whole
// input, that a smaller MaxRowBytes only turns rows into ErrRowTooLong,
// and that its rows survive a csv.Writer -> CSVReader round trip.
func FuzzCSVRows(f *testing.F) {
	for _, b := range fixtures(f, "csv-*/input.csv") {
		f.Add(b, uint8(0))
	}
	for _, b := range fixtures(f, "tsv/input.tsv") {
		f.Add(b, uint8(1))
	}
	f.Add([]byte("a§b\n1§2\n\"x§y\"§z\n\"\"§\xc2"), uint8(3))
	f.Add([]byte("a,b\n\"1\"\r\n\r,\"\"\"\n\r"), uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, c uint8) {
		comma := csvCommas[int(c)%len(csvCommas)]
		got, fatal := readCSV(t, data, comma, 0)

		// encoding/csv over the whole input, BOM dropped.
		plain := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))))
		plain.Comma = comma
		plain.FieldsPerRecord = -1
		var header []string
		headerErr := false
		records := 0
		for i := 0; ; i++ {
			rec, err := plain.Read()
			if err == io.EOF {
				if i == 0 {
					if !errors.Is(fatal, rows.ErrEmptyInput) {
						t.Fatalf("no records: Next() = %v, want ErrEmptyInput", fatal)
					}
					return
				}
				records = i
				break
			}
			var pe *csv.ParseError
			if err != nil && !errors.As(err, &pe) {
				t.Fatalf("csv.Read() = %v", err)
			}
			if i == 0 {
				header = append([]string(nil), rec...)
				headerErr = err != nil || !validHeader(header)
				if headerErr {
					if !errors.Is(fatal, rows.ErrHeader) {
						t.Fatalf("bad header %q (%v): Next() = %v, want ErrHeader", rec, err, fatal)
					}
					return
				}
				continue
			}
			if i-1 >= len(got) {
				t.Fatalf("record %d (%q, %v): missing, CSVReader ended with %v", i, rec, err, fatal)
			}
			g := got[i-1]
			var line int
			if pe != nil {
				line = pe.StartLine
			} else {
				line, _ = plain.FieldPos(0)
			}
			if g.Row.Line != int64(line) || g.Row.Index != int64(i-1) {
				t.Fatalf("record %d: Line, Index = %d, %d, want %d, %d", i, g.Row.Line, g.Row.Index, line, i-1)
			}
			switch {
			case pe != nil:
				if !errors.Is(g.Err, pe.Err) {
					t.Fatalf("record %d: Next() = %v, want %v", i, g.Err, pe)
				}
			case len(rec) != len(header):
				if !errors.Is(g.Err, rows.ErrFieldCount) {
					t.Fatalf("record %d: Next() = %v, want ErrFieldCount", i, g.Err)
				}
			case !allValidUTF8(rec):
				if !errors.Is(g.Err, rows.ErrInvalidUTF8) {
					t.Fatalf("record %d: Next() = %v, want ErrInvalidUTF8", i, g.Err)
				}
			default:
				if want := fieldsOf(header, rec); g.Err != nil || !reflect.DeepEqual(g.Row.Fields, want) {
					t.Fatalf("record %d: Next() = %q, %v, want %q", i, g.Row.Fields, g.Err, want)
				}
			}
		}
		if fatal != nil {
			t.Fatalf("Next() = %v, want io.EOF", fatal)
		}
		if len(got) != records-1 {
			t.Fatalf("CSVReader gave %d results, encoding/csv %d records after the header", len(got), records-1)
		}

		// A small limit: each result is ErrRowTooLong or as before.
		small, smallFatal := readCSV(t, data, comma, 8)
		if smallFatal == nil {
			if len(small) != len(got) {
				t.Fatalf("MaxRowBytes 8: %d results, want %d", len(small), len(got))
			}
			for i, s := range small {
				if errors.Is(s.Err, rows.ErrRowTooLong) {
					continue
				}
				if g := got[i]; s.Row.Line != g.Row.Line || !reflect.DeepEqual(s.Row.Fields, g.Row.Fields) || errText(s.Err) != errText(g.Err) {
					t.Fatalf("MaxRowBytes 8: result %d = %+v, %v, want %+v, %v", i, s.Row, s.Err, g.Row, g.Err)
				}
			}
		} else if !errors.Is(smallFatal, rows.ErrRowTooLong) {
			t.Fatalf("MaxRowBytes 8: Next() = %v", smallFatal)
		}

		// Round trip through csv.Writer. Not for a header that encoding/csv
		// cannot write back: a first name with a leading U+FEFF reads back
		// as a byte order mark, and a quoted "\r\n" reads back as "\n".
		if strings.HasPrefix(header[0], "\ufeff") || strings.Contains(strings.Join(header, ""), "\r\n") {
			return
		}
		var buf bytes.Buffer
		w := csv.NewWriter(&buf)
		w.Comma = comma
		w.Write(header)
		var wrote []map[string]any
		for _, g := range got {
			if g.Err != nil {
				continue
			}
			rec := make([]string, len(header))
			crlf := false
			for j, h := range header {
				rec[j] = g.Row.Fields[h].(string)
				crlf = crlf || strings.Contains(rec[j], "\r\n")
			}
			if crlf || len(rec) == 1 && rec[0] == "" {
				// encoding/csv cannot round-trip these: it reads a quoted
				// "\r\n" as "\n", and csv.Writer writes a record of one
				// empty field as a blank line, which readers skip.
				continue
			}
			w.Write(rec)
			wrote = append(wrote, g.Row.Fields)
		}
		w.Flush()
		if err := w.Error(); err != nil {
			t.Fatalf("csv.Writer: %v", err)
		}
		back, err := readCSV(t, buf.Bytes(), comma, 0)
		if err != nil {
			t.Fatalf("round trip: Next() = %v\n%q", err, buf.Bytes())
		}
		if len(back) != len(wrote) {
			t.Fatalf("round trip: %d rows, want %d\n%q", len(back), len(wrote), buf.Bytes())
		}
		for i, b := range back {
			if b.Err != nil || !reflect.DeepEqual(b.Row.Fields, wrote[i]) {
				t.Fatalf("round trip: row %d = %q, %v, want %q", i, b.Row.Fields, b.Err, wrote[i])
			}
		}
	})
}

// readCSV reads data with a CSVReader.
func readCSV(t *testing.T, data []byte, comma rune, maxRowBytes int) ([]result, error) {
	r := rows.NewCSVReader(bytes.NewReader(data), "fuzz.csv", comma)
	r.MaxRowBytes = maxRowBytes
	return readAll(t, r)
}

func validHeader(h []string) bool {
	seen := map[string]bool{}
	for _, s := range h {
		if s == "" || seen[s] || !utf8.ValidString(s) {
			return false
		}
		seen[s] = true
	}
	return true
}

func allValidUTF8(rec []string) bool {
	for _, s := range rec {
		if !utf8.ValidString(s) {
			return false
		}
	}
	return true
}

func fieldsOf(header, rec []string) map[string]any {
	m := make(map[string]any, len(header))
	for i, h := range header {
		m[h] = rec[i]
	}
	return m
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
