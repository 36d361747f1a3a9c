package main

import (
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"
)

// TestKillResume_ChatAndEmbeddings SIGKILLs a chat and an embeddings job
// (packed rows) a few times and resumes it: every row ends with exactly
// one final record, so no finished row was sent and journalled again and
// none was lost.
func TestKillResume_ChatAndEmbeddings(t *testing.T) {
	skipShort(t)
	for _, endpoint := range []string{"chat", "embeddings"} {
		t.Run(endpoint, func(t *testing.T) {
			t.Parallel()
			const rows = 600
			dir := t.TempDir()
			input := writeRows(t, dir, rows)
			journal := filepath.Join(dir, "results.jsonl")
			sim := startSimProc(t, "--latency", "10ms", "--latency-jitter", "20ms", "--seed", "3",
				"--server-error", "0.02", "--rate-limit", "0.02", "--retry-after", "20ms", "--shuffle-embeddings")
			args := jobArgs(input, journal, sim.base, "--endpoint", endpoint, "--concurrency", "8", "--max-attempts", "20")
			if endpoint == "embeddings" {
				args = append(args, "--model", "text-embedding-3-small", "--embed-batch", "8")
			}
			rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 9))
			kills := 0
			for run := 1; ; run++ {
				cmd, stderr := llmbatchCmd(t, args...)
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				exited := make(chan error, 1)
				go func() { exited <- cmd.Wait() }()
				var err error
				if kills < 4 {
					select {
					case err = <-exited:
					case <-time.After(time.Duration(100+rng.IntN(300)) * time.Millisecond):
						cmd.Process.Kill()
						err = <-exited
					}
				} else {
					select {
					case err = <-exited:
					case <-time.After(60 * time.Second):
						cmd.Process.Kill()
						t.Fatalf("the final run did not end; stderr:\n%s", stderr)
					}
				}
				switch st := exitStatus(t, cmd, err); st {
				case -9:
					kills++
					continue
				case 0:
				default:
					t.Fatalf("run %d exited %d; stderr:\n%s", run, st, stderr)
				}
				break
			}
			checkComplete(t, readJournalFile(t, journal), rows)
			if kills == 0 {
				t.Errorf("no kill happened: the job finished too fast to test resume")
			}
		})
	}
}
