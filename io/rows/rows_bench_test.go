package rows_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"

	"github.com/llmbatch/llmbatch/io/rows"
	"github.com/parquet-go/parquet-go"
)

// benchRows is the size of the generated inputs of the throughput
// benchmarks.
const benchRows = 100_000

// benchRow is one generated input row.
type benchRow struct {
	ID    int64   `parquet:"id"`
	Text  string  `parquet:"text"`
	Score float64 `parquet:"score"`
	Flag  bool    `parquet:"flag"`
}

func makeBenchRow(i int) benchRow {
	return benchRow{
		ID:    int64(i),
		Text:  fmt.Sprintf("Review %d: the product arrived on time, works as described, \"%d\" stars", i, i%5+1),
		Score: float64(i%1000) / 10,
		Flag:  i%3 == 0,
	}
}

func benchJSONL(tb testing.TB, n int) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for i := range n {
		r := makeBenchRow(i)
		if err := enc.Encode(map[string]any{"id": r.ID, "text": r.Text, "score": r.Score, "flag": r.Flag}); err != nil {
			tb.Fatal(err)
		}
	}
	return buf.Bytes()
}

func benchCSV(tb testing.TB, n int) []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write([]string{"id", "text", "score", "flag"})
	for i := range n {
		r := makeBenchRow(i)
		w.Write([]string{strconv.FormatInt(r.ID, 10), r.Text, strconv.FormatFloat(r.Score, 'g', -1, 64), strconv.FormatBool(r.Flag)})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// writeBenchParquet writes n rows to w in row groups of at most perGroup
// rows, generating them in batches so that memory stays small.
func writeBenchParquet(tb testing.TB, w io.Writer, n int, perGroup int64) {
	pw := parquet.NewGenericWriter[benchRow](w, parquet.MaxRowsPerRowGroup(perGroup))
	batch := make([]benchRow, 0, 10_000)
	for i := range n {
		batch = append(batch, makeBenchRow(i))
		if len(batch) == cap(batch) || i == n-1 {
			if _, err := pw.Write(batch); err != nil {
				tb.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if err := pw.Close(); err != nil {
		tb.Fatal(err)
	}
}

// drain reads r to its end and returns the number of rows; any error
// fails the benchmark.
func drain(b *testing.B, r rows.Reader) int {
	n := 0
	for {
		_, err := r.Next()
		if err == io.EOF {
			return n
		}
		if err != nil {
			b.Fatal(err)
		}
		n++
	}
}

func reportRows(b *testing.B, total int) {
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkJSONL(b *testing.B) {
	data := benchJSONL(b, benchRows)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	total := 0
	for b.Loop() {
		total += drain(b, rows.NewJSONLReader(bytes.NewReader(data), "bench.jsonl"))
	}
	reportRows(b, total)
}

func BenchmarkCSV(b *testing.B) {
	data := benchCSV(b, benchRows)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	total := 0
	for b.Loop() {
		total += drain(b, rows.NewCSVReader(bytes.NewReader(data), "bench.csv", ','))
	}
	reportRows(b, total)
}

func BenchmarkParquet(b *testing.B) {
	var buf bytes.Buffer
	writeBenchParquet(b, &buf, benchRows, benchRows/4)
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	total := 0
	for b.Loop() {
		r, err := rows.NewParquetReader(bytes.NewReader(data), int64(len(data)), "bench.parquet", nil)
		if err != nil {
			b.Fatal(err)
		}
		total += drain(b, r)
	}
	reportRows(b, total)
}

// BenchmarkParquetMemory reads a 10,000-row and a 1,000,000-row file (row
// groups of 100,000 rows) and reports the peak HeapInuse seen while
// reading, sampled every 4,096 rows, garbage not yet collected included:
// it should not grow with the file.
func BenchmarkParquetMemory(b *testing.B) {
	for _, n := range []int{10_000, 1_000_000} {
		b.Run(fmt.Sprintf("rows=%d", n), func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "in.parquet")
			f, err := os.Create(path)
			if err != nil {
				b.Fatal(err)
			}
			writeBenchParquet(b, f, n, 100_000)
			if err := f.Close(); err != nil {
				b.Fatal(err)
			}
			f, err = os.Open(path)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			st, err := f.Stat()
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(st.Size())
			b.ReportAllocs()
			var ms runtime.MemStats
			peak, total := uint64(0), 0
			// Twice: the writer's pooled buffers survive one collection.
			runtime.GC()
			runtime.GC()
			for b.Loop() {
				r, err := rows.NewParquetReader(f, st.Size(), path, nil)
				if err != nil {
					b.Fatal(err)
				}
				for i := 0; ; i++ {
					_, err := r.Next()
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
					if i%4096 == 0 {
						runtime.ReadMemStats(&ms)
						peak = max(peak, ms.HeapInuse)
					}
					total++
				}
			}
			reportRows(b, total)
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
		})
	}
}
