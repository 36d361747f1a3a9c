package results_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/llmbatch/llmbatch/io/prices"
	"github.com/llmbatch/llmbatch/io/results"
)

// A record's tier is read back by the resume scan (fast and slow paths)
// and ReadAll, and its usage is priced at the tier's multiplier in the
// totals, the summary and the report; marks are skipped.
func TestTier_PricedAtBatchPrices(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "r.jsonl")
	lines := `{"kind":"batch_file","id":"file-1","data":{"keys":["a","b"]}}
{"custom_id":"a","index":0,"response":null,"error":null,"usage":{"input_tokens":1000000,"cached_input_tokens":0,"output_tokens":1000000},"model":"gpt-5-mini","attempts":1,"latency_ms":0,"tier":"batch"}
{"custom_id":"b","index":1,"response":null,"error":null,"usage":{"input_tokens":1000000,"cached_input_tokens":0,"output_tokens":1000000},"model":"gpt-5-mini","attempts":1,"latency_ms":0}
{"custom_id":"c","index":2,"response":null,"error":null,"usage":{"input_tokens":1000000,"output_tokens":1000000},"model":"gpt-5-mini","attempts":1,"tier":"batch","latency_ms":0,"\u0074ime":"2026-11-30T00:00:00Z"}
`
	if err := os.WriteFile(path, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	// gpt-5-mini: 0.25 in, 2.00 out a 1M tokens; batch half of it.
	std, _ := prices.ParseUSD("2.25")
	half, _ := prices.ParseUSD("1.125")
	want := std + 2*half

	tot := results.NewTotals()
	var tiers []string
	if _, err := results.Scan(path, func(r *results.Record) { tot.Add(r); tiers = append(tiers, r.Tier) }); err != nil {
		t.Fatal(err)
	}
	if len(tiers) != 3 || tiers[0] != "batch" || tiers[1] != "" || tiers[2] != "batch" {
		t.Fatalf("tiers read %q", tiers)
	}
	c := results.PriceTiers(prices.Default(), tot.Usage, tot.Tiers)
	if c.Total.Amount != want || c.PerTier["batch"].Amount != 2*half || c.PerModel["gpt-5-mini"].Amount != want {
		t.Errorf("cost %+v, want total %s, batch %s", c, want, 2*half)
	}
	var s results.Summary
	s.Fill(tot, 3)
	s.FillCost(prices.Default())
	if s.Cost.Total.Amount != want {
		t.Errorf("summary cost %s, want %s", s.Cost.Total, want)
	}
	rep := results.NewReport(prices.Default())
	if _, err := results.ReadAll([]string{path}, 0, func(r *results.Record, _ bool) error { rep.Add(r); return nil }); err != nil {
		t.Fatal(err)
	}
	rep.Finish()
	if rep.Cost.Total.Amount != want || rep.Cost.PerTier["batch"].Amount != 2*half {
		t.Errorf("report cost %+v, want %s", rep.Cost, want)
	}
}
