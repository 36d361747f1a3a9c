package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmbatch/llmbatch/io/results"
	"github.com/llmbatch/llmbatch/io/sim"
	"github.com/llmbatch/llmbatch/pipeline"
)

// TestRun_Shards runs a job as 3 shards over JSONL (keyed by id and by
// index) and CSV: each shard journals beside Output, and the journals
// together hold every row exactly once, with the index the whole input
// gives it; the sim billed exactly what the journals hold.
func TestRun_Shards(t *testing.T) {
	for _, tc := range []struct{ name, file, idcol string }{
		{"jsonl-id", "in.jsonl", "id"},
		{"jsonl-index", "in.jsonl", ""},
		{"csv", "in.csv", "id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			const n = 200
			var b strings.Builder
			if strings.HasSuffix(tc.file, ".csv") {
				b.WriteString("id,text\n")
			}
			for i := range n {
				if strings.HasSuffix(tc.file, ".csv") {
					fmt.Fprintf(&b, "k%03d,review %d\n", i, i)
				} else {
					fmt.Fprintf(&b, "{\"id\":\"k%03d\",\"text\":\"review %d\"}\n", i, i)
				}
			}
			in := filepath.Join(dir, tc.file)
			os.WriteFile(in, []byte(b.String()), 0o600)
			srv, base := startSim(t, sim.Config{Seed: 3})
			out := filepath.Join(dir, "results.jsonl")
			seen := map[int64]string{}
			for i := range 3 {
				cfg := pipeline.Config{Source: pipeline.Source{Input: in}, Template: pipeline.Template{Model: "gpt-5-mini", IDColumn: tc.idcol},
					Output: out, BaseURL: base, Concurrency: 4, Shards: 3, ShardIndex: i}
				sum, err := pipeline.Run(context.Background(), cfg)
				if err != nil {
					t.Fatalf("shard %d: %v", i, err)
				}
				journal := filepath.Join(dir, fmt.Sprintf("results.shard-%02d-of-03.jsonl", i))
				recs := readJournal(t, journal)
				if int64(len(recs)) != sum.Rows.OK || sum.Rows.Pending != 0 || sum.Rows.Total != int64(len(recs)) {
					t.Errorf("shard %d: %d records, summary %+v", i, len(recs), sum.Rows)
				}
				if len(recs) < n/5 {
					t.Errorf("shard %d has %d of %d rows", i, len(recs), n)
				}
				for _, r := range recs {
					if prev, dup := seen[r.Index]; dup {
						t.Errorf("row %d journalled by %s and shard %d", r.Index, prev, i)
					}
					seen[r.Index] = fmt.Sprint("shard ", i)
					want := fmt.Sprintf("k%03d", r.Index)
					if tc.idcol == "" {
						want = fmt.Sprint(r.Index)
					}
					if r.CustomID != want {
						t.Errorf("row %d has key %q, want %q", r.Index, r.CustomID, want)
					}
				}
			}
			if len(seen) != n {
				t.Errorf("%d rows journalled over the shards, want %d", len(seen), n)
			}
			if got := srv.Stats().Completed; got != n {
				t.Errorf("sim completed %d requests, want %d", got, n)
			}
		})
	}
}

// TestRun_ShardRefusesAnotherShardsJournal: shard 3 of 16 does not resume
// shard 4's journal, nor a 12-shard run's shard 3, even with Force.
func TestRun_ShardRefusesAnotherShardsJournal(t *testing.T) {
	dir := t.TempDir()
	in := writeInput(t, dir, 64)
	_, base := startSim(t, sim.Config{Seed: 1})
	out := filepath.Join(dir, "results.jsonl")
	run := func(shards, index int, force bool) error {
		_, err := pipeline.Run(context.Background(), pipeline.Config{Source: pipeline.Source{Input: in},
			Template: pipeline.Template{Model: "gpt-5-mini", IDColumn: "id"}, Output: out, BaseURL: base, Shards: shards, ShardIndex: index, Force: force})
		return err
	}
	if err := run(16, 4, false); err != nil {
		t.Fatal(err)
	}
	four, _ := os.ReadFile(results.ShardPath(out, 4, 16))
	for _, c := range []struct {
		shards, index int
		want          string
	}{{16, 3, "it is shard 4 of 16, this run is shard 3 of 16"}, {12, 3, "it is shard 4 of 16, this run is shard 3 of 12"}} {
		p := results.ShardPath(out, c.index, c.shards)
		os.WriteFile(p, four, 0o600)
		for _, force := range []bool{false, true} {
			err := run(c.shards, c.index, force)
			var uerr *pipeline.UsageError
			if !errors.As(err, &uerr) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("shard %d of %d (force %v) on shard 4's journal: err = %v, want a usage error saying %q", c.index, c.shards, force, err, c.want)
			}
		}
	}
	// An unsharded run does not take a shard's journal either.
	os.WriteFile(out, four, 0o600)
	if err := run(0, 0, true); err == nil || !strings.Contains(err.Error(), "another shard") {
		t.Errorf("unsharded run on a shard's journal: err = %v", err)
	}
}

func TestRun_ShardConfigErrors(t *testing.T) {
	dir := t.TempDir()
	in := writeInput(t, dir, 4)
	for _, c := range []struct{ shards, index int }{{4, 4}, {4, -1}, {-2, 0}, {0, 1}} {
		_, err := pipeline.Run(context.Background(), pipeline.Config{Source: pipeline.Source{Input: in},
			Template: pipeline.Template{Model: "m"}, Output: filepath.Join(dir, "o.jsonl"), Shards: c.shards, ShardIndex: c.index})
		var uerr *pipeline.UsageError
		if !errors.As(err, &uerr) || !strings.Contains(err.Error(), "Config.Shard") {
			t.Errorf("Shards %d, ShardIndex %d: err = %v, want a usage error naming the field", c.shards, c.index, err)
		}
	}
}

// TestRun_EmptyShard: a shard whose part is empty (more shards than rows)
// ends well, with an empty journal's summary; the whole input still
// being empty is an error.
func TestRun_EmptyShard(t *testing.T) {
	dir := t.TempDir()
	in := writeInput(t, dir, 2)
	_, base := startSim(t, sim.Config{Seed: 1})
	ok := 0
	for i := range 5 {
		sum, err := pipeline.Run(context.Background(), pipeline.Config{Source: pipeline.Source{Input: in},
			Template: pipeline.Template{Model: "gpt-5-mini"}, Output: filepath.Join(dir, "o.jsonl"), BaseURL: base, Shards: 5, ShardIndex: i})
		if err != nil {
			t.Fatalf("shard %d: %v", i, err)
		}
		ok += int(sum.Rows.OK)
	}
	if ok != 2 {
		t.Errorf("%d rows ok over 5 shards, want 2", ok)
	}
	empty := filepath.Join(dir, "empty.jsonl")
	os.WriteFile(empty, nil, 0o600)
	if _, err := pipeline.Run(context.Background(), pipeline.Config{Source: pipeline.Source{Input: empty},
		Template: pipeline.Template{Model: "gpt-5-mini"}, Output: filepath.Join(dir, "e.jsonl"), BaseURL: base, Shards: 2}); err == nil {
		t.Error("an empty input run as shards: no error")
	}
}
