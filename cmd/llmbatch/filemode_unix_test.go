//go:build unix

package main

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/llmbatch/llmbatch/io/results"
)

// TestRun_FileModesFollowUmask: the journal, its summary and the CSV and
// Parquet exports are all created 0644 less the umask, as ">" would
// create them (the summary and exports were 0600, from os.CreateTemp).
// Each file is written twice: a summary or export replacing an older one
// keeps the same mode.
func TestRun_FileModesFollowUmask(t *testing.T) {
	for _, tc := range []struct {
		umask int
		want  os.FileMode
	}{{0o022, 0o644}, {0o027, 0o640}, {0o002, 0o644}} {
		old := syscall.Umask(tc.umask)
		func() {
			defer syscall.Umask(old)
			dir := t.TempDir()
			journal := filepath.Join(dir, "out.jsonl")
			files := []string{journal, results.SummaryPath(journal), filepath.Join(dir, "out.csv"), filepath.Join(dir, "out.parquet")}
			for range 2 {
				env, _, stderr := testEnv(nil)
				if code := run(context.Background(), []string{"run", "--sim", "--sim-faults=false", "--sim-latency", "1ms",
					filepath.Join(examplesDir(t), "reviews.jsonl"), "-o", journal}, env); code != exitOK {
					t.Fatalf("run: exit %d\n%s", code, stderr)
				}
				for _, out := range files[2:] {
					if code := run(context.Background(), []string{"export", journal, "-o", out}, env); code != exitOK {
						t.Fatalf("export %s: exit %d\n%s", out, code, stderr)
					}
				}
			}
			for _, f := range files {
				st, err := os.Stat(f)
				if err != nil {
					t.Fatal(err)
				}
				if got := st.Mode().Perm(); got != tc.want {
					t.Errorf("umask %03o: %s has mode %04o, want %04o", tc.umask, filepath.Base(f), got, tc.want)
				}
			}
		}()
	}
}
