package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/llmbatch/llmbatch/io/prices"
	"github.com/llmbatch/llmbatch/io/results"
	"github.com/llmbatch/llmbatch/pipeline"
)

// runCLI runs the command line args as main would and returns the exit
// status, stdout and stderr.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	env := environ{getenv: func(string) string { return "" }, stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr}
	code := run(context.Background(), args, env)
	return code, stdout.String(), stderr.String()
}

func TestCLI_CostCommands(t *testing.T) {
	dir := t.TempDir()
	in := writeRows(t, dir, 120)
	out := filepath.Join(dir, "results.jsonl")
	body := filepath.Join(dir, "body.json")
	os.WriteFile(body, []byte(`{"max_output_tokens": 300}`), 0o644)
	common := []string{"--sim", "--quiet", "--id-column", "id", "--prompt", "Label: {{.text}}", "--body", body}

	// estimate takes run's command line as it is; stdout carries only the estimate.
	code, stdout, stderr := runCLI(t, append(append([]string{"estimate"}, common...), in, "-o", out, "--json")...)
	if code != exitOK {
		t.Fatalf("estimate: exit %d, stderr %s", code, stderr)
	}
	var est pipeline.JobEstimate
	if err := json.Unmarshal([]byte(stdout), &est); err != nil {
		t.Fatalf("estimate --json: %v: %s", err, stdout)
	}
	if est.Rows != 120 || est.Total.OutputHigh != 120*300 || !est.Total.CostHigh.Known {
		t.Errorf("estimate = %+v", est)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("estimate created the journal")
	}

	// A cap that stops the job: exit 3 and a message saying how to resume.
	code, _, stderr = runCLI(t, append(append([]string{"run"}, common...), in, "-o", out, "--max-cost", "0.002")...)
	if code != exitStopped || !strings.Contains(stderr, "re-run with a higher --max-cost") {
		t.Fatalf("run --max-cost: exit %d, stderr %s", code, stderr)
	}
	code, _, stderr = runCLI(t, append(append([]string{"run"}, common...), in, "-o", out, "--max-cost", "5")...)
	if code != exitOK {
		t.Fatalf("resume with a higher cap: exit %d, stderr %s", code, stderr)
	}
	sum := readSummaryFile(t, out)

	// report agrees with the summary on rows and cost.
	code, stdout, stderr = runCLI(t, "report", "--json", out)
	if code != exitOK {
		t.Fatalf("report: exit %d, stderr %s", code, stderr)
	}
	var rep results.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("report --json: %v", err)
	}
	if rep.Rows.OK != 120 || rep.Cost.Total != sum.Cost.Total || rep.Usage.Total != sum.Usage.Total {
		t.Errorf("report rows %+v cost %v usage %+v; summary cost %v usage %+v", rep.Rows, rep.Cost.Total, rep.Usage.Total, sum.Cost.Total, sum.Usage.Total)
	}
	code, stdout, _ = runCLI(t, "report", out)
	if code != exitOK || !strings.Contains(stdout, "rows: 120 keys: 120 ok") || !strings.Contains(stdout, sum.Cost.Total.String()) {
		t.Errorf("report table: exit %d:\n%s", code, stdout)
	}

	// export to Parquet: the cost column sums to the summary's cost.
	pq := filepath.Join(dir, "out.parquet")
	code, stdout, stderr = runCLI(t, "export", out, "-o", pq)
	if code != exitOK || stdout != "" {
		t.Fatalf("export: exit %d, stdout %q, stderr %s", code, stdout, stderr)
	}
	rows, err := parquet.ReadFile[results.ExportRow](pq)
	if err != nil {
		t.Fatal(err)
	}
	var cost int64
	for _, r := range rows {
		cost += *r.CostUSD
	}
	if len(rows) != 120 || cost != int64(sum.Cost.Total.Amount) {
		t.Errorf("export: %d rows, cost %d pico; want 120, %d", len(rows), cost, sum.Cost.Total.Amount)
	}

	// Usage mistakes exit 2.
	for _, args := range [][]string{{"report"}, {"export", out}, {"export", out, "-o", "x.txt"}, {"report", filepath.Join(dir, "none.jsonl")}} {
		if code, _, _ := runCLI(t, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
}

// TestCLI_MaxCostStopsNearTheCap: with no max_output_tokens and 32 in
// flight, --max-cost lets the job spend most of its cap (requests that do
// not fit wait for those in flight), then exits 3 saying what was spent,
// the cap, and how to resume.
func TestCLI_MaxCostStopsNearTheCap(t *testing.T) {
	dir := t.TempDir()
	in := writeRows(t, dir, 150)
	out := filepath.Join(dir, "results.jsonl")
	args := []string{"run", "--sim", "--quiet", "--id-column", "id", "--prompt", "Label: {{.text}}", "--concurrency", "32", in, "-o", out}
	code, _, stderr := runCLI(t, append(args, "--max-cost", "0.005")...)
	if code != exitStopped {
		t.Fatalf("run --max-cost 0.005: exit %d, want %d; stderr %s", code, exitStopped, stderr)
	}
	sum := readSummaryFile(t, out)
	spent := sum.Cost.Total.Amount
	for _, want := range []string{"cost cap reached", "spent " + spent.String(), "--max-cost $0.005000", "re-run with a higher --max-cost"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not say %q:\n%s", want, stderr)
		}
	}
	if ratio := float64(spent) / float64(5*prices.Cent/10); ratio < 0.85 || ratio > 1 {
		t.Errorf("spent %v of a $0.005 cap (%.3f), want 85-100%%", spent, ratio)
	}
	code, _, stderr = runCLI(t, append(args, "--max-cost", "1")...)
	if code != exitOK {
		t.Fatalf("resume with a higher cap: exit %d, stderr %s", code, stderr)
	}
}
