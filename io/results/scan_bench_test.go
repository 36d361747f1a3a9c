package results_test

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/llmbatch/llmbatch/io/api"
	"github.com/llmbatch/llmbatch/io/prices"
	"github.com/llmbatch/llmbatch/io/results"
)

// realisticRecord returns a journal record shaped like a real one: a
// completed Responses API body of about 1 KB with a reasoning item and a
// message, usage, and kept input columns.
func realisticRecord(i int) *results.Record {
	key := "row-" + strconv.Itoa(i)
	text := strings.Repeat("The customer liked the product but found delivery slow. ", 6)
	body := fmt.Sprintf(`{"id":"resp_%016x","object":"response","created_at":1763650000,"status":"completed","error":null,"incomplete_details":null,"instructions":null,"max_output_tokens":null,"model":"gpt-5-mini-2025-08-07","output":[{"id":"rs_%016x","type":"reasoning","summary":[]},{"id":"msg_%016x","type":"message","status":"completed","content":[{"type":"output_text","annotations":[],"logprobs":[],"text":%q}],"role":"assistant"}],"parallel_tool_calls":true,"reasoning":{"effort":"medium","summary":null},"store":true,"temperature":1.0,"text":{"format":{"type":"text"},"verbosity":"medium"},"tool_choice":"auto","tools":[],"top_p":1.0,"truncation":"disabled","usage":{"input_tokens":%d,"input_tokens_details":{"cached_tokens":0},"output_tokens":%d,"output_tokens_details":{"reasoning_tokens":64},"total_tokens":%d},"user":null,"metadata":{}}`,
		i, i*3, i*7, text, 40+i%50, 90+i%30, 130+i%80)
	sum := sha256.Sum256([]byte(key))
	return &results.Record{
		CustomID: key, Index: int64(i),
		Response:   &results.Response{StatusCode: 200, RequestID: fmt.Sprintf("req_%016x", i), Body: json.RawMessage(body)},
		OutputText: text,
		Usage:      api.Usage{InputTokens: int64(40 + i%50), OutputTokens: int64(90 + i%30), ReasoningTokens: 64, TotalTokens: int64(130 + i%80)},
		Model:      "gpt-5-mini-2025-08-07", Attempts: 1 + i%3, LatencyMS: int64(300 + i%900),
		RequestSHA256: hex.EncodeToString(sum[:]),
		Input:         map[string]any{"text": "review " + strconv.Itoa(i)},
	}
}

// writeBenchJournal writes a journal of about size bytes and returns its
// path and line count. Every 50th row is a failure, every 200th retryable.
func writeBenchJournal(b *testing.B, size int64) (string, int) {
	b.Helper()
	dir := b.TempDir()
	var fs syscall.Statfs_t
	if err := syscall.Statfs(dir, &fs); err == nil && int64(fs.Bavail)*int64(fs.Bsize) < 2*size+(1<<30) {
		b.Skipf("only %d MB free in %s; the benchmark needs %d MB", int64(fs.Bavail)*int64(fs.Bsize)>>20, dir, (2*size+(1<<30))>>20)
	}
	path := filepath.Join(dir, "bench.jsonl")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var written int64
	n := 0
	for ; written < size; n++ {
		rec := realisticRecord(n)
		if n == 0 {
			rec.Job = &results.Job{Fingerprint: "0123456789abcdef", Parts: map[string]string{"model": "gpt-5-mini"}}
		}
		switch {
		case n%200 == 7:
			rec.Response, rec.OutputText = nil, ""
			rec.Error = &results.Error{Code: "server_error", Message: "The server had an error", StatusCode: 500, Retryable: true}
		case n%50 == 3:
			rec.Response.StatusCode = 400
			rec.Error = &results.Error{Code: "invalid_request_error", Message: "Invalid 'input': too long.", StatusCode: 400}
		}
		line, err := json.Marshal(rec)
		if err != nil {
			b.Fatal(err)
		}
		line = append(line, '\n')
		if _, err := w.Write(line); err != nil {
			b.Fatal(err)
		}
		written += int64(len(line))
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return path, n
}

// BenchmarkScan scans a journal of about 1 GB (LLMBATCH_BENCH_JOURNAL_MB
// overrides the size) into Totals, as a resume does, and reports the scan
// speed and the heap the Totals keep per journalled row.
func BenchmarkScan(b *testing.B) {
	mb := int64(1024)
	if s := os.Getenv("LLMBATCH_BENCH_JOURNAL_MB"); s != "" {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			b.Fatal(err)
		}
		mb = v
	}
	path, lines := writeBenchJournal(b, mb<<20)
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	// Warm the page cache, as a resume right after a crash would find it.
	if _, err := results.Scan(path, nil); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(st.Size())
	b.ReportAllocs()
	b.ResetTimer()
	var perRow float64
	for range b.N {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		tot := results.NewTotals()
		tot.KeepRequests(true) // as a resume of the same job does
		info, err := results.Scan(path, tot.Add)
		if err != nil {
			b.Fatal(err)
		}
		if info.Lines != int64(lines) || tot.Keys() != int64(lines) {
			b.Fatalf("scanned %d lines, %d keys; wrote %d", info.Lines, tot.Keys(), lines)
		}
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&after)
		perRow = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(lines)
		runtime.KeepAlive(tot)
		b.StartTimer()
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)/(float64(st.Size())/(1<<30)), "s/GB")
	b.ReportMetric(perRow, "B/row")
	b.ReportMetric(float64(lines), "rows")
}

// BenchmarkTotalsMemory adds ten million distinct keys to Totals (no
// journal) and reports the heap kept per key.
func BenchmarkTotalsMemory(b *testing.B) {
	const n = 10_000_000
	var perRow float64
	for range b.N {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		tot := results.NewTotals()
		tot.KeepRequests(true) // as a resume of the same job does
		rec := &results.Record{Model: "m", Attempts: 1, RequestSHA256: "0123456789abcdef"}
		var kb []byte
		for i := range n {
			kb = strconv.AppendInt(kb[:0], int64(i), 10)
			rec.CustomID = string(kb)
			tot.Add(rec)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if tot.Keys() != n {
			b.Fatalf("keys = %d, want %d", tot.Keys(), n)
		}
		perRow = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / n
		runtime.KeepAlive(tot)
	}
	b.ReportMetric(perRow, "B/row")
}

// benchJournalMB is the journal size a benchmark uses: def MB, or
// LLMBATCH_BENCH_JOURNAL_MB.
func benchJournalMB(b *testing.B, def int64) int64 {
	b.Helper()
	s := os.Getenv("LLMBATCH_BENCH_JOURNAL_MB")
	if s == "" {
		return def
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		b.Fatal(err)
	}
	return v
}

// BenchmarkReadPasses times, over one journal of realistic lines (about
// 1.5 KB with a Responses body; 64 MB, or LLMBATCH_BENCH_JOURNAL_MB), the
// resume scan (Scan into Totals), the report pass (ReadEach into a Report)
// and the export pass (ReadLatest into Parquet, discarded), side by side.
// The goal is report and export within 2x of the scan.
func BenchmarkReadPasses(b *testing.B) {
	path, lines := writeBenchJournal(b, benchJournalMB(b, 64)<<20)
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := results.Scan(path, nil); err != nil { // warm the page cache
		b.Fatal(err)
	}
	paths := []string{path}
	table := prices.Default()
	run := func(name string, pass func() int64) {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(st.Size())
			b.ReportAllocs()
			for range b.N {
				if n := pass(); n != int64(lines) {
					b.Fatalf("%s saw %d rows, want %d", name, n, lines)
				}
			}
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)/float64(lines)*1e9, "ns/row")
		})
	}
	run("scan", func() int64 {
		tot := results.NewTotals()
		if _, err := results.Scan(path, tot.Add); err != nil {
			b.Fatal(err)
		}
		return tot.Keys()
	})
	run("report", func() int64 {
		rep := results.NewReport(table)
		if _, err := results.ReadEach(paths, 0, func(rec *results.Record) error {
			rep.Add(rec)
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		rep.Finish()
		return rep.Rows.Keys
	})
	run("export", func() int64 {
		ex, err := results.NewExporter(io.Discard, results.FormatParquet)
		if err != nil {
			b.Fatal(err)
		}
		var n int64
		if _, err := results.ReadLatest(paths, results.ExportFields, func(rec *results.Record) error {
			row, err := results.NewExportRow(rec, table)
			if err != nil {
				return err
			}
			n++
			return ex.Write(row)
		}); err != nil {
			b.Fatal(err)
		}
		if err := ex.Close(); err != nil {
			b.Fatal(err)
		}
		return n
	})
}
