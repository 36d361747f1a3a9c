package pipeline_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/llmbatch/llmbatch/io/sim"
	"github.com/llmbatch/llmbatch/pipeline"
)

// BenchmarkRun_Fsync measures what the journal's fsync policy costs: a job
// of 2,000 rows against a zero-latency simulated endpoint, with an fsync
// after every record, at most every second (the default), and only at
// exit.
func BenchmarkRun_Fsync(b *testing.B) {
	const n = 2000
	for _, c := range []struct {
		name string
		iv   time.Duration
	}{{"every-record", time.Nanosecond}, {"every-second", 0}, {"exit-only", -1}} {
		b.Run(c.name, func(b *testing.B) {
			dir := b.TempDir()
			input := writeInput(b, dir, n)
			_, base := startSim(b, sim.Config{Seed: 1})
			cfg := baseConfig(dir, input, base)
			cfg.SyncInterval = c.iv
			var rows int64
			b.ResetTimer()
			for range b.N {
				os.Remove(cfg.Output)
				sum, err := pipeline.Run(context.Background(), cfg)
				if err != nil {
					b.Fatal(err)
				}
				rows += sum.Rows.OK
			}
			b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
