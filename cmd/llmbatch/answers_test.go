package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/llmbatch/llmbatch/io/results"
	"github.com/llmbatch/llmbatch/io/sim"
)

// runKeyed is runCLI with an API key in the environment.
func runKeyed(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	env, stdout, stderr := testEnv(map[string]string{"OPENAI_API_KEY": "sk-test-answers-0123456789"})
	code := run(context.Background(), args, env)
	return code, stdout.String(), stderr.String()
}

// startSimServer starts a simulator on loopback for the test.
func startSimServer(t *testing.T, cfg sim.Config) (*sim.Server, string) {
	t.Helper()
	s := sim.New(cfg)
	base, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, base
}

// writeGoldRows writes n rows with a gold label each.
func writeGoldRows(t *testing.T, dir string, n int) string {
	t.Helper()
	var b bytes.Buffer
	gold := []string{"positive", "negative", "neutral"}
	for i := range n {
		fmt.Fprintf(&b, `{"id":"k%04d","text":"review %d","gold":%q}`+"\n", i, i, gold[i%3])
	}
	path := filepath.Join(dir, "in.jsonl")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// run --reask against answers that break the schema, then export --schema
// (Parquet read back with its column types, CSV) and report (the re-asks
// and their cost).
func TestCLI_SchemaReaskExport(t *testing.T) {
	dir := t.TempDir()
	s, base := startSimServer(t, sim.Config{Seed: 4, SchemaBreak: 0.3})
	in := writeGoldRows(t, dir, 120)
	journal := filepath.Join(dir, "eval.jsonl")
	schemaFile := filepath.Join(examplesDir(t), "sentiment-schema.json")
	code, _, stderr := runKeyed(t, "run", in, "-o", journal, "--base-url", base, "--model", "gpt-5-mini", "--id-column", "id",
		"--prompt", "{{.text}}", "--body", schemaFile, "--keep-columns", "gold", "--reask", "2")
	if code != exitOK && code != exitRowsFailed {
		t.Fatalf("run: exit %d, stderr %s", code, stderr)
	}
	sum := readSummaryFile(t, journal)
	st := s.Stats()
	if sum.Reasks == nil || sum.Reasks.Records == 0 || !strings.Contains(stderr, fmt.Sprintf("re-asks: %d", sum.Reasks.Records)) {
		t.Fatalf("summary re-asks %+v; stderr %s", sum.Reasks, stderr)
	}
	if sum.Usage.Total.InputTokens != st.InputTokens || sum.Usage.Total.OutputTokens != st.OutputTokens || sum.Requests != int64(st.Requests) {
		t.Errorf("summary usage %+v, %d requests; the simulator billed in %d out %d for %d requests", sum.Usage.Total, sum.Requests, st.InputTokens, st.OutputTokens, st.Requests)
	}

	// export --schema: typed Parquet columns, values as the outputs say.
	pq := filepath.Join(dir, "eval.parquet")
	if code, _, stderr := runCLI(t, "export", journal, "-o", pq, "--schema", schemaFile); code != exitOK {
		t.Fatalf("export --schema: exit %d, %s", code, stderr)
	}
	f, err := os.Open(pq)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	pf, err := parquet.OpenFile(f, fi.Size())
	if err != nil {
		t.Fatal(err)
	}
	var cols []string
	for _, fl := range pf.Schema().Fields() {
		lt := ""
		if t := fl.Type().LogicalType(); t != nil {
			lt = t.String()
		}
		cols = append(cols, fmt.Sprintf("%s:%s:%s", fl.Name(), fl.Type().Kind(), lt))
	}
	want := "key:BYTE_ARRAY:STRING index:INT64:INT(64,true) status:BYTE_ARRAY:STRING cost_usd:INT64:DECIMAL(18,12) error_code:BYTE_ARRAY:STRING gold:BYTE_ARRAY:STRING label:BYTE_ARRAY:STRING confidence:DOUBLE:"
	if got := strings.Join(cols, " "); got != want {
		t.Errorf("columns\n got %s\nwant %s", got, want)
	}
	latest := map[string]results.Record{}
	for _, r := range readRecords(t, journal) {
		latest[r.CustomID] = r
	}
	rd := parquet.NewReader(f)
	n := 0
	for {
		row := map[string]any{}
		if err := rd.Read(&row); err != nil {
			break
		}
		n++
		rec := latest[row["key"].(string)]
		var out struct {
			Label      *string  `json:"label"`
			Confidence *float64 `json:"confidence"`
		}
		json.Unmarshal([]byte(rec.OutputText), &out)
		if rec.Error == nil && (out.Label == nil || row["label"] != *out.Label || row["confidence"] != *out.Confidence || row["status"] != "ok") {
			t.Errorf("row %v; output %s", row, rec.OutputText)
		}
		if rec.Error != nil && (row["status"] != "failed" || row["error_code"] != rec.Error.Code) {
			t.Errorf("row %v; record error %+v", row, rec.Error)
		}
		if row["gold"] != rec.Input["gold"] {
			t.Errorf("row %v: gold, want %v", row, rec.Input["gold"])
		}
	}
	if n != 120 {
		t.Errorf("%d rows read back", n)
	}
	csvPath := filepath.Join(dir, "eval.csv")
	if code, _, stderr := runCLI(t, "export", journal, "-o", csvPath, "--schema", schemaFile); code != exitOK {
		t.Fatalf("export --schema csv: exit %d, %s", code, stderr)
	}
	b, _ := os.ReadFile(csvPath)
	if !strings.HasPrefix(string(b), "key,index,status,cost_usd,error_code,gold,label,confidence\n") {
		t.Errorf("csv starts %q", b[:min(len(b), 120)])
	}

	// report says how many re-asks and what they cost.
	code, stdout, stderr := runCLI(t, "report", journal, "--json")
	if code != exitOK {
		t.Fatalf("report: exit %d, %s", code, stderr)
	}
	var rep results.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Reasks == nil || rep.Reasks.Records != sum.Reasks.Records || rep.Reasks.Cost != sum.Reasks.Cost {
		t.Errorf("report re-asks %+v, summary %+v", rep.Reasks, sum.Reasks)
	}
	// A bare schema works as --schema too; a schema that is not an
	// object is refused.
	bare := filepath.Join(dir, "schema.json")
	os.WriteFile(bare, []byte(`{"type":"array","items":{"type":"string"}}`), 0o644)
	if code, _, stderr := runCLI(t, "export", journal, "-o", filepath.Join(dir, "x.csv"), "--schema", bare); code != exitUsage || !strings.Contains(stderr, "not an object") {
		t.Errorf("export --schema array: exit %d, %s", code, stderr)
	}
}

// report --expect against a journal whose confusion matrix is worked out
// by hand.
func TestCLI_ReportExpect(t *testing.T) {
	dir := t.TempDir()
	journal := filepath.Join(dir, "j.jsonl")
	lines := []struct{ key, gold, out, err string }{
		{"a", "positive", `{"label":"positive"}`, ""},
		{"b", "positive", `{"label":"negative"}`, ""},
		{"c", "negative", `{"label":"negative"}`, ""},
		{"d", "negative", `{"label":"negative"}`, ""},
		{"e", "neutral", `{"label":"positive"}`, ""},
		{"f", "neutral", `{"label":"neutral"}`, ""},
		{"g", "neutral", `not json`, "schema_invalid"},
		{"h", "positive", `{"label":"positive"}`, ""},
		{"b", "positive", `{"label":"positive"}`, ""}, // b re-asked: its latest record wins
	}
	var buf bytes.Buffer
	for _, l := range lines {
		e := "null"
		if l.err != "" {
			e = `{"code":"` + l.err + `","message":"m","retryable":false}`
		}
		out, _ := json.Marshal(l.out)
		fmt.Fprintf(&buf, `{"custom_id":%q,"index":0,"response":null,"error":%s,"output_text":%s,"usage":{"input_tokens":10,"output_tokens":5,"total_tokens":15},"model":"gpt-5-mini","attempts":1,"latency_ms":5,"input":{"gold":%q}}`+"\n", l.key, e, out, l.gold)
	}
	buf.WriteString(`{"custom_id":"z","index":9,"response":null,"error":null,"output_text":"{}","usage":{},"model":"gpt-5-mini","attempts":1,"latency_ms":5}` + "\n")
	os.WriteFile(journal, buf.Bytes(), 0o644)

	code, stdout, stderr := runCLI(t, "report", journal, "--expect", "gold", "--field", "label", "--json")
	if code != exitOK {
		t.Fatalf("report --expect: exit %d, %s", code, stderr)
	}
	var got struct {
		Eval results.Eval `json:"eval"`
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatal(err)
	}
	e := got.Eval
	// By hand, latest records: a pos/pos, b pos/pos, c neg/neg, d neg/neg,
	// e neu/pos, f neu/neu, g neu/(no answer), h pos/pos; z has no gold.
	wantConf := map[string]map[string]int64{
		"positive": {"positive": 3},
		"negative": {"negative": 2},
		"neutral":  {"positive": 1, "neutral": 1, results.NoAnswer: 1},
	}
	if e.Rows != 8 || e.Skipped != 1 || e.Correct != 6 || e.Accuracy != 0.75 || e.NoAnswer != 1 {
		t.Errorf("eval = %+v", e)
	}
	if fmt.Sprint(e.Confusion) != fmt.Sprint(wantConf) {
		t.Errorf("confusion %v, want %v", e.Confusion, wantConf)
	}
	// positive: answered 4 times (a, b, h, e), right 3: precision 0.75;
	// expected 3, found 3: recall 1. neutral: precision 1/1, recall 1/3.
	scores := map[string]results.ClassScore{}
	for _, c := range e.Classes {
		scores[c.Class] = c
	}
	check := func(class string, p, r float64) {
		c := scores[class]
		if c.Precision == nil || c.Recall == nil || *c.Precision != p || *c.Recall != r {
			t.Errorf("class %s: %+v, want precision %v recall %v", class, c, p, r)
		}
	}
	check("positive", 0.75, 1)
	check("negative", 1, 1)
	check("neutral", 1, 1.0/3)
	if c := scores[results.NoAnswer]; c.Recall != nil || c.Precision == nil || *c.Precision != 0 {
		t.Errorf("no-answer class %+v", c)
	}
	if len(e.Disagreements) != 2 || e.Disagreements[0].Key != "e" || e.Disagreements[1] != (results.Disagreement{Key: "g", Expected: "neutral", Got: results.NoAnswer, Error: "schema_invalid"}) {
		t.Errorf("disagreements %+v", e.Disagreements)
	}

	// The text report prints the same.
	code, stdout, _ = runCLI(t, "report", journal, "--expect", "gold", "--field", "label")
	if code != exitOK || !strings.Contains(stdout, "accuracy: 0.7500 (6 of 8)") || !strings.Contains(stdout, "confusion") {
		t.Errorf("report --expect: exit %d\n%s", code, stdout)
	}
	// Without --field, output_text is compared; a column no record kept is
	// refused.
	if code, _, stderr := runCLI(t, "report", journal, "--expect", "nope"); code != exitUsage || !strings.Contains(stderr, "--keep-columns nope") {
		t.Errorf("report --expect nope: exit %d, %s", code, stderr)
	}
}

// run --reuse: a second job over the same rows sends nothing and says
// what it reused, in text and in --log-format json.
func TestCLI_Reuse(t *testing.T) {
	dir := t.TempDir()
	s, base := startSimServer(t, sim.Config{Seed: 4})
	in := writeGoldRows(t, dir, 30)
	args := func(out string, extra ...string) []string {
		return append([]string{"run", in, "-o", filepath.Join(dir, out), "--base-url", base, "--model", "gpt-5-mini", "--id-column", "id", "--prompt", "{{.text}}"}, extra...)
	}
	if code, _, stderr := runKeyed(t, args("a.jsonl")...); code != exitOK {
		t.Fatalf("run a: exit %d, %s", code, stderr)
	}
	sent := s.Stats().Requests
	code, _, stderr := runKeyed(t, args("b.jsonl", "--reuse", filepath.Join(dir, "a*.jsonl"))...)
	if code != exitOK || !strings.Contains(stderr, "reused: 30 rows answered from earlier journals without a request") || s.Stats().Requests != sent {
		t.Fatalf("run b --reuse: exit %d, %d requests more, stderr %s", code, s.Stats().Requests-sent, stderr)
	}
	code, _, stderr = runKeyed(t, args("c.jsonl", "--reuse", filepath.Join(dir, "a.jsonl"), "--log-format", "json")...)
	if code != exitOK || !strings.Contains(stderr, `"reused":{"rows":30,"cost":"$`) {
		t.Errorf("run c --reuse --log-format json: exit %d, stderr %s", code, stderr)
	}
	code, stdout, _ := runCLI(t, "report", filepath.Join(dir, "b.jsonl"))
	if code != exitOK || !strings.Contains(stdout, "reused: 30 rows") {
		t.Errorf("report: exit %d\n%s", code, stdout)
	}
}
