package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/llmbatch/llmbatch/io/results"
)

// shardCmd is the llmbatch process of one index of a Kubernetes Indexed
// Job: JOB_COMPLETION_INDEX set, as the Job controller sets it.
func shardCmd(tb testing.TB, index int, args ...string) (*exec.Cmd, *syncBuffer) {
	cmd, stderr := llmbatchCmd(tb, args...)
	cmd.Env = append(cmd.Env, "JOB_COMPLETION_INDEX="+strconv.Itoa(index))
	return cmd, stderr
}

// simBilling is what GET /_sim/stats says was billed.
type simBilling struct {
	Requests     int               `json:"requests"`
	Completed    int               `json:"completed"`
	InputTokens  int64             `json:"input_tokens"`
	OutputTokens int64             `json:"output_tokens"`
	ByStatus     map[string]int    `json:"by_status"`
	PerBody      map[string][2]int `json:"per_body"`
}

func (s *simProc) billing(tb testing.TB) simBilling {
	tb.Helper()
	resp, err := http.Get(s.base + "/_sim/stats")
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var st simBilling
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		tb.Fatal(err)
	}
	return st
}

// TestIndexedJob_KillsAndRestarts simulates a Kubernetes Indexed Job on
// one machine: N llmbatch processes, JOB_COMPLETION_INDEX 0..N-1 and
// --shards N, against one simulator running as its own process; each
// index is SIGKILLed at random moments and restarted, as the Job
// controller restarts a failed index, until it exits 0. Then: every row
// has exactly one final record across the shards' journals (none
// duplicated in another shard, none lost), and `report` over the quoted
// glob adds up to what the simulator billed, less only the answers a kill
// threw away before they were journalled (each re-paid once, counted).
func TestIndexedJob_KillsAndRestarts(t *testing.T) {
	skipShort(t)
	const (
		shards      = 4
		rows        = 2000
		concurrency = 8
		killsPer    = 4
	)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	dir := t.TempDir()
	input := writeRows(t, dir, rows)
	out := filepath.Join(dir, "results.jsonl")
	sim := startSimProc(t, "--latency", "20ms", "--latency-jitter", "20ms", "--seed", "11",
		"--server-error", "0.02", "--rate-limit", "0.01", "--retry-after", "50ms")
	args := jobArgs(input, out, sim.base, "--shards", strconv.Itoa(shards), "--concurrency", strconv.Itoa(concurrency), "--max-attempts", "20")

	var (
		mu    sync.Mutex
		kills = make([]int, shards)
		runs  = make([]int, shards)
		wg    sync.WaitGroup
	)
	start := time.Now()
	for i := range shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(i)))
			for k := 0; ; {
				killing := k < killsPer && time.Since(start) < 40*time.Second
				cmd, stderr := shardCmd(t, i, args...)
				if err := cmd.Start(); err != nil {
					t.Error(err)
					return
				}
				exited := make(chan error, 1)
				go func() { exited <- cmd.Wait() }()
				var err error
				wait := 90 * time.Second
				if killing {
					wait = time.Duration(50+rng.IntN(400)) * time.Millisecond
				}
				select {
				case err = <-exited:
				case <-time.After(wait):
					cmd.Process.Kill()
					err = <-exited
					if !killing {
						t.Errorf("index %d did not end within %s; stderr:\n%s", i, wait, stderr)
						return
					}
				}
				mu.Lock()
				runs[i]++
				mu.Unlock()
				switch status := exitStatus(t, cmd, err); status {
				case -9:
					k++
					mu.Lock()
					kills[i]++
					mu.Unlock()
				case 0:
					return
				default:
					// The pod failure policy retries 130 and 1 (see the
					// README); anything else fails the index.
					t.Errorf("index %d exited %d; stderr:\n%s", i, status, stderr)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if t.Failed() {
		return
	}

	// Every row exactly once across the shards.
	final := map[string]int{}      // key -> final records over all shards
	shardOf := map[string]int{}    // key -> shard of its first final record
	perBody := map[string]int{}    // request sha -> records with a 200
	usage := map[string][2]int64{} // request sha -> its answer's tokens
	dups := 0
	for i := range shards {
		path := results.ShardPath(out, i, shards)
		if _, err := results.ReadEach([]string{path}, 0, func(r *results.Record) error {
			if r.Error == nil || !r.Error.Retryable {
				if s, ok := shardOf[r.CustomID]; ok && s != i {
					t.Errorf("row %s journalled by shard %d and shard %d", r.CustomID, s, i)
				}
				shardOf[r.CustomID] = i
				if final[r.CustomID]++; final[r.CustomID] > 1 {
					dups++
				}
			}
			if r.Usage.InputTokens > 0 {
				perBody[r.RequestSHA256]++
				usage[r.RequestSHA256] = [2]int64{r.Usage.InputTokens, r.Usage.OutputTokens}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	lost := 0
	for i := range rows {
		if final[fmt.Sprintf("k%06d", i)] == 0 {
			lost++
		}
	}
	if dups > 0 || lost > 0 || len(final) != rows {
		t.Errorf("%d rows journalled more than once, %d lost, %d keys (want %d)", dups, lost, len(final), rows)
	}

	// report over the glob equals the sim's billing, less the answers
	// thrown away at kills (paid, never journalled).
	code, stdout, stderr := runLLMBatchOut(t, "report", "--json", filepath.Join(dir, "results.shard-*.jsonl"))
	if code != 0 {
		t.Fatalf("report: exit %d: %s", code, stderr)
	}
	var rep struct {
		Rows        struct{ OK int64 }
		Usage       results.UsageSum
		RateLimited int64 `json:"rate_limited"`
		Shards      results.ShardSet
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatal(err)
	}
	st := sim.billing(t)
	var thrownIn, thrownOut int64
	thrown := 0
	for sha, c := range st.PerBody {
		if extra := c[1] - perBody[sha]; extra > 0 {
			thrown += extra
			thrownIn += int64(extra) * usage[sha][0]
			thrownOut += int64(extra) * usage[sha][1]
		}
	}
	if rep.Rows.OK != rows || len(rep.Shards.Missing) != 0 || len(rep.Shards.Unfinished) != 0 {
		t.Errorf("report: %d ok, shards %+v", rep.Rows.OK, rep.Shards)
	}
	if got := rep.Usage.Total.InputTokens + thrownIn; got != st.InputTokens {
		t.Errorf("report input tokens %d + %d thrown away at kills = %d, sim billed %d", rep.Usage.Total.InputTokens, thrownIn, got, st.InputTokens)
	}
	if got := rep.Usage.Total.OutputTokens + thrownOut; got != st.OutputTokens {
		t.Errorf("report output tokens %d + %d thrown away at kills = %d, sim billed %d", rep.Usage.Total.OutputTokens, thrownOut, got, st.OutputTokens)
	}
	if thrown > (sumInts(kills))*concurrency {
		t.Errorf("%d answers thrown away at %d kills, more than %d in flight each", thrown, sumInts(kills), concurrency)
	}
	t.Logf("indexed job: N=%d, kills=%d (runs %v), rows=%d, duplicates=%d, lost=%d, answers re-paid after kills=%d, 429s=%d, %.0f rows/s in %.1fs (no limit)",
		shards, sumInts(kills), runs, rows, dups, lost, thrown, st.ByStatus["429"], float64(rows)/elapsed.Seconds(), elapsed.Seconds())
}

func sumInts(v []int) (n int) {
	for _, x := range v {
		n += x
	}
	return n
}

// runLLMBatchOut runs the binary to its end and returns its exit status,
// stdout and stderr.
func runLLMBatchOut(tb testing.TB, args ...string) (int, string, string) {
	tb.Helper()
	cmd, stderr := llmbatchCmd(tb, args...)
	var stdout syncBuffer
	cmd.Stdout = &stdout
	err := cmd.Run()
	return exitStatus(tb, cmd, err), stdout.String(), stderr.String()
}

// TestIndexedJob_SharedRateLimit runs N shards against one simulator that
// enforces a requests-per-minute limit, each given --rpm set to that limit
// (the job's total, which the shards divide among them), or no --rpm at
// all (the limit learned from the x-ratelimit-* headers, the key's, which
// the shards share too). Together they stay near the limit with few
// 429s. (Undivided, each shard paced to the whole limit: N times too
// fast, and the simulator refused the excess with hundreds of 429s.)
func TestIndexedJob_SharedRateLimit(t *testing.T) {
	skipShort(t)
	const (
		shards = 4
		rpm    = 2400 // 40 requests a second
		rows   = 400  // ~10 s at the limit
	)
	for _, tc := range []struct {
		name string
		flag []string
		most int // 429s
	}{
		{"rpm-flag", []string{"--rpm", strconv.Itoa(rpm)}, rows / 20},
		// A learned limit is known only after the first answers: each
		// shard's opening meets the bucket (empty here) before it.
		{"learned-from-headers", nil, rows / 8},
	} {
		t.Run(tc.name, func(t *testing.T) { sharedLimit(t, shards, rpm, rows, tc.most, tc.flag) })
	}
}

func sharedLimit(t *testing.T, shards, rpm, rows, most int, flags []string) {
	dir := t.TempDir()
	input := writeRows(t, dir, rows)
	out := filepath.Join(dir, "results.jsonl")
	sim := startSimProc(t, "--latency", "10ms", "--seed", "3", "--rpm", strconv.Itoa(rpm), "--start-empty")
	args := jobArgs(input, out, sim.base, append([]string{"--shards", strconv.Itoa(shards), "--concurrency", "8"}, flags...)...)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd, stderr := shardCmd(t, i, args...)
			done := make(chan error, 1)
			if err := cmd.Start(); err != nil {
				t.Error(err)
				return
			}
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if code := exitStatus(t, cmd, err); code != 0 {
					t.Errorf("index %d exited %d:\n%s", i, code, stderr)
				}
			case <-time.After(90 * time.Second):
				cmd.Process.Kill()
				<-done
				t.Errorf("index %d did not end within 90s", i)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	st := sim.billing(t)
	limited := st.ByStatus["429"]
	rate := float64(rows) / elapsed.Seconds()
	t.Logf("shared limit: N=%d, rows=%d, 429s=%d, %.1f rows/s against the limit's %.1f/s (%.0f%%), %d requests",
		shards, rows, limited, rate, float64(rpm)/60, 100*rate/(float64(rpm)/60), st.Requests)
	if st.Completed != rows {
		t.Errorf("sim completed %d, want %d", st.Completed, rows)
	}
	if limited > most {
		t.Errorf("%d 429s for %d rows, want at most %d: the shards together went past the limit", limited, rows, most)
	}
}
