package rows_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/llmbatch/llmbatch/io/rows"
)

func TestJSONLReader(t *testing.T) {
	huge := `{"text":"` + strings.Repeat("x", 10<<20) + "\"}\n{\"a\":1}\n"
	n := func(s string) json.Number { return json.Number(s) }
	tests := []struct {
		name        string
		fixture     string // file under testdata, or
		input       string // inline input
		maxRowBytes int
		want        []want
	}{{
		name:    "MalformedMidFile",
		fixture: "jsonl-bad-mid/input.jsonl",
		want: []want{
			{Line: 1, Index: 0, Fields: map[string]any{"id": n("1")}},
			{Line: 2, Index: 1, Err: "data.jsonl:2: invalid JSON: unexpected EOF"},
			{Line: 3, Index: 2, Fields: map[string]any{"id": n("3")}},
		},
	}, {
		name:  "InvalidCharacter",
		input: "{\"a\":1}\n{a:1}\n{\"a\":2}\n",
		want: []want{
			{Line: 1, Index: 0, Fields: map[string]any{"a": n("1")}},
			{Line: 2, Index: 1, Err: "data.jsonl:2: invalid JSON: invalid character 'a' looking for beginning of object key string"},
			{Line: 3, Index: 2, Fields: map[string]any{"a": n("2")}},
		},
	}, {
		name:    "BlankLines",
		fixture: "jsonl-blank/input.jsonl",
		want: []want{
			{Line: 2, Index: 0, Fields: map[string]any{"a": n("1")}},
			{Line: 5, Index: 1, Fields: map[string]any{"a": n("2")}},
		},
	}, {
		name:        "OverLimitThenGood",
		input:       "{\"a\":\"0123456789\"}\n{\"a\":1}\n",
		maxRowBytes: 10,
		want: []want{
			{Line: 1, Index: 0, Err: "data.jsonl:1: row exceeds the size limit (10 bytes)", Is: rows.ErrRowTooLong},
			{Line: 2, Index: 1, Fields: map[string]any{"a": n("1")}},
		},
	}, {
		name:  "Over10MBThenGood",
		input: huge,
		want: []want{
			{Line: 1, Index: 0, Err: "data.jsonl:1: row exceeds the size limit (4194304 bytes)", Is: rows.ErrRowTooLong},
			{Line: 2, Index: 1, Fields: map[string]any{"a": n("1")}},
		},
	}, {
		name:        "AtTheLimit",
		input:       "{\"a\":1}\r\n{\"a\":12}\n{\"a\":3}",
		maxRowBytes: 7,
		want: []want{
			{Line: 1, Index: 0, Fields: map[string]any{"a": n("1")}},
			{Line: 2, Index: 1, Err: "data.jsonl:2: row exceeds the size limit (7 bytes)", Is: rows.ErrRowTooLong},
			{Line: 3, Index: 2, Fields: map[string]any{"a": n("3")}},
		},
	}, {
		name:    "CRLF",
		fixture: "jsonl-crlf/input.jsonl",
		want: []want{
			{Line: 1, Index: 0, Fields: map[string]any{"a": n("1")}},
			{Line: 2, Index: 1, Fields: map[string]any{"a": n("2")}},
		},
	}, {
		name:    "BOM",
		fixture: "jsonl-bom/input.jsonl",
		want:    []want{{Line: 1, Index: 0, Fields: map[string]any{"a": n("1")}}},
	}, {
		name:    "NotAnObject",
		fixture: "jsonl-nonobject/input.jsonl",
		want: []want{
			{Line: 1, Index: 0, Err: "data.jsonl:1: line is not a JSON object", Is: rows.ErrNotObject},
			{Line: 2, Index: 1, Err: "data.jsonl:2: line is not a JSON object", Is: rows.ErrNotObject},
			{Line: 3, Index: 2, Err: "data.jsonl:3: line is not a JSON object", Is: rows.ErrNotObject},
			{Line: 4, Index: 3, Fields: map[string]any{"a": n("1")}},
		},
	}, {
		name:    "NoFinalNewline",
		fixture: "jsonl-nonewline/input.jsonl",
		want: []want{
			{Line: 1, Index: 0, Fields: map[string]any{"a": n("1")}},
			{Line: 2, Index: 1, Fields: map[string]any{"a": n("2.50")}},
		},
	}, {
		name:  "DataAfterObject",
		input: "{\"a\":1} {\"b\":2}\n{\"a\":1}}\n",
		want: []want{
			{Line: 1, Index: 0, Err: "data.jsonl:1: invalid JSON: data after the object"},
			{Line: 2, Index: 1, Err: "data.jsonl:2: invalid JSON: data after the object"},
		},
	}, {
		name:  "InvalidUTF8",
		input: "{\"a\":\"\xff\"}\n{\"a\":\"é\"}\n",
		want: []want{
			{Line: 1, Index: 0, Err: "data.jsonl:1: invalid UTF-8", Is: rows.ErrInvalidUTF8},
			{Line: 2, Index: 1, Fields: map[string]any{"a": "é"}},
		},
	}, {
		name:  "Nested",
		input: `{"a":{"b":[1,"x",null,true]},"c":1e400}`,
		want: []want{{Line: 1, Index: 0, Fields: map[string]any{
			"a": map[string]any{"b": []any{n("1"), "x", nil, true}},
			"c": n("1e400"),
		}}},
	}, {
		name:  "Empty",
		input: "",
	}, {
		name:  "OnlyBlankLines",
		input: "\n \r\n\t\n",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			input := []byte(tt.input)
			if tt.fixture != "" {
				input = readFixture(t, tt.fixture)
			}
			r := rows.NewJSONLReader(bytes.NewReader(input), "data.jsonl")
			r.MaxRowBytes = tt.maxRowBytes
			got, err := readAll(t, r)
			if err != nil {
				t.Fatalf("Next() = %v, want io.EOF", err)
			}
			checkResults(t, got, tt.want)
		})
	}
}

func TestJSONLReader_ReadError(t *testing.T) {
	boom := errors.New("boom")
	r := rows.NewJSONLReader(&errReader{data: []byte("{\"a\":1}\n{\"a\""), err: boom}, "data.jsonl")
	got, err := readAll(t, r)
	checkResults(t, got, []want{{Line: 1, Index: 0, Fields: map[string]any{"a": json.Number("1")}}})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "data.jsonl") {
		t.Errorf("Next() = %v, want an error wrapping %v naming the file", err, boom)
	}
}

func TestDecodeObject(t *testing.T) {
	tests := []struct {
		in   string
		want map[string]any
		err  string
	}{
		{in: `{"a":1.50}`, want: map[string]any{"a": json.Number("1.50")}},
		{in: ` {} `, want: map[string]any{}},
		{in: `null`, err: "line is not a JSON object"},
		{in: `[1]`, err: "invalid JSON: json: cannot unmarshal array into Go value of type map[string]interface {}"},
		{in: `{"a":1}x`, err: "invalid JSON: data after the object"},
		{in: `{"a":`, err: "invalid JSON: unexpected EOF"},
	}
	for _, tt := range tests {
		got, err := rows.DecodeObject([]byte(tt.in))
		if errText(err) != tt.err || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("DecodeObject(%q) = %v, %v, want %v, %q", tt.in, got, err, tt.want, tt.err)
		}
	}
}

// FuzzJSONLRows checks that JSONLReader never panics or hangs, and that it
// agrees with a simple model: one result per non-blank line, at that
// line, good exactly when the line is valid UTF-8 and one JSON object
// within the limit; good rows survive a json.Marshal -> DecodeObject round
// trip.
func FuzzJSONLRows(f *testing.F) {
	for _, b := range fixtures(f, "jsonl-*/input.jsonl") {
		f.Add(b)
	}
	f.Add([]byte("{\"a\":[1,{\"b\":null}]}\r\r\n\xef\xbb\xbf{}\n\u00a0\n{\"x\":\"\\ud800\"}"))
	const limit = 48
	f.Fuzz(func(t *testing.T, data []byte) {
		r := rows.NewJSONLReader(bytes.NewReader(data), "fuzz.jsonl")
		r.MaxRowBytes = limit
		got, err := readAll(t, r)
		if err != nil {
			t.Fatalf("Next() = %v", err)
		}

		lines := bytes.SplitAfter(data, []byte("\n"))
		if len(lines[len(lines)-1]) == 0 {
			lines = lines[:len(lines)-1]
		}
		k := 0
		for i, raw := range lines {
			content := bytes.TrimRight(raw, "\r\n")
			tooLong := len(content) > limit || len(raw) > limit+2
			if i == 0 {
				content = bytes.TrimPrefix(content, []byte("\xef\xbb\xbf"))
			}
			content = bytes.TrimSpace(content)
			if !tooLong && len(content) == 0 {
				continue
			}
			if k >= len(got) {
				t.Fatalf("line %d (%q): no result", i+1, raw)
			}
			g := got[k]
			if g.Row.Line != int64(i+1) || g.Row.Index != int64(k) {
				t.Fatalf("line %d: Line, Index = %d, %d, want %d, %d", i+1, g.Row.Line, g.Row.Index, i+1, k)
			}
			k++
			good := !tooLong && utf8.Valid(content) && content[0] == '{' && json.Valid(content)
			if tooLong != errors.Is(g.Err, rows.ErrRowTooLong) {
				t.Fatalf("line %d (%q): Next() = %v, tooLong = %v", i+1, raw, g.Err, tooLong)
			}
			if good != (g.Err == nil) {
				t.Fatalf("line %d (%q): Next() = %v, want good = %v", i+1, raw, g.Err, good)
			}
			if !good {
				continue
			}
			b, err := json.Marshal(g.Row.Fields)
			if err != nil {
				t.Fatalf("line %d: json.Marshal(%v) = %v", i+1, g.Row.Fields, err)
			}
			back, err := rows.DecodeObject(b)
			if err != nil || !reflect.DeepEqual(back, g.Row.Fields) {
				t.Fatalf("line %d: round trip = %v, %v, want %v", i+1, back, err, g.Row.Fields)
			}
		}
		if k != len(got) {
			t.Fatalf("%d results, want %d", len(got), k)
		}
	})
}
