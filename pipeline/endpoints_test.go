package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/llmbatch/llmbatch/io/api"
	"github.com/llmbatch/llmbatch/io/embeddings"
	"github.com/llmbatch/llmbatch/io/sim"
	"github.com/llmbatch/llmbatch/pipeline"
)

func mustAPI(t *testing.T, name string) api.API {
	t.Helper()
	a, ok := pipeline.LookupAPI(name)
	if !ok {
		t.Fatalf("no API %q", name)
	}
	return a
}

// Every endpoint, through the same run loop, with 429s, 5xx and resets:
// every row journalled once, ok, and the journal's usage equal to what
// the simulator billed on that endpoint.
func TestRun_EachEndpointWithFaults(t *testing.T) {
	for _, name := range pipeline.APINames() {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			const n = 500
			s, base := startSim(t, sim.Config{Seed: 11, RateLimit: 0.1, ServerError: 0.05, Reset: 0.03,
				RetryAfter: 2 * time.Millisecond, ShuffleEmbeddings: true})
			cfg := baseConfig(dir, writeInput(t, dir, n), base)
			cfg.API = mustAPI(t, name)
			if name == "embeddings" {
				// Packs of 4: enough requests for the faults to hit
				// some, each answer shuffled.
				cfg.Model, cfg.Body, cfg.PackSize = "text-embedding-3-small", []byte(`{"dimensions": 8}`), 4
			}
			sum, err := pipeline.Run(context.Background(), cfg)
			if err != nil {
				t.Fatalf("Run() error = %v", err)
			}
			recs := readJournal(t, cfg.Output)
			seen := map[string]bool{}
			var usage api.Usage
			for _, r := range recs {
				if r.Error != nil {
					t.Errorf("row %s: error %+v", r.CustomID, r.Error)
				}
				if seen[r.CustomID] {
					t.Errorf("row %s journalled twice", r.CustomID)
				}
				seen[r.CustomID] = true
				usage.Add(r.Usage)
				if name == "embeddings" {
					var i int
					fmt.Sscanf(r.CustomID, "k%05d", &i)
					want := sim.Embedding(cfg.Model, fmt.Sprintf("Label the sentiment of: review number %d: it was fine", i), 8)
					got, err := embeddings.Vector(r.Response.Body)
					if err != nil || !slices.Equal(got, want) {
						t.Fatalf("row %s: vector %v (%v), want the simulator's %v", r.CustomID, got, err, want)
					}
				} else if r.OutputText == "" {
					t.Errorf("row %s: no output_text", r.CustomID)
				}
			}
			if len(seen) != n || sum.Rows.OK != n {
				t.Fatalf("%d keys, %d ok; want %d", len(seen), sum.Rows.OK, n)
			}
			st := s.Stats()
			ep := st.Endpoints[name]
			if usage.InputTokens != ep.InputTokens || usage.OutputTokens != ep.OutputTokens {
				t.Errorf("journal usage in %d out %d; the simulator billed in %d out %d on %s",
					usage.InputTokens, usage.OutputTokens, ep.InputTokens, ep.OutputTokens, name)
			}
			if sum.Run.Retries == 0 || st.Faults[sim.FaultReset] == 0 {
				t.Errorf("no retries (%d) or no resets (%v): the faults were not exercised", sum.Run.Retries, st.Faults)
			}
		})
	}
}

// A server that offers only chat completions: --endpoint chat works.
func TestRun_ChatOnlyServer(t *testing.T) {
	dir := t.TempDir()
	s, base := startSim(t, sim.Config{Seed: 2, NoResponses: true})
	cfg := baseConfig(dir, writeInput(t, dir, 30), base)
	cfg.API = mustAPI(t, "chat")
	sum, err := pipeline.Run(context.Background(), cfg)
	if err != nil || sum.Rows.OK != 30 {
		t.Fatalf("Run() = %+v, %v; want 30 ok", sum.Rows, err)
	}
	if got := s.Stats().Endpoints[sim.EndpointResponses].Requests; got != 0 {
		t.Errorf("%d requests reached /responses", got)
	}
}

// Every goroutine Run starts (workers, writer, progress, the input count,
// the HTTP connections of the client it builds) ends before it returns,
// also when it is interrupted early.
func TestRun_LeavesNoGoroutines(t *testing.T) {
	dir := t.TempDir()
	_, base := startSim(t, sim.Config{Seed: 5, Latency: 5 * time.Millisecond})
	before := runtime.NumGoroutine()
	cfg := baseConfig(dir, writeInput(t, dir, 2000), base)
	cfg.Progress = func(pipeline.Progress) {}
	cfg.ProgressInterval = time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	if _, err := pipeline.Run(ctx, cfg); !errors.Is(err, pipeline.ErrInterrupted) {
		t.Fatalf("Run() = %v, want interrupted", err)
	}
	// The simulator's side of closed connections ends asynchronously.
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines after Run, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}
