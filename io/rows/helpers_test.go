package rows_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/llmbatch/llmbatch/io/rows"
)

// want is one expected answer of Reader.Next.
type want struct {
	Line, Index int64
	Fields      map[string]any // a good row
	Err         string         // a *RowError's whole text
	Is          error          // and the reason it wraps
}

// checkResults compares what readAll returned with want.
func checkResults(t *testing.T, got []result, want []want) {
	t.Helper()
	for i := 0; i < len(got) || i < len(want); i++ {
		if i >= len(want) {
			t.Errorf("result %d: Next() = %+v, %v, want io.EOF", i, got[i].Row, got[i].Err)
			continue
		}
		w := want[i]
		if i >= len(got) {
			t.Errorf("result %d: Next() = io.EOF, want line %d", i, w.Line)
			continue
		}
		g := got[i]
		if g.Row.Line != w.Line || g.Row.Index != w.Index {
			t.Errorf("result %d: Line, Index = %d, %d, want %d, %d", i, g.Row.Line, g.Row.Index, w.Line, w.Index)
		}
		if w.Err == "" {
			if g.Err != nil || !reflect.DeepEqual(g.Row.Fields, w.Fields) {
				t.Errorf("result %d: Next() = %#v, %v, want %#v", i, g.Row.Fields, g.Err, w.Fields)
			}
			continue
		}
		var re *rows.RowError
		if !errors.As(g.Err, &re) {
			t.Errorf("result %d: Next() error = %v, want *RowError %q", i, g.Err, w.Err)
			continue
		}
		if got := g.Err.Error(); got != w.Err {
			t.Errorf("result %d: error = %q, want %q", i, got, w.Err)
		}
		if w.Is != nil && !errors.Is(g.Err, w.Is) {
			t.Errorf("result %d: errors.Is(%v, %v) = false", i, g.Err, w.Is)
		}
		if g.Row.Fields != nil {
			t.Errorf("result %d: a bad row has Fields %v", i, g.Row.Fields)
		}
	}
}

// readFixture returns the contents of testdata/<name>.
func readFixture(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// fixtures returns the contents of the files matching testdata/<pattern>,
// to seed fuzz tests.
func fixtures(tb testing.TB, pattern string) [][]byte {
	tb.Helper()
	names, err := filepath.Glob(filepath.Join("testdata", pattern))
	if err != nil || len(names) == 0 {
		tb.Fatalf("no fixtures match %s (%v)", pattern, err)
	}
	var out [][]byte
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}
