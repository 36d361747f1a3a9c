package results_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/llmbatch/llmbatch/io/api"
	"github.com/llmbatch/llmbatch/io/results"
	"github.com/llmbatch/llmbatch/io/secret"
)

// spliceBodies are answer bodies of the shapes servers send: compact (the
// body is spliced into the line), pretty-printed with line breaks and
// indentation (compacted as before), and strings whose quotes,
// backslashes and characters make a naive scan lose its place.
var spliceBodies = []string{
	`{"id":"resp_1","status":"completed","output":[{"type":"message","content":[{"type":"output_text","text":"positive"}]}]}`,
	"{\n  \"id\": \"resp_1\",\n  \"status\": \"completed\"\n}\n",
	"{\r\n\t\"a\":1}",
	` {"a":1}`,
	`{"a":1} `,
	`{"text":"he said \"hi\" ","n":[1, 2]}`,
	`{"text":"ends in a backslash \\","x":1}`,
	`{"text":"two \\\\\" ","y":[ ]}`,
	`{"text":"\\\" \n \u2028 <b>&amp;</b> é 😀","z":null}`,
	`{"s":"x\"}"  }`,
	`[]`,
	`"just a string"`,
	`{"data":[{"embedding":"AAAAAA=="}],"model":"m","usage":{"prompt_tokens":1,"total_tokens":1}}`,
}

// TestJournal_SpliceIsEncodingJSON: a body the client checked is spliced
// into the line when it is compact; every line is byte for byte the line
// encoding/json writes for the same record (the journal's format does not
// change), is valid JSON, and is one line, also for a body with line
// breaks. Request ids and keys that are not plain text take the
// encoding/json path.
func TestJournal_SpliceIsEncodingJSON(t *testing.T) {
	dir := t.TempDir()
	key := "sk-proj-" + "Zz9y8x7w6v5u4t3s"
	var recs []*results.Record
	for i, body := range spliceBodies {
		for _, id := range []string{"req_abc", "", `req "q" \ é`, "req <&>"} {
			for _, customID := range []string{"row-1", `a,"response":null,"error":null,`, "é\n"} {
				recs = append(recs, &results.Record{CustomID: customID, Index: int64(i),
					Job:      &results.Job{Fingerprint: "f", Parts: map[string]string{"body": "b", "response": "null"}},
					Response: &results.Response{StatusCode: 200, RequestID: id, Body: json.RawMessage(body), Checked: true},
					Usage:    api.Usage{InputTokens: 3, TotalTokens: 3}, Model: "gpt-5-mini", Attempts: 1, LatencyMS: 7,
					RequestSHA256: "abc", Input: map[string]any{"body": "x", "response": nil},
					Time: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)})
			}
		}
	}
	// The key echoed in a body is redacted in the spliced line too.
	recs = append(recs, &results.Record{CustomID: "echo", Response: &results.Response{StatusCode: 200,
		Body: json.RawMessage(`{"auth":"Bearer ` + key + `"}`), Checked: true}})

	write := func(name string, checked bool) [][]byte {
		path := filepath.Join(dir, name)
		j, err := results.OpenJournal(path, 0)
		if err != nil {
			t.Fatal(err)
		}
		j.Redact = secret.NewRedactor(key)
		for _, r := range recs {
			cp := *r
			resp := *r.Response
			resp.Checked = checked
			cp.Response = &resp
			if err := j.Append(&cp); err != nil {
				t.Fatal(err)
			}
		}
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return bytes.SplitAfter(b, []byte("\n"))
	}
	spliced, plain := write("spliced.jsonl", true), write("plain.jsonl", false)
	if len(spliced) != len(recs)+1 || len(spliced[len(recs)]) != 0 {
		t.Fatalf("%d lines for %d records", len(spliced)-1, len(recs))
	}
	for i := range recs {
		if !bytes.Equal(spliced[i], plain[i]) {
			t.Errorf("record %d: spliced line\n%s differs from encoding/json's\n%s", i, spliced[i], plain[i])
		}
		if !json.Valid(spliced[i]) || bytes.Count(spliced[i], []byte("\n")) != 1 {
			t.Errorf("record %d: line is not one line of JSON: %q", i, spliced[i])
		}
		if bytes.Contains(spliced[i], []byte(key)) {
			t.Errorf("record %d: the key is in the line", i)
		}
	}
	if _, err := results.Scan(filepath.Join(dir, "spliced.jsonl"), nil); err != nil {
		t.Errorf("Scan: %v", err)
	}
}

// TestJournal_UncheckedBodyIsNeverSpliced: a body nobody parsed is
// encoded by encoding/json, which refuses one that is not JSON: the
// journal holds no invalid line.
func TestJournal_UncheckedBodyIsNeverSpliced(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.jsonl")
	j, err := results.OpenJournal(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	err = j.Append(&results.Record{CustomID: "a", Response: &results.Response{StatusCode: 200, Body: json.RawMessage(`{"a":`)}})
	if err == nil {
		t.Error("Append of a body that is not JSON: no error")
	}
	j.Close()
	if b, _ := os.ReadFile(path); len(b) != 0 {
		t.Errorf("journal holds %q", b)
	}
}

// BenchmarkJournal_Append: one answer's record, as the pipeline makes it.
func BenchmarkJournal_Append(b *testing.B) {
	for _, checked := range []bool{false, true} {
		name := "encoding-json"
		if checked {
			name = "spliced"
		}
		b.Run(name, func(b *testing.B) {
			j, err := results.OpenJournal(filepath.Join(b.TempDir(), "j.jsonl"), 0)
			if err != nil {
				b.Fatal(err)
			}
			defer j.Close()
			j.SyncInterval = -1
			j.Redact = secret.NewRedactor("sk-proj-" + string(bytes.Repeat([]byte("Ab3x"), 39)))
			rec := &results.Record{CustomID: "r123", Index: 123, Attempts: 1, LatencyMS: 3, Model: "gpt-4.1-mini",
				RequestSHA256: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", Time: time.Now().UTC(),
				Usage:    api.Usage{InputTokens: 84, OutputTokens: 2, TotalTokens: 86},
				Response: &results.Response{StatusCode: 200, RequestID: "req_1", Checked: checked, Body: json.RawMessage(spliceBodies[0])}}
			b.ReportAllocs()
			for b.Loop() {
				if err := j.Append(rec); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
