//go:build unix

package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/llmbatch/llmbatch/io/sim"
)

// checkSentOnce checks that the journal holds each of n rows once, ok, and
// that the simulator got n requests.
func checkSentOnce(t *testing.T, journal string, n int, s *sim.Server) {
	t.Helper()
	seen := map[string]int{}
	for _, r := range readRecords(t, journal) {
		if r.Error != nil {
			t.Errorf("row %s: %+v", r.CustomID, r.Error)
		}
		seen[r.CustomID]++
	}
	if len(seen) != n {
		t.Errorf("journal has %d keys, want %d", len(seen), n)
	}
	for k, c := range seen {
		if c != 1 {
			t.Errorf("key %s journalled %d times", k, c)
		}
	}
	if got := s.Stats().Requests; got != n {
		t.Errorf("the endpoint got %d requests, want %d (each row once)", got, n)
	}
}

// "llmbatch run in.fifo" and "llmbatch run -" read a stream once: every
// row is sent once and the job exits 0.
func TestRun_StreamInputsThroughTheCLI(t *testing.T) {
	const n = 3000
	src := writeRows(t, t.TempDir(), n)
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"OPENAI_API_KEY": "sk-test-stream-inputs-0123456789"}
	// runBounded runs the CLI, failing the test if it has not returned
	// within a minute (a FIFO opened again blocks in open(2) for good).
	runBounded := func(t *testing.T, args []string, e environ) int {
		t.Helper()
		code := make(chan int, 1)
		go func() { code <- run(context.Background(), args, e) }()
		select {
		case c := <-code:
			return c
		case <-time.After(time.Minute):
			t.Fatalf("llmbatch run %v did not return within a minute", args)
			return 0
		}
	}

	t.Run("FIFO", func(t *testing.T) {
		dir := t.TempDir()
		fifo := filepath.Join(dir, "in.jsonl")
		if err := syscall.Mkfifo(fifo, 0o600); err != nil {
			t.Skip(err)
		}
		s, base := startTestSim(t, sim.Config{Seed: 1})
		fed := make(chan error, 1)
		go func() {
			w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
			if err != nil {
				fed <- err
				return
			}
			_, err = w.Write(data)
			if cerr := w.Close(); err == nil {
				err = cerr
			}
			fed <- err
		}()
		out := filepath.Join(dir, "r.jsonl")
		e, _, stderr := testEnv(env)
		code := runBounded(t, jobArgs(fifo, out, base), e)
		select {
		case err := <-fed:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("the writer is still blocked: the job did not read the FIFO to its end")
		}
		if code != exitOK {
			t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitOK, stderr)
		}
		checkSentOnce(t, out, n, s)
	})

	t.Run("Stdin", func(t *testing.T) {
		dir := t.TempDir()
		s, base := startTestSim(t, sim.Config{Seed: 1})
		pr, pw := io.Pipe()
		go func() {
			// Written in small pieces, as a slow producer would.
			for b := data; len(b) > 0; {
				k := min(len(b), 777)
				if _, err := pw.Write(b[:k]); err != nil {
					return
				}
				b = b[k:]
			}
			pw.Close()
		}()
		out := filepath.Join(dir, "r.jsonl")
		e, _, stderr := testEnv(env)
		e.stdin = pr
		if code := runBounded(t, jobArgs("-", out, base), e); code != exitOK {
			t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitOK, stderr)
		}
		checkSentOnce(t, out, n, s)
	})
}
