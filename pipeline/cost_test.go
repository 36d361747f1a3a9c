package pipeline_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/llmbatch/llmbatch/io/prices"
	"github.com/llmbatch/llmbatch/io/sim"
	"github.com/llmbatch/llmbatch/pipeline"
)

// TestRun_CostByHand prices a sim job's journal by hand, with the
// gpt-5-mini list prices written out here, for both usage shapes the
// endpoint may send. Cached tokens are part of input and reasoning tokens
// part of output, so neither is added on top.
func TestRun_CostByHand(t *testing.T) {
	for _, shape := range []string{"openai", "chat"} {
		t.Run(shape, func(t *testing.T) {
			dir := t.TempDir()
			_, base := startSim(t, sim.Config{Seed: 3, Usage: shape})
			cfg := baseConfig(dir, writeInput(t, dir, 80), base)
			var final pipeline.Progress
			cfg.Progress = func(p pipeline.Progress) {
				if p.Final {
					final = p
				}
			}
			sum, err := pipeline.Run(context.Background(), cfg)
			if err != nil {
				t.Fatalf("Run() error = %v", err)
			}
			// gpt-5-mini: $0.25 / $0.025 / $2.00 per 1M tokens, i.e.
			// 250000 / 25000 / 2000000 picodollars a token.
			var want int64
			var cached, reasoning int64
			models := map[string]bool{}
			for _, r := range readJournal(t, cfg.Output) {
				u := r.Usage
				want += (u.InputTokens-u.CachedInputTokens)*250_000 + u.CachedInputTokens*25_000 + u.OutputTokens*2_000_000
				cached += u.CachedInputTokens
				reasoning += u.ReasoningTokens
				models[r.Model] = true
			}
			if cached == 0 || reasoning == 0 {
				t.Fatalf("the sim gave %d cached and %d reasoning tokens; the test needs both", cached, reasoning)
			}
			c := sum.Cost
			if c == nil || !c.Total.Known || int64(c.Total.Amount) != want {
				t.Fatalf("summary cost = %+v, want %d picodollars", c, want)
			}
			if len(c.Unknown) != 0 || c.AsOf == "" || len(c.PerModel) != len(models) {
				t.Errorf("summary cost = %+v, models %v", c, models)
			}
			if !final.Cost.Known || final.Cost.Amount != c.Total.Amount {
				t.Errorf("final progress cost = %v, want %v", final.Cost, c.Total)
			}
			// The summary file carries the same exact amount.
			if got := readSummary(t, cfg.Output).Cost; got == nil || got.Total != c.Total {
				t.Errorf("summary file cost = %+v, want %v", got, c.Total)
			}
		})
	}
}

func TestRun_UnknownModelCost(t *testing.T) {
	dir := t.TempDir()
	_, base := startSim(t, sim.Config{Seed: 1})
	cfg := baseConfig(dir, writeInput(t, dir, 20), base)
	cfg.Model = "my-local-model"
	var logs bytes.Buffer
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	sum, err := pipeline.Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run() error = %v", err)
	}
	if c := sum.Cost; c.Total.Known || !slices.Equal(c.Unknown, []string{"my-local-model"}) || c.PerModel["my-local-model"].Known {
		t.Errorf("cost = %+v, want unknown for my-local-model", c)
	}
	if n := strings.Count(logs.String(), "no price for this model"); n != 1 {
		t.Errorf("%d warnings about the unknown model, want 1:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "model=my-local-model") {
		t.Errorf("the warning does not name the model:\n%s", logs.String())
	}

	// A cap cannot be enforced without a price: refused, nothing sent.
	cfg.Output = filepath.Join(dir, "capped.jsonl")
	cfg.MaxCost = prices.Dollar
	_, err = pipeline.Run(context.Background(), cfg)
	var uerr *pipeline.UsageError
	if !errors.As(err, &uerr) || !strings.Contains(err.Error(), "my-local-model") {
		t.Errorf("Run() with --max-cost and an unknown model: error = %v, want a UsageError naming the model", err)
	}
	// --prices extends the table: the model is then priced.
	extra, err := prices.Load(strings.NewReader(`{"as_of":"2026-09-01","models":{"my-local-model":{"input":"0.10","output":"0.20"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Prices = prices.Default().Merge(extra)
	sum, err = pipeline.Run(context.Background(), cfg)
	if err != nil || !sum.Cost.Total.Known || sum.Cost.Total.Amount == 0 {
		t.Errorf("Run() with a price for the model: cost %+v, err %v", sum.Cost, err)
	}
}

// TestRun_MaxCost stops a job at its cap, then resumes it with a higher one.
func TestRun_MaxCost(t *testing.T) {
	dir := t.TempDir()
	const n = 200
	_, base := startSim(t, sim.Config{Seed: 5, RateLimit: 0.1, RetryAfter: 2 * 1e6})
	cfg := baseConfig(dir, writeInput(t, dir, n), base)
	cfg.Concurrency = 8
	cfg.Body = []byte(`{"max_output_tokens": 200}`)
	cfg.MaxCost = 10 * prices.Cent / 10 // $0.01: about a third of the job
	sum, err := pipeline.Run(context.Background(), cfg)
	var serr *pipeline.StopError
	if !errors.As(err, &serr) || !strings.Contains(err.Error(), "re-run with a higher Config.MaxCost") {
		t.Fatalf("Run() error = %v, want a StopError saying a higher --max-cost resumes", err)
	}
	spent := sum.Cost.Total.Amount
	// With max_output_tokens set, only the input estimate can be short:
	// at most (the sim's count - ours) input tokens per request in flight.
	// Bound it generously by 20 input tokens per request in flight.
	bound := cfg.MaxCost + prices.Money(cfg.Concurrency)*20*250_000
	if !sum.Cost.Total.Known || spent > bound || sum.Rows.OK == 0 || sum.Rows.OK >= n {
		t.Fatalf("after the cap: cost %v (cap %v, bound %v), %d rows ok of %d", sum.Cost.Total, cfg.MaxCost, bound, sum.Rows.OK, n)
	}
	t.Logf("cap %v: stopped at %v after %d of %d rows", cfg.MaxCost, spent, sum.Rows.OK, n)

	// The cap covers the journal, earlier runs included: re-running with
	// the same cap sends at most what the estimates left room for.
	again, err := pipeline.Run(context.Background(), cfg)
	if !errors.As(err, &serr) || again.Cost.Total.Amount > bound || again.Rows.OK >= n {
		t.Errorf("re-run with the same cap: cost %v, %d requests, err %v; want a StopError within the cap", again.Cost.Total, again.Run.Requests, err)
	}

	cfg.MaxCost = prices.Dollar
	sum, err = pipeline.Run(context.Background(), cfg)
	if err != nil || sum.Rows.OK != n {
		t.Fatalf("resume with a higher cap: %d rows ok, err %v; want %d, nil; %+v %+v", sum.Rows.OK, err, n, sum.Rows, sum.Run)
	}
	seen := map[string]bool{}
	for _, r := range readJournal(t, cfg.Output) {
		if r.Error == nil && seen[r.CustomID] {
			t.Errorf("row %s answered twice", r.CustomID)
		}
		seen[r.CustomID] = r.Error == nil
	}
}

// TestEstimate_VsSim compares the offline estimate with what the sim
// reports for the same rows. The sim counts input tokens as bytes/4 plus 4
// a message, not with a tokenizer, so the two differ; the difference is
// logged and bounded loosely.
func TestEstimate_VsSim(t *testing.T) {
	dir := t.TempDir()
	const n = 150
	_, base := startSim(t, sim.Config{Seed: 9})
	cfg := baseConfig(dir, writeInput(t, dir, n), base)
	cfg.Instructions = "You label product reviews. Answer with one word: positive, negative or neutral."
	cfg.Body = []byte(`{"max_output_tokens": 200}`)
	est, err := pipeline.Estimate(context.Background(), cfg, pipeline.EstimateOptions{})
	if err != nil {
		t.Fatalf("Estimate() error = %v", err)
	}
	if _, err := os.Stat(cfg.Output); !os.IsNotExist(err) {
		t.Errorf("Estimate() touched the journal: %v", err)
	}
	sum, err := pipeline.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	act := sum.Usage.Total
	if est.Rows != n || est.Total.OutputHigh != 200*n || est.Total.OutputLow != 0 {
		t.Errorf("estimate rows %d, output %d..%d; want %d, 0..%d", est.Rows, est.Total.OutputLow, est.Total.OutputHigh, n, 200*n)
	}
	diff := 100 * float64(est.Total.InputTokens-act.InputTokens) / float64(act.InputTokens)
	t.Logf("input tokens: estimate %d, sim %d: %+.1f%%", est.Total.InputTokens, act.InputTokens, diff)
	if math.Abs(diff) > 40 {
		t.Errorf("estimate is %+.1f%% off the sim's input count", diff)
	}
	if act.OutputTokens > est.Total.OutputHigh {
		t.Errorf("actual output %d above the high estimate %d", act.OutputTokens, est.Total.OutputHigh)
	}
	if !est.Total.CostHigh.Known || est.Total.CostHigh.Amount < sum.Cost.Total.Amount {
		t.Errorf("high cost %v below the actual %v", est.Total.CostHigh, sum.Cost.Total)
	}

	// --from: the journal's average output is the assumption.
	cfg.Body = nil
	fromEst, err := pipeline.Estimate(context.Background(), cfg, pipeline.EstimateOptions{From: cfg.Output})
	if err != nil {
		t.Fatal(err)
	}
	avg := (act.OutputTokens + n - 1) / n
	if fromEst.Assumption != avg || fromEst.Total.OutputLow != avg*n || fromEst.Total.OutputHigh != avg*n {
		t.Errorf("--from estimate: assumption %d, output %d..%d; want %d each row", fromEst.Assumption, fromEst.Total.OutputLow, fromEst.Total.OutputHigh, avg)
	}
	outDiff := 100 * float64(fromEst.Total.OutputHigh-act.OutputTokens) / float64(act.OutputTokens)
	t.Logf("output tokens with --from: estimate %d, sim %d: %+.1f%%", fromEst.Total.OutputHigh, act.OutputTokens, outDiff)

	// Nothing bounds the output: refused, naming the ways out.
	_, err = pipeline.Estimate(context.Background(), cfg, pipeline.EstimateOptions{})
	var uerr *pipeline.UsageError
	if !errors.As(err, &uerr) || !strings.Contains(err.Error(), "EstimateOptions.AssumeOutput") {
		t.Errorf("Estimate() without an output bound: error = %v, want a UsageError", err)
	}
}

// TestRun_MaxCostSpendsMostOfTheCap runs jobs with no max_output_tokens
// (the output is estimated from the answers) against the sim, which bills
// deterministically what it answers, with caps of 10 and 1000 times one
// request's cost, one request at a time and 64 in flight: each stops with
// a StopError having spent 90-100% of its cap.
//
// "One request's cost" is what the budget holds for a request: its cost at
// the 95th percentile of output tokens, which over the few answers a 10x
// cap allows is the most expensive answer. With gpt-5-mini the sim's
// output (2 tokens of text plus 16-63 of reasoning) spreads over 3.6x, so
// that cost is 1.5x the mean: a cap of 10x the mean cost stops anywhere
// above 1 - 1.5/10 = 85% of it, which the middle rows of the table check.
func TestRun_MaxCostSpendsMostOfTheCap(t *testing.T) {
	const rows = 1600
	dir := t.TempDir()
	input := writeInput(t, dir, rows)
	simCfg := sim.Config{Seed: 11, Latency: 500 * time.Microsecond, LatencyJitter: time.Millisecond}
	model, _ := prices.Default().Lookup("gpt-5-mini")

	// A request's mean and highest cost, from an uncapped run of 200 rows.
	_, base := startSim(t, simCfg)
	ref := baseConfig(dir, writeInput(t, t.TempDir(), 200), base)
	ref.Output = filepath.Join(dir, "ref.jsonl")
	if _, err := pipeline.Run(context.Background(), ref); err != nil {
		t.Fatalf("reference run: %v", err)
	}
	var each []prices.Money
	var sum prices.Money
	for _, r := range readJournal(t, ref.Output) {
		c := model.Cost(r.Usage.InputTokens, r.Usage.CachedInputTokens, r.Usage.OutputTokens)
		each = append(each, c)
		sum += c
	}
	slices.Sort(each)
	mean, high := sum/prices.Money(len(each)), each[len(each)-1]
	t.Logf("a request costs %v on average, %v at most", mean, high)

	for _, tt := range []struct {
		times       int64
		unit        string
		concurrency int
	}{
		{10, "max", 1}, {10, "max", 64},
		{10, "mean", 1}, {10, "mean", 64},
		{1000, "mean", 1}, {1000, "mean", 64},
	} {
		t.Run(fmt.Sprintf("cap=%dx%s/concurrency=%d", tt.times, tt.unit, tt.concurrency), func(t *testing.T) {
			srv, base := startSim(t, simCfg)
			cfg := baseConfig(dir, input, base)
			cfg.Output = filepath.Join(t.TempDir(), "out.jsonl")
			cfg.Concurrency = tt.concurrency
			unit, low := high, 0.90
			if tt.unit == "mean" {
				unit = mean
			}
			cfg.MaxCost = prices.Money(tt.times) * unit
			// The job stops once spent + the next estimate would pass the
			// cap; the estimate is at most the dearest request with its
			// output rounded up to its histogram bucket (1/32 wide).
			low = min(low, 1-float64(high)*(1+1.0/32)/float64(cfg.MaxCost))
			sum, err := pipeline.Run(context.Background(), cfg)
			var serr *pipeline.StopError
			if !errors.As(err, &serr) || !strings.Contains(err.Error(), "re-run with a higher Config.MaxCost") {
				t.Fatalf("Run() error = %v, want a StopError saying a higher --max-cost resumes", err)
			}
			// What was spent, priced by hand from the journal, equals the
			// summary; the journal's usage equals what the sim billed.
			var spent prices.Money
			var in, out int64
			for _, r := range readJournal(t, cfg.Output) {
				spent += model.Cost(r.Usage.InputTokens, r.Usage.CachedInputTokens, r.Usage.OutputTokens)
				in += r.Usage.InputTokens
				out += r.Usage.OutputTokens
			}
			if !sum.Cost.Total.Known || sum.Cost.Total.Amount != spent {
				t.Errorf("summary cost %v, journal priced by hand %v", sum.Cost.Total, spent)
			}
			if st := srv.Stats(); st.InputTokens != in || st.OutputTokens != out || int64(st.Completed) != sum.Rows.OK {
				t.Errorf("journal: %d rows, usage in %d out %d; sim billed %d answers, in %d out %d",
					sum.Rows.OK, in, out, st.Completed, st.InputTokens, st.OutputTokens)
			}
			ratio := float64(spent) / float64(cfg.MaxCost)
			t.Logf("cap %v (%dx %s), concurrency %d: spent %v in %d rows: spent/cap = %.3f",
				cfg.MaxCost, tt.times, tt.unit, tt.concurrency, spent, sum.Rows.OK, ratio)
			// Without max_output_tokens a request is held at the 95th
			// percentile of the outputs so far: the cap is passed by what
			// the answers in flight cost beyond their estimates (README).
			// One at a time the order, and so the result, is the same in
			// every run: within the cap. With many in flight, which
			// answers the estimate has learned from depends on timing; a
			// run seen under load passed the cap by 0.8 of the dearest
			// request. Past one dearest request the cap would not hold.
			top := 1.00
			if tt.concurrency > 1 {
				top = 1 + float64(high)/float64(cfg.MaxCost)
			}
			if ratio < low || ratio > top {
				t.Errorf("spent/cap = %.3f, want %.2f..%.3f", ratio, low, top)
			}
			if !strings.Contains(err.Error(), "spent "+spent.String()) || !strings.Contains(err.Error(), cfg.MaxCost.String()) {
				t.Errorf("the message does not say what was spent (%v) and the cap (%v): %v", spent, cfg.MaxCost, err)
			}
		})
	}
}
