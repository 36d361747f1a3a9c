//go:build unix

package pipeline_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/llmbatch/llmbatch/pipeline"
)

// feed writes the file at src into w and closes w.
func feed(t *testing.T, src string, open func() (*os.File, error)) <-chan error {
	done := make(chan error, 1)
	go func() {
		b, err := os.ReadFile(src)
		if err != nil {
			done <- err
			return
		}
		w, err := open()
		if err != nil {
			done <- err
			return
		}
		_, err = w.Write(b)
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		done <- err
	}()
	return done
}

// checkAllOnce checks that each of n rows is journalled once, ok, and was
// sent once.
func checkAllOnce(t *testing.T, journal string, n int, requests int) {
	t.Helper()
	seen := map[string]int{}
	for _, r := range readJournal(t, journal) {
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
	if requests != n {
		t.Errorf("sent %d requests, want %d", requests, n)
	}
}

func TestRun_InputFromAFIFOIsReadOnce(t *testing.T) {
	for _, n := range []int{3000, 3} { // 3: a FIFO smaller than one read hung
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			dir := t.TempDir()
			s, base := startSim(t, simDefault())
			src := writeInput(t, t.TempDir(), n)
			fifo := filepath.Join(dir, "in.jsonl")
			if err := mkfifo(fifo); err != nil {
				t.Skip(err)
			}
			done := feed(t, src, func() (*os.File, error) { return os.OpenFile(fifo, os.O_WRONLY, 0) })
			cfg := baseConfig(dir, fifo, base)
			sum, err := pipeline.Run(context.Background(), cfg)
			if err != nil {
				t.Fatalf("Run() error = %v", err)
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			checkAllOnce(t, cfg.Output, n, s.Stats().Requests)
			if sum.Rows.Total != -1 {
				t.Errorf("total = %d, want -1 (a stream is not counted)", sum.Rows.Total)
			}
		})
	}
}

func TestRun_InputFromDevFdIsReadOnce(t *testing.T) {
	if _, err := os.Stat("/dev/fd/0"); err != nil {
		t.Skip("no /dev/fd")
	}
	const n = 3000
	dir := t.TempDir()
	s, base := startSim(t, simDefault())
	src := writeInput(t, dir, n)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	done := feed(t, src, func() (*os.File, error) { return pw, nil })
	cfg := baseConfig(dir, fmt.Sprintf("/dev/fd/%d", pr.Fd()), base)
	cfg.InputFormat = "jsonl"
	if _, err := pipeline.Run(context.Background(), cfg); err != nil {
		t.Fatalf("Run() error = %v", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	checkAllOnce(t, cfg.Output, n, s.Stats().Requests)
}
