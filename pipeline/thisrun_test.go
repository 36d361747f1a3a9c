package pipeline_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/llmbatch/llmbatch/io/prices"
	"github.com/llmbatch/llmbatch/pipeline"
)

// After a resume, Progress tells this run's rows and cost apart from the
// journal's: Finished counts only the rows this run journalled (not the
// ones skipped as finished earlier), RunCost only their usage, and the
// two runs' RunCost add up to the journal's Cost.
func TestRun_ProgressCountsThisRun(t *testing.T) {
	dir := t.TempDir()
	in := writeInput(t, dir, 30)
	_, base := startSim(t, simDefault())
	cfg := baseConfig(dir, in, base)
	cfg.Prices = prices.Default()
	cfg.ProgressInterval = time.Millisecond
	var (
		mu   sync.Mutex
		last pipeline.Progress
	)
	cfg.Progress = func(p pipeline.Progress) {
		mu.Lock()
		defer mu.Unlock()
		if p.Finished < last.Finished && !last.Final {
			t.Errorf("Finished went down: %d after %d", p.Finished, last.Finished)
		}
		last = p
	}
	cfg.Limit = 10
	if _, err := pipeline.Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	first := last
	if !first.Final || first.Finished != 10 || first.Done != 10 {
		t.Fatalf("first run's final progress: final %v finished %d done %d, want true, 10, 10", first.Final, first.Finished, first.Done)
	}
	if first.RunCost != first.Cost || !first.Cost.Known || first.Cost.Amount <= 0 {
		t.Errorf("first run: RunCost %v, Cost %v: want the same known, non-zero amount", first.RunCost, first.Cost)
	}

	cfg.Limit = 0
	last = pipeline.Progress{}
	if _, err := pipeline.Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if !last.Final || last.Finished != 20 || last.Skipped != 10 || last.Done != 30 {
		t.Errorf("resumed run's final progress: final %v finished %d skipped %d done %d, want true, 20, 10, 30",
			last.Final, last.Finished, last.Skipped, last.Done)
	}
	if !last.RunCost.Known || last.RunCost.Amount+first.Cost.Amount != last.Cost.Amount {
		t.Errorf("resumed run: RunCost %v + first run's %v != journal cost %v", last.RunCost, first.Cost, last.Cost)
	}
}
