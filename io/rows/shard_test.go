package rows_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/llmbatch/llmbatch/io/rows"
)

// TestShard_Partition checks, for every format and part count, that the
// parts of an input hold each of its rows (good and bad) exactly once, with
// the index and line the whole input gives it, and that Count counts each
// part's rows.
func TestShard_Partition(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	var jl strings.Builder
	jl.WriteString("\xef\xbb\xbf")
	for i := range 300 {
		switch rng.IntN(10) {
		case 0:
			jl.WriteString("\n  \n") // blank lines take no index
		case 1:
			jl.WriteString("not json\n")
		case 2:
			fmt.Fprintf(&jl, "{\"id\":%d,\"text\":%q}\r\n", i, strings.Repeat("x", 300)) // too long
		}
		fmt.Fprintf(&jl, "{\"id\":%d,\"text\":\"row %d\"}\n", i, i)
	}
	jl.WriteString(`{"id":"last","text":"no newline"}`)
	var csv strings.Builder
	csv.WriteString("id,text\n")
	for i := range 200 {
		if i%17 == 0 {
			fmt.Fprintf(&csv, "%d,\"two\nlines\"\n", i)
		} else if i%23 == 0 {
			fmt.Fprintf(&csv, "%d\n", i) // wrong field count
		} else {
			fmt.Fprintf(&csv, "%d,row %d\n", i, i)
		}
	}
	files := map[string][]byte{
		"in.jsonl":   []byte(jl.String()),
		"in.csv":     []byte(csv.String()),
		"in.parquet": writeParquet(t, pqRows(103), 10),
	}
	for name, data := range files {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		opts := rows.Options{MaxRowBytes: 200}
		whole := readFile(t, path, opts)
		for _, n := range []int{1, 2, 3, 7, 16, 40} {
			var got []result
			for i := range n {
				o := opts
				o.Shard = rows.Shard{Count: n, Index: i}
				part := readFile(t, path, o)
				c, err := rows.Count(path, o)
				if err != nil || c != int64(len(part)) {
					t.Errorf("%s shard %d/%d: Count() = %d, %v; the reader gave %d rows", name, i, n, c, err, len(part))
				}
				for j := 1; j < len(part); j++ {
					if part[j].Row.Index <= part[j-1].Row.Index {
						t.Errorf("%s shard %d/%d: index %d after %d", name, i, n, part[j].Row.Index, part[j-1].Row.Index)
					}
				}
				got = append(got, part...)
			}
			byIndex := map[int64]result{}
			for _, r := range got {
				if _, dup := byIndex[r.Row.Index]; dup {
					t.Errorf("%s, %d shards: row %d read twice", name, n, r.Row.Index)
				}
				byIndex[r.Row.Index] = r
			}
			if len(byIndex) != len(whole) {
				t.Errorf("%s, %d shards: %d rows, the whole input has %d", name, n, len(byIndex), len(whole))
			}
			for _, w := range whole {
				g, ok := byIndex[w.Row.Index]
				if !ok {
					t.Errorf("%s, %d shards: row %d lost", name, n, w.Row.Index)
					continue
				}
				if !reflect.DeepEqual(g.Row, w.Row) || fmt.Sprint(g.Err) != fmt.Sprint(w.Err) {
					t.Errorf("%s, %d shards: row %d = %+v, %v; whole input: %+v, %v", name, n, w.Row.Index, g.Row, g.Err, w.Row, w.Err)
				}
			}
		}
	}
}

// TestShard_ParquetReadsOwnGroups checks that a Parquet part is whole row
// groups: 4 parts of 10 groups of 10 rows.
func TestShard_ParquetReadsOwnGroups(t *testing.T) {
	path := filepath.Join(t.TempDir(), "in.parquet")
	if err := os.WriteFile(path, writeParquet(t, pqRows(100), 10), 0o600); err != nil {
		t.Fatal(err)
	}
	var starts []int64
	for i := range 4 {
		part := readFile(t, path, rows.Options{Shard: rows.Shard{Count: 4, Index: i}})
		starts = append(starts, part[0].Row.Index)
	}
	if want := []int64{0, 20, 50, 70}; !reflect.DeepEqual(starts, want) {
		t.Errorf("first rows of the parts = %v, want %v", starts, want)
	}
}

func TestShard_BadIndex(t *testing.T) {
	path := filepath.Join(t.TempDir(), "in.jsonl")
	os.WriteFile(path, []byte("{}\n"), 0o600)
	for _, s := range []rows.Shard{{Count: 4, Index: 4}, {Count: 4, Index: -1}, {Count: -1}} {
		if _, _, err := rows.Open(path, rows.Options{Shard: s}); err == nil || !strings.Contains(err.Error(), "shard index") {
			t.Errorf("Open(%+v) error = %v, want a shard index error", s, err)
		}
	}
}

func readFile(t *testing.T, path string, opts rows.Options) []result {
	t.Helper()
	r, c, err := rows.Open(path, opts)
	if err != nil {
		t.Fatalf("Open(%s, %+v) = %v", path, opts.Shard, err)
	}
	defer c.Close()
	got, err := readAll(t, r)
	if err != nil {
		t.Fatalf("%s %+v: %v", path, opts.Shard, err)
	}
	return got
}
