package rows_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/llmbatch/llmbatch/io/rows"
	"github.com/parquet-go/parquet-go"
)

type pqItem struct {
	K string `parquet:"k"`
	V *int64 `parquet:"v,optional"`
}

type pqMeta struct {
	Source string   `parquet:"source"`
	Level  *int32   `parquet:"level,optional"`
	Items  []pqItem `parquet:"items,list"`
}

// pqRow has a column of each kind that ParquetReader maps.
type pqRow struct {
	ID    int64             `parquet:"id"`
	Name  string            `parquet:"name"`
	Score float64           `parquet:"score"`
	Ratio float32           `parquet:"ratio"`
	Small int32             `parquet:"small"`
	U32   uint32            `parquet:"u32"`
	OK    bool              `parquet:"ok"`
	At    time.Time         `parquet:"at,timestamp(millisecond)"`
	AtNs  time.Time         `parquet:"at_ns,timestamp(nanosecond)"`
	Day   int32             `parquet:"day,date"` // days since 1970-01-01; v0.32.0 writes a time.Time date wrongly
	Price int64             `parquet:"price,decimal(2:18)"`
	UID   [16]byte          `parquet:"uid,uuid"`
	Note  *string           `parquet:"note,optional"`
	Count *int64            `parquet:"count,optional"`
	When  *time.Time        `parquet:"when,optional,timestamp(microsecond)"`
	Tags  []string          `parquet:"tags,list"`
	Nums  []int32           `parquet:"nums"` // repeated, no LIST annotation
	Meta  *pqMeta           `parquet:"meta,optional"`
	Attrs map[string]string `parquet:"attrs"`
	Blob  []byte            `parquet:"blob"`
}

func ptr[T any](v T) *T { return &v }

// pqRows returns n rows; row i is a function of i only.
func pqRows(n int) []pqRow {
	base := time.Date(2024, 5, 1, 12, 30, 0, 0, time.UTC)
	out := make([]pqRow, n)
	for i := range out {
		r := pqRow{
			ID:    int64(i),
			Name:  fmt.Sprintf("row %d é", i),
			Score: float64(i) + 0.5,
			Ratio: 0.1 * float32(i),
			Small: int32(-i),
			U32:   uint32(4000000000 + i),
			OK:    i%2 == 0,
			At:    base.Add(time.Duration(i)*time.Hour + 250*time.Millisecond),
			AtNs:  base.Add(time.Duration(i) + 7),
			Day:   int32(19844 + i), // 2024-05-01 + i
			Price: int64(i*100 + 5),
			Blob:  []byte(fmt.Sprintf("blob%d", i)),
		}
		r.UID[15] = byte(i)
		if i%3 != 0 {
			r.Note = ptr(fmt.Sprintf("note %d", i))
		}
		if i%2 == 1 {
			r.Count = ptr(int64(i * 10))
		}
		if i%4 == 0 {
			r.When = ptr(base.Add(time.Duration(i) * time.Microsecond))
		}
		for j := 0; j < i%3; j++ {
			r.Tags = append(r.Tags, fmt.Sprintf("t%d", j))
			r.Nums = append(r.Nums, int32(j))
		}
		if i%2 == 0 {
			r.Meta = &pqMeta{Source: "src", Items: []pqItem{{K: "a", V: ptr(int64(i))}, {K: "b"}}}
			if i%4 == 0 {
				r.Meta.Level = ptr(int32(i))
			}
		}
		if i%5 != 0 {
			r.Attrs = map[string]string{"k": fmt.Sprint(i)}
		}
		out[i] = r
	}
	return out
}

// pqWant returns the Fields that ParquetReader should give for r.
func pqWant(r pqRow) map[string]any {
	m := map[string]any{
		"id":    r.ID,
		"name":  r.Name,
		"score": r.Score,
		"ratio": mustFloat32(r.Ratio),
		"small": int64(r.Small),
		"u32":   int64(r.U32),
		"ok":    r.OK,
		"at":    r.At.UTC().Format(time.RFC3339Nano),
		"at_ns": r.AtNs.UTC().Format(time.RFC3339Nano),
		"day":   time.Unix(int64(r.Day)*86400, 0).UTC().Format("2006-01-02"),
		"price": json.Number(fmt.Sprintf("%d.%02d", r.Price/100, r.Price%100)),
		"uid":   fmt.Sprintf("00000000-0000-0000-0000-0000000000%02x", r.UID[15]),
		"note":  nil,
		"count": nil,
		"when":  nil,
		"tags":  []any{},
		"nums":  []any{},
		"meta":  nil,
		"attrs": map[string]any{},
		"blob":  string(r.Blob),
	}
	if r.Note != nil {
		m["note"] = *r.Note
	}
	if r.Count != nil {
		m["count"] = *r.Count
	}
	if r.When != nil {
		m["when"] = r.When.UTC().Format(time.RFC3339Nano)
	}
	for i, t := range r.Tags {
		m["tags"] = append(m["tags"].([]any), t)
		m["nums"] = append(m["nums"].([]any), int64(r.Nums[i]))
	}
	if r.Meta != nil {
		items := []any{}
		for _, it := range r.Meta.Items {
			var v any
			if it.V != nil {
				v = *it.V
			}
			items = append(items, map[string]any{"k": it.K, "v": v})
		}
		var level any
		if r.Meta.Level != nil {
			level = int64(*r.Meta.Level)
		}
		m["meta"] = map[string]any{"source": r.Meta.Source, "level": level, "items": items}
	}
	for k, v := range r.Attrs {
		m["attrs"].(map[string]any)[k] = v
	}
	return m
}

// mustFloat32 is what ParquetReader makes of a FLOAT: its shortest form.
func mustFloat32(f float32) float64 {
	var x float64
	fmt.Sscan(fmt.Sprint(f), &x)
	return x
}

// writeParquet returns a Parquet file of rs with rowsPerGroup rows per row
// group.
func writeParquet[T any](tb testing.TB, rs []T, rowsPerGroup int64) []byte {
	tb.Helper()
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[T](&buf, parquet.MaxRowsPerRowGroup(rowsPerGroup))
	if _, err := w.Write(rs); err != nil {
		tb.Fatalf("Write() = %v", err)
	}
	if err := w.Close(); err != nil {
		tb.Fatalf("Close() = %v", err)
	}
	return buf.Bytes()
}

// result is one answer of Reader.Next.
type result struct {
	Row rows.Row
	Err error
}

// readAll calls Next until io.EOF or a fatal error, which it returns.
func readAll(tb testing.TB, r rows.Reader) ([]result, error) {
	tb.Helper()
	var out []result
	for i := 0; ; i++ {
		if i > 1e6 {
			tb.Fatalf("Next() did not return io.EOF after %d calls", i)
		}
		row, err := r.Next()
		if err == io.EOF {
			return out, nil
		}
		var re *rows.RowError
		if err != nil && !errors.As(err, &re) {
			return out, err
		}
		out = append(out, result{row, err})
	}
}

func TestParquetReader(t *testing.T) {
	in := pqRows(10)
	data := writeParquet(t, in, 4)
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(f.RowGroups()), 3; got != want {
		t.Fatalf("fixture has %d row groups, want %d", got, want)
	}

	r, err := rows.NewParquetReader(bytes.NewReader(data), int64(len(data)), "in.parquet", nil)
	if err != nil {
		t.Fatalf("NewParquetReader() = %v", err)
	}
	if got, want := r.NumRows(), int64(10); got != want {
		t.Errorf("NumRows() = %d, want %d", got, want)
	}
	got, err := readAll(t, r)
	if err != nil {
		t.Fatalf("Next() = %v", err)
	}
	if len(got) != len(in) {
		t.Fatalf("read %d rows, want %d", len(got), len(in))
	}
	for i, res := range got {
		if res.Err != nil {
			t.Errorf("row %d: Next() = %v", i, res.Err)
			continue
		}
		if res.Row.Index != int64(i) || res.Row.Line != 0 {
			t.Errorf("row %d: Index, Line = %d, %d, want %d, 0", i, res.Row.Index, res.Row.Line, i)
		}
		if want := pqWant(in[i]); !reflect.DeepEqual(res.Row.Fields, want) {
			t.Errorf("row %d: Fields =\n%#v\nwant\n%#v", i, res.Row.Fields, want)
		}
		if _, err := json.Marshal(res.Row.Fields); err != nil {
			t.Errorf("row %d: json.Marshal(Fields) = %v", i, err)
		}
	}
	if _, err := r.Next(); err != io.EOF {
		t.Errorf("Next() after the end = %v, want io.EOF", err)
	}
}

func TestParquetReader_Projection(t *testing.T) {
	in := pqRows(9)
	data := writeParquet(t, in, 4)
	ra := &countingReaderAt{r: bytes.NewReader(data)}
	r, err := rows.NewParquetReader(ra, int64(len(data)), "in.parquet", []string{"tags", "id", "meta"})
	if err != nil {
		t.Fatalf("NewParquetReader() = %v", err)
	}
	if got, want := r.Columns(), []string{"id", "tags", "meta"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Columns() = %q, want %q", got, want)
	}
	got, err := readAll(t, r)
	if err != nil {
		t.Fatalf("Next() = %v", err)
	}
	if len(got) != len(in) {
		t.Fatalf("read %d rows, want %d", len(got), len(in))
	}
	for i, res := range got {
		all := pqWant(in[i])
		want := map[string]any{"id": all["id"], "tags": all["tags"], "meta": all["meta"]}
		if res.Err != nil || !reflect.DeepEqual(res.Row.Fields, want) {
			t.Errorf("row %d: Next() = %#v, %v, want %#v", i, res.Row.Fields, res.Err, want)
		}
	}

	// The pages of the other columns were not read: no read touched the
	// byte range of a "name" or "blob" chunk.
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	for g, rg := range f.Metadata().RowGroups {
		for _, cc := range rg.Columns {
			name := cc.MetaData.PathInSchema[0]
			if name != "name" && name != "blob" {
				continue
			}
			start := cc.MetaData.DataPageOffset
			if d := cc.MetaData.DictionaryPageOffset; d > 0 && d < start {
				start = d
			}
			end := start + cc.MetaData.TotalCompressedSize
			if ra.touched(start, end) {
				t.Errorf("row group %d: the pages of column %q were read", g, name)
			}
		}
	}
}

func TestParquetReader_UnknownColumn(t *testing.T) {
	data := writeParquet(t, pqRows(2), 10)
	_, err := rows.NewParquetReader(bytes.NewReader(data), int64(len(data)), "in.parquet", []string{"id", "nope"})
	if !errors.Is(err, rows.ErrUnknownColumn) {
		t.Fatalf("NewParquetReader() = %v, want ErrUnknownColumn", err)
	}
	for _, s := range []string{"in.parquet", `"nope"`, "id, name, score"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not contain %q", err, s)
		}
	}
}

type utf8Row struct {
	ID   int64  `parquet:"id"`
	Blob []byte `parquet:"blob"`
}

func TestParquetReader_InvalidUTF8(t *testing.T) {
	data := writeParquet(t, []utf8Row{{0, []byte("ok")}, {1, []byte("bad\xff")}, {2, []byte("fine")}}, 2)
	r, err := rows.NewParquetReader(bytes.NewReader(data), int64(len(data)), "in.parquet", nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := readAll(t, r)
	if err != nil {
		t.Fatalf("Next() = %v", err)
	}
	if len(got) != 3 {
		t.Fatalf("read %d results, want 3", len(got))
	}
	if err := got[1].Err; !errors.Is(err, rows.ErrInvalidUTF8) {
		t.Errorf("row 1: Next() = %v, want ErrInvalidUTF8", err)
	} else if got, want := err.Error(), `in.parquet: row group 0 row 1: column "blob": invalid UTF-8`; got != want {
		t.Errorf("row 1: error = %q, want %q", got, want)
	}
	if blob, want := got[2].Row.Fields["blob"], "fine"; got[2].Err != nil || blob != want {
		t.Errorf("row 2 (row group 1 row 0): blob = %v, %v, want %q", blob, got[2].Err, want)
	}
}

func TestParquetReader_Corrupt(t *testing.T) {
	data := writeParquet(t, pqRows(50), 20)
	garbage := bytes.Repeat([]byte("not parquet at all "), 50)
	tests := []struct {
		name string
		data []byte
	}{
		{"Empty", nil},
		{"Garbage", garbage},
		{"GarbageWithMagic", append(append([]byte("PAR1"), garbage...), "\xff\xff\xff\x7fPAR1"...)},
		{"TruncatedHalf", data[:len(data)/2]},
		{"TruncatedFooter", data[:len(data)-3]},
		{"NoHeader", data[4:]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := readParquetFile(t, tt.data)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), "bad.parquet") {
				t.Errorf("error %q does not name the file", err)
			}
			if _, err := rows.ParquetNumRows(bytes.NewReader(tt.data), int64(len(tt.data))); err == nil {
				t.Errorf("ParquetNumRows() = nil error")
			}
		})
	}
}

// TestParquetReader_Damaged flips bytes in the pages and the footer of a
// valid file: reading it may fail or give bad rows, but must not panic or
// hang.
func TestParquetReader_Damaged(t *testing.T) {
	data := writeParquet(t, pqRows(40), 15)
	footer := len(data) - 8 - int(uint32(data[len(data)-8])|uint32(data[len(data)-7])<<8|uint32(data[len(data)-6])<<16|uint32(data[len(data)-5])<<24)
	step := max(footer/80, 1) // about 80 cases, to keep the test fast
	for off := 4; off < footer-1; off += step {
		bad := bytes.Clone(data)
		bad[off] ^= 0xff
		bad[off+1] ^= 0x55
		readParquetFile(t, bad) // errors are fine; a panic fails the test
	}
	for off := footer; off < len(data)-8; off += max((len(data)-8-footer)/40, 1) {
		bad := bytes.Clone(data)
		bad[off] ^= 0x80
		readParquetFile(t, bad)
	}
}

// readParquetFile reads every row of data and returns the first fatal
// error.
func readParquetFile(t *testing.T, data []byte) error {
	t.Helper()
	r, err := rows.NewParquetReader(bytes.NewReader(data), int64(len(data)), "bad.parquet", nil)
	if err != nil {
		return err
	}
	defer r.Close()
	_, err = readAll(t, r)
	return err
}

func TestParquetNumRows(t *testing.T) {
	data := writeParquet(t, pqRows(25), 10)
	n, err := rows.ParquetNumRows(bytes.NewReader(data), int64(len(data)))
	if got, want := n, int64(25); err != nil || got != want {
		t.Errorf("ParquetNumRows() = %d, %v, want %d", got, err, want)
	}
}

// countingReaderAt records the byte ranges read.
type countingReaderAt struct {
	r      io.ReaderAt
	ranges [][2]int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	c.ranges = append(c.ranges, [2]int64{off, off + int64(len(p))})
	return c.r.ReadAt(p, off)
}

// touched reports whether a read overlapped [start, end).
func (c *countingReaderAt) touched(start, end int64) bool {
	for _, r := range c.ranges {
		if r[0] < end && start < r[1] {
			return true
		}
	}
	return false
}
