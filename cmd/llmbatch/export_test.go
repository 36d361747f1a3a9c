package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/llmbatch/llmbatch/io/embeddings"
	"github.com/llmbatch/llmbatch/io/results"
	"github.com/llmbatch/llmbatch/io/sim"
)

// TestCLI_ExportEmbeddings exports the journal of an embeddings job: each
// row's vector, as the journal holds it, comes out as a Parquet list of
// float32 and as a JSON array in CSV; a row without one is null / empty.
func TestCLI_ExportEmbeddings(t *testing.T) {
	dir := t.TempDir()
	// A packed answer as a server sends it (float arrays: it ignored
	// encoding_format), split into rows as a run journals it.
	answer := `{"object":"list","data":[{"object":"embedding","index":1,"embedding":[0.125,-2,1e-7]},{"object":"embedding","index":0,"embedding":[3.5,0,-0.75]}],"model":"text-embedding-3-small","usage":{"prompt_tokens":12,"total_tokens":12}}`
	rs, err := embeddings.API{}.Unpack([]byte(answer), []int64{5, 7})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	want := map[string][]float32{}
	for i, r := range rs {
		key := fmt.Sprintf("k%d", i)
		line, _ := json.Marshal(&results.Record{CustomID: key, Index: int64(i), Response: &results.Response{StatusCode: 200, Body: r.Body},
			Usage: r.Usage, Model: r.Model, Attempts: 1, LatencyMS: 40})
		b.Write(append(line, '\n'))
		if want[key], err = embeddings.Vector(r.Body); err != nil {
			t.Fatal(err)
		}
	}
	b.WriteString(`{"custom_id":"k2","index":2,"response":null,"error":{"code":"invalid_request_error","message":"too long","status_code":400,"retryable":false},"usage":{},"attempts":1,"latency_ms":30}` + "\n")
	journal := filepath.Join(dir, "results.jsonl")
	if err := os.WriteFile(journal, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	pq := filepath.Join(dir, "out.parquet")
	if code, _, stderr := runCLI(t, "export", journal, "-o", pq); code != exitOK {
		t.Fatalf("export: exit %d, stderr %s", code, stderr)
	}
	rows, err := parquet.ReadFile[results.ExportRow](pq)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 {
		t.Fatalf("%d rows, want 3", len(rows))
	}
	for _, r := range rows {
		if w := want[r.Key]; !slices.Equal(r.Embedding, w) || (w == nil) != (r.Embedding == nil) {
			t.Errorf("parquet row %s: embedding %v, want %v", r.Key, r.Embedding, w)
		}
	}
	if !slices.Equal(rows[1].Embedding, []float32{0.125, -2, 1e-7}) {
		t.Errorf("row k1 = %v: not the answer's item of index 1", rows[1].Embedding)
	}

	csvPath := filepath.Join(dir, "out.csv")
	if code, _, stderr := runCLI(t, "export", journal, "-o", csvPath); code != exitOK {
		t.Fatalf("export csv: exit %d, stderr %s", code, stderr)
	}
	data, _ := os.ReadFile(csvPath)
	recs, err := csv.NewReader(strings.NewReader(string(data))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := slices.Index(recs[0], "embedding")
	if col < 0 || len(recs) != 4 {
		t.Fatalf("CSV header %v, %d lines", recs[0], len(recs))
	}
	if got := []string{recs[1][col], recs[2][col], recs[3][col]}; !slices.Equal(got, []string{"[3.5,0,-0.75]", "[0.125,-2,1e-07]", ""}) {
		t.Errorf("CSV embeddings = %q", got)
	}
}

// TestCLI_ExportInputJSONText exports journals whose input columns come
// in the form llmbatch writes and in forms other writers produce
// (whitespace, unsorted keys, escapes, duplicate keys), across two shards:
// input_json is, for each, the text encoding/json gives the decoded
// columns (sorted keys, no HTML escapes), and the latest record wins.
func TestCLI_ExportInputJSONText(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.jsonl")
	b := filepath.Join(dir, "b.jsonl")
	os.WriteFile(a, []byte(`{"custom_id":"1","index":1,"attempts":1,"input":{"n":12345678901234567890,"text":"He said \"hi\" <b>\n"}}
{"custom_id":"2","index":2,"attempts":1,"input":{ "z" : 1.50 , "a" : [ true , null ] }}
{"custom_id":"3","index":3,"attempts":1,"input":{"s":"\u003c\/\u00e9\ud83d\ude00\u0008","s":"dup"}}
{"custom_id":"4","index":4,"attempts":1,"input":{"old":true}}
`), 0o644)
	os.WriteFile(b, []byte(`{"custom_id":"4","index":4,"attempts":1,"input":{"new":"\u2028"}}
{"custom_id":"5","index":5,"attempts":1,"input":{}}
`), 0o644)
	out := filepath.Join(dir, "out.csv")
	if code, _, stderr := runCLI(t, "export", a, b, "-o", out); code != exitOK {
		t.Fatalf("export: exit %d, stderr %s", code, stderr)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := slices.Index(recs[0], "input_json")
	got := map[string]string{}
	for _, r := range recs[1:] {
		got[r[0]] = r[col]
	}
	want := map[string]string{
		"1": `{"n":12345678901234567890,"text":"He said \"hi\" <b>\n"}`,
		"2": `{"a":[true,null],"z":1.50}`,
		"3": `{"s":"dup"}`,
		"4": `{"new":"\u2028"}`,
		"5": ``,
	}
	if len(got) != len(want) {
		t.Errorf("exported keys %v, want %v", got, want)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("key %s: input_json = %s, want %s", k, got[k], w)
		}
	}
}

// Export writes rows in input order (by index), not in the journal's:
// answers arrive out of order under concurrency, and rows retried by a
// resume are journalled at the end. The same holds when the rows do not
// fit in the sort's memory and go through sorted runs on disk.
func TestCLI_ExportInInputOrder(t *testing.T) {
	dir := t.TempDir()
	const n = 300
	in := writeRows(t, dir, n)
	journal := filepath.Join(dir, "r.jsonl")
	_, base := startTestSim(t, sim.Config{Seed: 5, Latency: time.Millisecond, LatencyJitter: 5 * time.Millisecond, ServerError: 0.2})
	env, _, stderr := testEnv(map[string]string{"OPENAI_API_KEY": "sk-test-export-order-0123456789"})
	if code := run(context.Background(), append(jobArgs(in, journal, base), "--concurrency", "16", "--max-attempts", "1"), env); code != exitRowsFailed {
		t.Fatalf("first run: exit %d, want %d (rows to retry); stderr:\n%s", code, exitRowsFailed, stderr)
	}
	_, clean := startTestSim(t, sim.Config{Seed: 5})
	env, _, stderr = testEnv(map[string]string{"OPENAI_API_KEY": "sk-test-export-order-0123456789"})
	if code := run(context.Background(), jobArgs(in, journal, clean, "--concurrency", "16"), env); code != exitOK {
		t.Fatalf("resume: exit %d; stderr:\n%s", code, stderr)
	}
	// The journal is not in input order.
	var order []int64
	for _, r := range readRecords(t, journal) {
		order = append(order, r.Index)
	}
	if slices.IsSorted(order) {
		t.Fatalf("the journal is in input order already: the test proves nothing")
	}
	var outputs [][]byte
	for _, mem := range []int64{exportSortMem, 4096} {
		old := exportSortMem
		exportSortMem = mem
		out := filepath.Join(dir, fmt.Sprintf("out-%d.csv", mem))
		code, _, errs := runCLI(t, "export", journal, "-o", out)
		exportSortMem = old
		if code != exitOK {
			t.Fatalf("export (sort memory %d): exit %d; stderr %s", mem, code, errs)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != n+1 {
			t.Fatalf("sort memory %d: %d CSV rows, want %d and a header", mem, len(recs)-1, n)
		}
		for i, r := range recs[1:] {
			if r[1] != fmt.Sprint(i) || r[0] != fmt.Sprintf("k%06d", i) || r[2] != "ok" {
				t.Fatalf("sort memory %d: row %d is key %s index %s status %s, want k%06d, %d, ok", mem, i, r[0], r[1], r[2], i, i)
			}
		}
		outputs = append(outputs, b)
	}
	if !bytes.Equal(outputs[0], outputs[1]) {
		t.Errorf("the export sorted on disk differs from the one sorted in memory")
	}
	// The typed export (--schema) is in input order too, sorted in memory
	// or on disk, and its cost is a number as in the plain export.
	plainCost := map[string]string{}
	plain, _ := csv.NewReader(bytes.NewReader(outputs[0])).ReadAll()
	for _, r := range plain[1:] {
		plainCost[r[0]] = r[10]
	}
	for _, mem := range []int64{exportSortMem, 4096} {
		old := exportSortMem
		exportSortMem = mem
		out := filepath.Join(dir, fmt.Sprintf("typed-%d.csv", mem))
		code, _, errs := runCLI(t, "export", "--schema", filepath.Join("..", "..", "examples", "sentiment-schema.json"), journal, "-o", out)
		exportSortMem = old
		if code != exitOK {
			t.Fatalf("typed export (sort memory %d): exit %d; stderr %s", mem, code, errs)
		}
		b, _ := os.ReadFile(out)
		recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
		if err != nil || len(recs) != n+1 || recs[0][3] != "cost_usd" {
			t.Fatalf("typed export: %d rows, header %v, %v", len(recs)-1, recs[0], err)
		}
		for i, r := range recs[1:] {
			if r[1] != fmt.Sprint(i) || r[0] != fmt.Sprintf("k%06d", i) {
				t.Fatalf("typed export (sort memory %d): row %d is key %s index %s, want k%06d, %d", mem, i, r[0], r[1], i, i)
			}
			if r[3] != plainCost[r[0]] {
				t.Fatalf("typed export: row %s costs %q, the plain export says %q", r[0], r[3], plainCost[r[0]])
			}
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".llmbatch-export-sort-*")); len(left) > 0 {
		t.Errorf("sort files left behind: %v", left)
	}
}
