package main

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/llmbatch/llmbatch/io/sim"
)

// killLoopResult is one mode's row of the kill-loop table.
type killLoopResult struct {
	mode                 string
	kills, runs, rows    int
	createdTwice         int // rows whose request was created (sent) in more than one run
	extra                int // creations (sends) beyond one run per row
	paidTwice            int // answers billed by the simulator beyond one per row
	requests, gets, made int
}

// TestKillLoop_BackgroundVsOnline SIGKILLs the same job at random moments,
// in the default mode and in background mode, each against a simulator
// whose generations take 300-900ms, and resumes it until it is done.
// Both: 0 rows lost, 0 duplicates. Background mode: no row whose response
// id was journalled is ever created again; a row is created twice only
// when its create call was in flight at a kill. The table compares the
// rows created (sent) twice and paid twice.
func TestKillLoop_BackgroundVsOnline(t *testing.T) {
	if testing.Short() {
		t.Skip("kill loop runs real processes for several seconds")
	}
	var res []killLoopResult
	for _, mode := range []string{modeOnline, modeBackground} {
		res = append(res, killLoop(t, mode))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n%-11s %6s %5s %5s %19s %20s %15s %9s %6s\n", "mode", "kills", "runs", "rows", "rows created twice", "creates in later run", "paid twice (sim)", "requests", "polls")
	for _, r := range res {
		fmt.Fprintf(&b, "%-11s %6d %5d %5d %19d %20d %15d %9d %6d\n", r.mode, r.kills, r.runs, r.rows, r.createdTwice, r.extra, r.paidTwice, r.requests, r.gets)
	}
	b.WriteString("(online, a create is a request sent: one abandoned by a kill is billed by a real endpoint, not by the simulator)")
	t.Log(b.String())
}

func killLoop(t *testing.T, mode string) killLoopResult {
	const (
		rows        = 300
		concurrency = 15
		minKills    = 15
	)
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 11))
	t.Logf("%s: kill-loop seed %d", mode, seed)
	// The same generation time in both modes, 300-900ms: online, the
	// request takes it; in background, the create answers in 5-10ms and
	// the response ends 300-900ms later.
	cfg := sim.Config{Seed: 21, APIKey: "sk-test-process-0123456789", ServerError: 0.01, RateLimit: 0.01, RetryAfter: 20 * time.Millisecond}
	if mode == modeBackground {
		cfg.Latency, cfg.LatencyJitter = 5*time.Millisecond, 5*time.Millisecond
		cfg.BackgroundDelay, cfg.BackgroundJitter = 300*time.Millisecond, 600*time.Millisecond
	} else {
		cfg.Latency, cfg.LatencyJitter = 300*time.Millisecond, 600*time.Millisecond
	}
	s := sim.New(cfg)
	base, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	dir := t.TempDir()
	input := writeRows(t, dir, rows)
	journal := filepath.Join(dir, "results.jsonl")
	// In background mode at most 60 responses run at once (--max-pending),
	// four times the requests online mode has in flight.
	args := jobArgs(input, journal, base, "--concurrency", strconv.Itoa(concurrency), "--max-attempts", "20", "--mode", mode,
		"--poll-interval", "20ms", "--max-pending", "60")
	text := func(key string) string {
		i, _ := strconv.Atoi(strings.TrimPrefix(key, "k"))
		return fmt.Sprintf("Label the sentiment of: review number %d: it was fine", i)
	}

	r := killLoopResult{mode: mode, rows: rows}
	sentIn := map[string]int{} // row text or body hash -> runs in which it was created or sent
	prevCount := map[string]int{}
	counts := func() map[string]int { // per row: creations (background) or requests (online)
		if mode == modeBackground {
			return s.Creations()
		}
		m := map[string]int{}
		for sha, c := range s.Stats().PerBody {
			m[sha] = c[0]
		}
		return m
	}
	start := time.Now()
	prev := readJournalFile(t, journal)
	for done := false; !done; {
		killing := r.kills < minKills && time.Since(start) < 60*time.Second
		cmd, stderr := llmbatchCmd(t, args...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		r.runs++
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		var err error
		if killing {
			select {
			case err = <-exited:
			case <-time.After(time.Duration(50+rng.IntN(400)) * time.Millisecond):
				cmd.Process.Kill()
				err = <-exited
			}
		} else {
			select {
			case err = <-exited:
			case <-time.After(60 * time.Second):
				cmd.Process.Kill()
				<-exited
				t.Fatalf("%s: the final run did not end within 60s; stderr:\n%s", mode, stderr)
			}
		}
		switch status := exitStatus(t, cmd, err); status {
		case -9:
			r.kills++
		case 0:
			done = true
		default:
			t.Fatalf("%s: run %d exited with status %d; stderr:\n%s", mode, r.runs, status, stderr)
		}
		cur := readJournalFile(t, journal)
		now := counts()
		for k, c := range now {
			if c > prevCount[k] {
				sentIn[k]++
			}
		}
		// Rows journalled as finished before this run were not sent again;
		// in background mode, neither were rows whose id was journalled.
		if mode == modeBackground {
			marked := map[string]bool{}
			for _, m := range prev.marks {
				marked[m.Key] = true
			}
			for k := range marked {
				if tx := text(k); now[tx] != prevCount[tx] {
					t.Errorf("%s: run %d: row %s had its response id journalled, yet was created again (%d -> %d)", mode, r.runs, k, prevCount[tx], now[tx])
				}
			}
		} else {
			for sha := range prev.finished {
				if now[sha] != prevCount[sha] {
					t.Errorf("%s: run %d: a row finished before the run was sent again", mode, r.runs)
				}
			}
		}
		if testing.Verbose() {
			fresh, again := 0, 0
			for k, c := range now {
				if c > prevCount[k] {
					if prevCount[k] == 0 {
						fresh++
					} else {
						again++
					}
				}
			}
			t.Logf("%s run %d: %d rows sent first, %d again", mode, r.runs, fresh, again)
		}
		prev, prevCount = cur, now
	}
	final := readJournalFile(t, journal)
	checkComplete(t, final, rows)
	st := s.Stats()
	for _, c := range st.PerBody {
		r.paidTwice += max(c[1]-1, 0)
	}
	for _, n := range sentIn {
		if n > 1 {
			r.createdTwice++
			r.extra += n - 1
		}
	}
	if mode == modeBackground {
		// A create can be made twice within one run too (its answer lost
		// to an injected fault or a reset after the response existed,
		// then retried; a response gone or failed, created anew): every
		// creation beyond a row's first may be paid.
		r.extra = 0
		for _, n := range s.Creations() {
			r.extra += max(n-1, 0)
		}
	}
	r.requests, r.gets, r.made = st.Requests, st.Background.Gets, st.Background.Created
	if r.kills < 10 {
		t.Errorf("%s: only %d kills before the job finished, want at least 10", mode, r.kills)
	}
	if r.createdTwice > r.kills*concurrency {
		t.Errorf("%s: %d rows created twice, more than the %d kills could have had in flight", mode, r.createdTwice, r.kills)
	}
	if r.paidTwice > r.extra {
		t.Errorf("%s: %d answers paid twice, more than the %d sends in a later run", mode, r.paidTwice, r.extra)
	}
	if mode == modeBackground {
		if st.Background.Completed != rows+r.paidTwice {
			t.Errorf("%s: sim completed %d responses for %d rows and %d paid twice", mode, st.Background.Completed, rows, r.paidTwice)
		}
		if len(final.marks) < rows {
			t.Errorf("%s: %d marks in the journal, want one per row at least", mode, len(final.marks))
		}
	}
	return r
}
