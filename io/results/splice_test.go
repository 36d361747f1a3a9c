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

// TestJournal_LineIsEncodingJSON: the journal writes each member itself;
// every line is byte for byte encoding/json's line for the same record
// (then redacted), over records that set every member, leave out each
// omitempty one, and hold strings, times and maps of awkward shapes.
func TestJournal_LineIsEncodingJSON(t *testing.T) {
	key := "sk-proj-" + "Qq1w2e3r4t5y6u7i"
	strs := []string{"", "plain", `q"uo\te`, "line\nbreak\t\x01", "é 😀 \u2028 <&>", "\xff\xfe", key}
	times := []time.Time{{}, time.Date(2025, 1, 2, 3, 4, 5, 600, time.UTC), time.Date(2025, 1, 2, 3, 4, 5, 0, time.FixedZone("X", 5*3600+1800)),
		time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC)}
	var recs []*results.Record
	for i := range 300 {
		s := func(k int) string { return strs[(i*7+k*3)%len(strs)] }
		rec := &results.Record{CustomID: s(0), Index: int64(i*1_000_003 - 5), OutputText: s(1), Model: s(2), Attempts: i % 4,
			LatencyMS: int64(i * 13), RequestSHA256: s(3), RateLimited: i % 3, Reask: i % 2, Tier: s(4), Time: times[i%len(times)],
			Usage: api.Usage{InputTokens: int64(i), CachedInputTokens: int64(i / 2), OutputTokens: -1, ReasoningTokens: 1 << 40, TotalTokens: int64(i + 1)}}
		if i%5 == 0 {
			rec.Job = &results.Job{Fingerprint: s(5), Parts: map[string]string{"b": s(6), "a": "x"}}
		}
		if i%3 != 0 {
			body := spliceBodies[i%len(spliceBodies)]
			if i%11 == 0 {
				body = ""
			}
			rec.Response = &results.Response{StatusCode: 200 + i%300, RequestID: s(6), Body: json.RawMessage(body), Checked: i%2 == 0 && body != ""}
		}
		if i%4 == 1 {
			rec.Error = &results.Error{Code: s(1), Type: s(2), Message: s(3), StatusCode: i % 600, Retryable: i%8 == 1, Path: s(4)}
		}
		if i%6 == 2 {
			rec.Input = map[string]any{"z": s(0), "a": []any{1.5, nil, true}, "m": map[string]any{"k": s(2)}}
		}
		if i%7 == 3 {
			rec.Reused = &results.Reused{Journal: s(1), Key: s(2), Usage: api.Usage{InputTokens: 9}, Reask: i % 2}
		}
		recs = append(recs, rec)
	}
	red := secret.NewRedactor(key)
	path := filepath.Join(t.TempDir(), "j.jsonl")
	j, err := results.OpenJournal(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	j.Redact = red
	var want [][]byte
	for _, rec := range recs {
		var ref bytes.Buffer
		enc := json.NewEncoder(&ref)
		enc.SetEscapeHTML(false)
		refErr := enc.Encode(rec)
		err := j.Append(rec)
		if (err != nil) != (refErr != nil) {
			t.Fatalf("record %+v: Append error %v, encoding/json error %v", rec, err, refErr)
		}
		if err == nil {
			want = append(want, red.JSON(ref.Bytes()))
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	got := bytes.SplitAfter(b, []byte("\n"))
	if len(got) != len(want)+1 || len(want) < 250 {
		t.Fatalf("%d lines for %d records", len(got)-1, len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("line %d:\n%s\nencoding/json:\n%s", i, got[i], want[i])
		}
	}
}

// FuzzJournalLine: whatever strings and body a record holds, the journal
// writes encoding/json's line for it (then redacted), or refuses it as
// encoding/json does.
func FuzzJournalLine(f *testing.F) {
	f.Add("k1", "positive", "gpt-5-mini", "req_1", `{"a":1}`, "", int64(3), true)
	f.Add("é\n\"", "<&>\u2028", "", "\xff", "{\n \"a\": [1, 2]\n}", "rate_limited", int64(-1), false)
	f.Add("", "", "m", "", `"s"`, "x", int64(0), true)
	f.Fuzz(func(t *testing.T, key, text, model, reqID, body, code string, n int64, checked bool) {
		rec := &results.Record{CustomID: key, Index: n, OutputText: text, Model: model, Attempts: int(n % 7), LatencyMS: n,
			RequestSHA256: reqID, Usage: api.Usage{InputTokens: n, OutputTokens: n / 3, TotalTokens: n}}
		if n%2 == 0 {
			rec.Response = &results.Response{StatusCode: int(n % 600), RequestID: reqID, Body: json.RawMessage(body),
				Checked: checked && json.Valid([]byte(body))}
		}
		if code != "" {
			rec.Error = &results.Error{Code: code, Type: model, Message: text, StatusCode: int(n % 600), Retryable: checked, Path: reqID}
		}
		if n%3 == 0 {
			rec.Time = time.Unix(n%(1<<33), n%1e9).UTC()
		}
		var ref bytes.Buffer
		enc := json.NewEncoder(&ref)
		enc.SetEscapeHTML(false)
		// The journal writes invalid UTF-8 of a body as U+FFFD, as
		// encoding/json does in strings; so must the reference.
		cp := *rec
		if cp.Response != nil {
			r := *cp.Response
			r.Body = results.ValidUTF8(r.Body)
			cp.Response = &r
		}
		refErr := enc.Encode(&cp)
		path := filepath.Join(t.TempDir(), "j.jsonl")
		j, err := results.OpenJournal(path, 0)
		if err != nil {
			t.Fatal(err)
		}
		red := secret.NewRedactor("sk-proj-Zz9y8x7w6v5u4t3s")
		j.Redact = red
		err = j.Append(rec)
		j.Close()
		if (err != nil) != (refErr != nil) {
			t.Fatalf("Append error %v, encoding/json error %v", err, refErr)
		}
		got, _ := os.ReadFile(path)
		if err == nil && !bytes.Equal(got, red.JSON(ref.Bytes())) {
			t.Fatalf("line\n%s\nencoding/json\n%s", got, ref.Bytes())
		}
	})
}
