package main

import (
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestKillLoop runs a job as a real process, SIGKILLs it at random moments
// and resumes it until it is done, against the simulated endpoint running
// as its own process. It checks the promise: every row ends with exactly
// one final record, no line is malformed, no row journalled as finished is
// ever sent again, and the answers a kill throws away never exceed the
// requests that were in flight.
func TestKillLoop(t *testing.T) {
	if testing.Short() {
		t.Skip("kill loop runs real processes for several seconds")
	}
	const (
		rows        = 3000
		concurrency = 15
		minKills    = 25
	)
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 5))
	t.Logf("kill-loop seed %d", seed)

	dir := t.TempDir()
	input := writeRows(t, dir, rows)
	journal := filepath.Join(dir, "results.jsonl")
	sim := startSimProc(t, "--latency", "20ms", "--latency-jitter", "20ms", "--seed", "7",
		"--server-error", "0.02", "--rate-limit", "0.01", "--retry-after", "50ms")
	args := jobArgs(input, journal, sim.base, "--concurrency", strconv.Itoa(concurrency), "--max-attempts", "20")

	var (
		kills, runs, tornSeen, tornReported, lostAnswers, maxLost int
		done                                                      bool
	)
	start := time.Now()
	prev := readJournalFile(t, journal)
	prevStats := sim.stats(t)
	for !done {
		killing := kills < minKills && time.Since(start) < 40*time.Second
		cmd, stderr := llmbatchCmd(t, args...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		runs++
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		var err error
		if killing {
			select {
			case err = <-exited:
			case <-time.After(time.Duration(20+rng.IntN(280)) * time.Millisecond):
				cmd.Process.Kill()
				err = <-exited
			}
		} else {
			select {
			case err = <-exited:
			case <-time.After(60 * time.Second):
				cmd.Process.Kill()
				<-exited
				t.Fatalf("the final run did not end within 60s; stderr:\n%s", stderr)
			}
		}
		status := exitStatus(t, cmd, err)
		switch status {
		case -9:
			kills++
		case 0:
			done = true
		default:
			t.Fatalf("run %d exited with status %d; stderr:\n%s", runs, status, stderr)
		}
		if strings.Contains(stderr.String(), "cut a torn last line") {
			tornReported++
		}

		cur := readJournalFile(t, journal)
		stats := settledStats(t, sim)
		if cur.torn {
			tornSeen++
		}
		// No row that was finished in the journal before this run was sent
		// by this run (or by anyone after).
		for sha := range prev.finished {
			if got, was := stats.PerBody[sha][0], prevStats.PerBody[sha][0]; got != was {
				t.Errorf("run %d: row with body %s was finished in the journal before the run, yet the sim got %d more requests for it", runs, sha[:12], got-was)
			}
		}
		// Answers this run got from the sim but that did not reach the
		// journal: at most the requests in flight when it was killed.
		lost := 0
		for sha, c := range stats.PerBody {
			if c[1] > prevStats.PerBody[sha][1] && !cur.finished[sha] {
				lost++
			}
		}
		if lost > concurrency {
			t.Errorf("run %d: %d answers completed by the sim are missing from the journal, more than the %d requests in flight", runs, lost, concurrency)
		}
		lostAnswers += lost
		maxLost = max(maxLost, lost)
		prev, prevStats = cur, stats
	}

	final := readJournalFile(t, journal)
	checkComplete(t, final, rows)
	stats := sim.stats(t)
	resent := 0 // rows the sim answered in full more than once: paid twice
	for _, l := range final.lines {
		c, ok := stats.PerBody[l.RequestSHA256]
		if !ok || c[1] == 0 {
			t.Errorf("row %s: the sim never completed its body %s", l.CustomID, l.RequestSHA256)
		}
		if c[1] > 1 {
			resent += c[1] - 1
		}
	}
	if resent > lostAnswers {
		t.Errorf("%d answers paid twice, more than the %d answers lost at kills", resent, lostAnswers)
	}
	if len(stats.PerBody) != rows {
		t.Errorf("sim saw %d distinct bodies, want %d", len(stats.PerBody), rows)
	}
	if tornReported < tornSeen {
		t.Errorf("%d torn tails found after kills, but resumes reported only %d cuts", tornSeen, tornReported)
	}
	if kills < 20 {
		t.Errorf("only %d kills before the job finished, want at least 20", kills)
	}
	t.Logf("kill loop: %d rows, %d runs, %d SIGKILLs, %d journal lines; %d rows paid twice (answers lost at kills: %d in all, at most %d at one kill, with %d in flight at most); 0 rows lost; %d torn tails found, %d cuts reported on resume; sim: %d requests, %d completed",
		rows, runs, kills, len(final.lines), resent, lostAnswers, maxLost, concurrency, tornSeen, tornReported, stats.Requests, stats.Completed)
}

// settledStats reads the simulator's counts once they stop moving: after a
// kill, the simulator may still be counting an answer it wrote to the dead
// process (the count follows the write), and a count read too early would
// show that answer in the next run, as paid twice but never lost.
func settledStats(tb testing.TB, sim *simProc) simStats {
	tb.Helper()
	st := sim.stats(tb)
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		next := sim.stats(tb)
		if next.Requests == st.Requests && next.Completed == st.Completed {
			return next
		}
		st = next
	}
	return st
}
