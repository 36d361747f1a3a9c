package results_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmbatch/llmbatch/io/api"
	"github.com/llmbatch/llmbatch/io/results"
)

func mustWrite(tb testing.TB, path string, recs ...*results.Record) {
	tb.Helper()
	size := int64(0)
	if st, err := os.Stat(path); err == nil {
		size = st.Size()
	}
	j, err := results.OpenJournal(path, size)
	if err != nil {
		tb.Fatal(err)
	}
	for _, r := range recs {
		if err := j.Append(r); err != nil {
			tb.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		tb.Fatal(err)
	}
}

func ok(key string, in, out int64) *results.Record {
	return &results.Record{CustomID: key, Model: "gpt-5-mini", Attempts: 1, LatencyMS: 100,
		Usage:    api.Usage{InputTokens: in, OutputTokens: out, TotalTokens: in + out},
		Response: &results.Response{StatusCode: 200, Body: []byte(`{"status":"completed"}`)}}
}

func failed(key string, retryable bool) *results.Record {
	return &results.Record{CustomID: key, Attempts: 8, Error: &results.Error{Code: "x", Message: "m", Retryable: retryable}}
}

func TestScan_TornTailIsCutAndAppendResumes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.jsonl")
	mustWrite(t, path, ok("a", 10, 1), ok("b", 20, 2))
	good, _ := os.Stat(path)
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"custom_id":"c","index":2,"resp`)
	f.Close()

	var keys []string
	info, err := results.Scan(path, func(r *results.Record) { keys = append(keys, r.CustomID) })
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(keys, ","), "a,b"; got != want {
		t.Errorf("keys = %s, want %s", got, want)
	}
	if info.Size != good.Size() || info.TornBytes != 32 || info.Lines != 2 {
		t.Errorf("info = %+v, want size %d, 32 torn bytes, 2 lines", info, good.Size())
	}
	mustWriteAt(t, path, info.Size, ok("c", 30, 3))
	keys = nil
	info, err = results.Scan(path, func(r *results.Record) { keys = append(keys, r.CustomID) })
	if err != nil || info.TornBytes != 0 || strings.Join(keys, ",") != "a,b,c" {
		t.Errorf("after repair: keys %v, info %+v, err %v", keys, info, err)
	}
}

func mustWriteAt(tb testing.TB, path string, size int64, recs ...*results.Record) {
	tb.Helper()
	j, err := results.OpenJournal(path, size)
	if err != nil {
		tb.Fatal(err)
	}
	for _, r := range recs {
		if err := j.Append(r); err != nil {
			tb.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		tb.Fatal(err)
	}
}

func TestScan_UnparsableLastLineIsTorn(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.jsonl")
	mustWrite(t, path, ok("a", 1, 1))
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("{\"custom_id\":\"b\",\x00\x00\n")
	f.Close()
	info, err := results.Scan(path, nil)
	if err != nil || info.Lines != 1 || info.TornBytes == 0 {
		t.Errorf("Scan() = %+v, %v; want 1 line and a torn tail", info, err)
	}
}

func TestScan_CorruptMiddleIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.jsonl")
	mustWrite(t, path, ok("a", 1, 1))
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("not json\n")
	f.Close()
	mustWrite(t, path, ok("b", 1, 1))
	_, err := results.Scan(path, nil)
	var ce *results.CorruptError
	if !errors.As(err, &ce) || ce.Line != 2 || !errors.Is(err, results.ErrCorrupt) {
		t.Fatalf("Scan() error = %v, want a CorruptError at line 2", err)
	}
	if !strings.Contains(err.Error(), "j.jsonl:2:") {
		t.Errorf("error %q does not name file and line", err)
	}
}

func TestScan_MissingFileIsEmpty(t *testing.T) {
	info, err := results.Scan(filepath.Join(t.TempDir(), "none.jsonl"), nil)
	if err != nil || info != (results.ScanInfo{}) {
		t.Errorf("Scan() = %+v, %v", info, err)
	}
}

func TestTotals_LatestRecordWins(t *testing.T) {
	tot := results.NewTotals()
	for _, r := range []*results.Record{
		failed("a", true), ok("a", 10, 5), // retried, then ok
		failed("b", false),                // permanent
		failed("c", true),                 // still retryable
		ok("d", 1, 1), failed("d", false), // --retry-failed style rewrite
	} {
		tot.Add(r)
	}
	checks := []struct {
		key  string
		want results.Status
	}{{"a", results.OK}, {"b", results.Failed}, {"c", results.Retryable}, {"d", results.Failed}, {"e", results.Pending}}
	for _, c := range checks {
		if got := tot.Status(c.key); got != c.want {
			t.Errorf("Status(%s) = %v, want %v", c.key, got, c.want)
		}
	}
	if tot.Count(results.OK) != 1 || tot.Count(results.Failed) != 2 || tot.Count(results.Retryable) != 1 || tot.Keys() != 4 {
		t.Errorf("counts ok=%d failed=%d retryable=%d keys=%d", tot.Count(results.OK), tot.Count(results.Failed), tot.Count(results.Retryable), tot.Keys())
	}
	// Usage sums every line: every answered attempt was paid for.
	if got := tot.TotalUsage(); got.InputTokens != 11 || got.OutputTokens != 6 {
		t.Errorf("usage = %+v, want 11 in, 6 out", got)
	}
	if got, want := tot.Attempts, int64(8+1+8+8+1+8); got != want {
		t.Errorf("attempts = %d, want %d", got, want)
	}
}

func TestHistogram_Quantile(t *testing.T) {
	var h results.Histogram
	for i := int64(1); i <= 1000; i++ {
		h.Add(i)
	}
	for _, c := range []struct {
		q    float64
		want int64
	}{{0.5, 500}, {0.95, 950}, {0.99, 990}} {
		got := h.Quantile(c.q)
		if d := float64(got-c.want) / float64(c.want); d < -0.05 || d > 0.05 {
			t.Errorf("Quantile(%v) = %d, want %d within 5%%", c.q, got, c.want)
		}
	}
}

func TestWriteSummary_Atomic(t *testing.T) {
	dir := t.TempDir()
	path := results.SummaryPath(filepath.Join(dir, "out.jsonl"))
	if filepath.Base(path) != "out.summary.json" {
		t.Errorf("SummaryPath = %s", path)
	}
	tot := results.NewTotals()
	tot.Add(ok("a", 5, 5))
	var s results.Summary
	s.Fill(tot, 3)
	if err := results.WriteSummary(path, &s); err != nil {
		t.Fatal(err)
	}
	if s.Rows.Pending != 2 || s.Rows.OK != 1 {
		t.Errorf("rows = %+v", s.Rows)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("dir has %d entries, want only the summary (no temp file left)", len(ents))
	}
}

// FuzzJournalRecover cuts a journal at any byte, as a death mid-write
// would, and checks that Scan keeps exactly the records whose whole line
// precedes the cut, never fails or panics, and that appending after it
// gives a journal that scans whole.
func FuzzJournalRecover(f *testing.F) {
	f.Add(uint8(3), uint16(0))
	f.Add(uint8(3), uint16(100))
	f.Add(uint8(5), uint16(65535))
	f.Add(uint8(1), uint16(7))
	f.Fuzz(func(t *testing.T, nrec uint8, cut uint16) {
		n := int(nrec%8) + 1
		path := filepath.Join(t.TempDir(), "j.jsonl")
		var ends []int64 // offset after each record's newline
		for i := range n {
			var r *results.Record
			switch i % 3 {
			case 0:
				r = ok(fmt.Sprintf("k%d", i), int64(i), 1)
				r.OutputText = "a \"quoted\" {text} [with] brackets\\"
			case 1:
				r = failed(fmt.Sprintf("k%d", i), i%2 == 0)
			default:
				r = ok(fmt.Sprintf("k\u00e9%d", i), 2, int64(i))
			}
			mustWrite(t, path, r)
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			ends = append(ends, st.Size())
		}
		at := int64(cut) % (ends[len(ends)-1] + 1)
		if err := os.Truncate(path, at); err != nil {
			t.Fatal(err)
		}
		whole := 0
		for whole < len(ends) && ends[whole] <= at {
			whole++
		}
		var keys []string
		info, err := results.Scan(path, func(r *results.Record) { keys = append(keys, r.CustomID) })
		if err != nil {
			t.Fatalf("Scan() after a cut at %d: %v", at, err)
		}
		if len(keys) != whole || info.Lines != int64(whole) {
			t.Fatalf("cut at %d: scanned %d records (%v), want the %d whole ones", at, len(keys), keys, whole)
		}
		goodSize := int64(0)
		if whole > 0 {
			goodSize = ends[whole-1]
		}
		if info.Size != goodSize || info.TornBytes != at-goodSize {
			t.Fatalf("cut at %d: info %+v, want size %d and %d torn bytes", at, info, goodSize, at-goodSize)
		}
		mustWriteAt(t, path, info.Size, ok("after", 1, 1))
		keys = nil
		info, err = results.Scan(path, func(r *results.Record) { keys = append(keys, r.CustomID) })
		if err != nil || info.TornBytes != 0 || len(keys) != whole+1 || keys[len(keys)-1] != "after" {
			t.Fatalf("after repair: keys %v, info %+v, err %v", keys, info, err)
		}
	})
}

func TestTotals_NumericKeysAreDense(t *testing.T) {
	tot := results.NewTotals()
	add := func(key string, index int64, retryable *bool) {
		r := &results.Record{CustomID: key, Index: index}
		if retryable != nil {
			r.Error = &results.Error{Code: "x", Retryable: *retryable}
		}
		tot.Add(r)
	}
	yes, no := true, false
	add("0", 0, nil)
	add("5", 5, &yes)
	add("5", 9, nil)    // the same key on another row: the same key
	add("1000", 3, &no) // a key's state does not depend on its row
	add("007", 7, nil)  // not canonical: hashed
	add("16777216", 1, nil)
	checks := []struct {
		key  string
		want results.Status
	}{{"0", results.OK}, {"5", results.OK}, {"1000", results.Failed}, {"007", results.OK}, {"7", results.Pending},
		{"1", results.Pending}, {"99999", results.Pending}, {"16777216", results.OK}, {"-1", results.Pending}}
	for _, c := range checks {
		if got := tot.Status(c.key); got != c.want {
			t.Errorf("Status(%q) = %v, want %v", c.key, got, c.want)
		}
	}
	if tot.Keys() != 5 || tot.Count(results.OK) != 4 || tot.Count(results.Failed) != 1 {
		t.Errorf("keys %d, ok %d, failed %d; want 5, 4, 1", tot.Keys(), tot.Count(results.OK), tot.Count(results.Failed))
	}
}
