package results

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestJournal_WritebackRanges: the ranges a journal asks the kernel to
// start writing back are the bytes it wrote, in order, each at least
// writebackChunk long, starting after what the last sync covered; Close
// leaves nothing unsynced.
func TestJournal_WritebackRanges(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.jsonl")
	os.WriteFile(path, []byte(`{"custom_id":"old","index":0,"response":null,"error":null,"output_text":"","usage":{"input_tokens":0,"cached_input_tokens":0,"output_tokens":0,"reasoning_tokens":0,"total_tokens":0},"attempts":1,"latency_ms":0}`+"\n"), 0o644)
	st, _ := os.Stat(path)
	j, err := OpenJournal(path, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	j.SyncInterval = -1 // only Close syncs: every range is the writeback's
	var ranges [][2]int64
	j.writeback = func(off, n int64) { ranges = append(ranges, [2]int64{off, n}) }
	text := strings.Repeat("x", 3000)
	for i := range 2000 {
		if err := j.Add(&Record{CustomID: "k" + string(rune('a'+i%26)), Index: int64(i), OutputText: text}); err != nil {
			t.Fatal(err)
		}
		if i%7 == 6 {
			if _, err := j.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := j.Flush(); err != nil {
		t.Fatal(err)
	}
	next := st.Size()
	for _, r := range ranges {
		if r[0] != next || r[1] < writebackChunk {
			t.Fatalf("ranges %v: %v does not follow %d or is short", ranges, r, next)
		}
		next += r[1]
	}
	size, _ := os.Stat(path)
	if len(ranges) < 4 || size.Size()-next >= writebackChunk || j.off != size.Size() {
		t.Fatalf("%d ranges up to %d, file %d bytes, journal at %d", len(ranges), next, size.Size(), j.off)
	}
	if err := j.Close(); err != nil || j.wbFrom != j.off {
		t.Fatalf("Close: %v, unsynced from %d to %d", err, j.wbFrom, j.off)
	}
}
