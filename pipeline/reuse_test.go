package pipeline_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmbatch/llmbatch/io/api"
	"github.com/llmbatch/llmbatch/io/prices"
	"github.com/llmbatch/llmbatch/io/results"
	"github.com/llmbatch/llmbatch/io/sim"
	"github.com/llmbatch/llmbatch/pipeline"
)

// writeTexts writes rows k00000... with the given texts.
func writeTexts(t *testing.T, path string, texts []string) {
	t.Helper()
	var b strings.Builder
	for i, s := range texts {
		fmt.Fprintf(&b, `{"id":"k%05d","text":%q}`+"\n", i, s)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A second job whose prompts changed for some rows sends only those: the
// others are journalled from the first job's answers, marked as reused,
// with no usage of their own; the summary says how many and what they cost
// then.
func TestRun_ReuseSendsOnlyChangedRows(t *testing.T) {
	dir := t.TempDir()
	s, base := startSim(t, sim.Config{Seed: 6, RateLimit: 0.05, RetryAfter: 1})
	const n, changed = 100, 17
	texts := make([]string, n)
	for i := range texts {
		texts[i] = fmt.Sprintf("review %d: fine", i)
	}
	inA := filepath.Join(dir, "a.jsonl")
	writeTexts(t, inA, texts)
	cfg := baseConfig(dir, inA, base)
	cfg.Body = schemaBody("responses")
	cfg.Output = filepath.Join(dir, "old", "a.results.jsonl")
	os.MkdirAll(filepath.Dir(cfg.Output), 0o755)
	if _, err := pipeline.Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	old := map[string]results.Record{}
	for _, r := range readJournal(t, cfg.Output) {
		old[r.CustomID] = r
	}
	for i := 0; i < changed; i++ {
		texts[i*5] += " (edited)"
	}
	inB := filepath.Join(dir, "b.jsonl")
	writeTexts(t, inB, texts)
	before := s.Stats()
	cfgB := cfg
	cfgB.Input = inB
	cfgB.Output = filepath.Join(dir, "b.results.jsonl")
	cfgB.Reuse = []string{filepath.Join(dir, "old", "*.jsonl")}
	sum, err := pipeline.Run(context.Background(), cfgB)
	if err != nil {
		t.Fatal(err)
	}
	after := s.Stats()
	sent := 0
	for sha, c := range after.PerBody {
		sent += c[0] - before.PerBody[sha][0]
	}
	if sent != after.Requests-before.Requests {
		t.Fatalf("per-body counts %d, requests %d", sent, after.Requests-before.Requests)
	}
	distinct := 0
	for sha, c := range after.PerBody {
		if c[0] > before.PerBody[sha][0] {
			distinct++
		}
	}
	if distinct != changed {
		t.Errorf("the second job sent %d distinct bodies, want only the %d changed rows'", distinct, changed)
	}
	var wouldCost api.Usage
	reused := 0
	for _, r := range readJournal(t, cfgB.Output) {
		o := old[r.CustomID]
		if r.Reused == nil {
			if !strings.HasSuffix(texts[r.Index], "(edited)") {
				t.Errorf("row %s sent, yet unchanged", r.CustomID)
			}
			continue
		}
		reused++
		wouldCost.Add(r.Reused.Usage)
		if r.Usage != (api.Usage{}) || r.OutputText != o.OutputText || r.Reused.Usage != o.Usage || r.RequestSHA256 != o.RequestSHA256 ||
			r.Reused.Key != o.CustomID || !strings.HasSuffix(r.Reused.Journal, "a.results.jsonl") || r.Error != nil {
			t.Errorf("reused record %+v; old %+v", r, o)
		}
	}
	if reused != n-changed || sum.Rows.OK != n || sum.Reused == nil || sum.Reused.Records != int64(n-changed) || sum.Reused.Usage != wouldCost {
		t.Fatalf("%d reused, rows %+v, summary reused %+v", reused, sum.Rows, sum.Reused)
	}
	want := prices.NewTotals(prices.Default())
	want.Add("gpt-5-mini", wouldCost.InputTokens, wouldCost.CachedInputTokens, wouldCost.OutputTokens)
	if sum.Reused.Cost != want.Summary().Cost || !sum.Reused.Cost.Known {
		t.Errorf("reused cost %v, want %v", sum.Reused.Cost, want.Summary().Cost)
	}
	// The totals are what this job paid: the simulator's billing since.
	if in := after.InputTokens - before.InputTokens; sum.Usage.Total.InputTokens != in {
		t.Errorf("usage %+v; the simulator billed %d input tokens", sum.Usage.Total, in)
	}

	// B's journal as the source: every row reused, those B reused itself
	// with what they cost where they were answered.
	cfgD := cfgB
	cfgD.Output = filepath.Join(dir, "d.results.jsonl")
	cfgD.Reuse = []string{cfgB.Output}
	sumD, err := pipeline.Run(context.Background(), cfgD)
	if err != nil {
		t.Fatal(err)
	}
	all := sum.Usage.Total
	all.Add(sum.Reused.Usage)
	if sumD.Reused == nil || sumD.Reused.Records != n || sumD.Reused.Usage != all || sumD.Usage.Total != (api.Usage{}) {
		t.Errorf("reusing B: %+v, usage %+v; want %d rows costing %+v", sumD.Reused, sumD.Usage.Total, n, all)
	}

	// An answer from another endpoint is not reused, even for the same
	// body bytes.
	rewriteJob(t, cfg.Output, `"parts":{`, `"parts":{"endpoint":"chat",`)
	cfgC := cfgB
	cfgC.Output = filepath.Join(dir, "c.results.jsonl")
	sumC, err := pipeline.Run(context.Background(), cfgC)
	if err != nil {
		t.Fatal(err)
	}
	if sumC.Reused != nil {
		t.Errorf("answers journalled for the chat endpoint were reused: %+v", sumC.Reused)
	}
	// A pattern that matches nothing is refused.
	cfgC.Reuse = []string{filepath.Join(dir, "nope*.jsonl")}
	if _, err := pipeline.Run(context.Background(), cfgC); err == nil || !strings.Contains(err.Error(), "no such journal") {
		t.Errorf("Run() with a --reuse matching nothing: %v", err)
	}
}

// rewriteJob replaces from with to in a journal's first line.
func rewriteJob(t *testing.T, path, from, to string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	first, rest, _ := strings.Cut(string(b), "\n")
	if !strings.Contains(first, from) {
		t.Fatalf("first line lacks %q: %s", from, first[:200])
	}
	os.WriteFile(path, []byte(strings.Replace(first, from, to, 1)+"\n"+rest), 0o644)
}

// Batch API lines whose bodies differ only in key order and white space
// are the same request: the same request_sha256, so the second is reused.
func TestRun_ReuseCanonicalBody(t *testing.T) {
	dir := t.TempDir()
	s, base := startSim(t, sim.Config{Seed: 6})
	write := func(name string, lines ...string) string {
		p := filepath.Join(dir, name)
		f, _ := os.Create(p)
		w := bufio.NewWriter(f)
		for _, l := range lines {
			w.WriteString(l + "\n")
		}
		w.Flush()
		f.Close()
		return p
	}
	a := write("a.jsonl", `{"custom_id":"x","method":"POST","url":"/v1/responses","body":{"model":"gpt-5-mini","input":"hello","text":{"format":{"type":"text"}},"max_output_tokens":50}}`)
	b := write("b.jsonl", `{"custom_id":"y","method":"POST","url":"/v1/responses","body":{ "max_output_tokens" : 50, "text":{"format":{"type":"text"}} ,"input":"hello",  "model":"gpt-5-mini"}}`,
		`{"custom_id":"z","method":"POST","url":"/v1/responses","body":{"model":"gpt-5-mini","input":"hello!","max_output_tokens":50}}`)
	cfg := pipeline.Config{Source: pipeline.Source{Input: a}, Output: filepath.Join(dir, "a.results.jsonl"), BaseURL: base}
	if _, err := pipeline.Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	cfg.Input, cfg.Output, cfg.Reuse = b, filepath.Join(dir, "b.results.jsonl"), []string{filepath.Join(dir, "a.results.jsonl")}
	sum, err := pipeline.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	recs := readJournal(t, cfg.Output)
	ra := readJournal(t, filepath.Join(dir, "a.results.jsonl"))[0]
	var y results.Record
	for _, r := range recs {
		if r.CustomID == "y" {
			y = r
		}
	}
	if y.Reused == nil || y.RequestSHA256 != ra.RequestSHA256 || sum.Reused == nil || sum.Reused.Records != 1 || s.Stats().Requests != 2 {
		t.Errorf("y = %+v (a's sha %s), reused %+v, %d requests in all", y, ra.RequestSHA256, sum.Reused, s.Stats().Requests)
	}
}
