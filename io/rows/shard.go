package rows

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
)

// Shard selects one of Count disjoint parts of an input, so that Count
// processes (the pods of a Kubernetes Indexed Job, say) share a job. Every
// row belongs to exactly one part, the same on every run and machine,
// and keeps the Index (and Line) it has in the whole input, so that index
// keys and the order of a merged export are those of an unsharded run.
//
// How an input is split depends on what its format allows:
//
//   - JSONL in a file: by byte range. Part i is the lines that start in
//     [i*size/Count, (i+1)*size/Count): the reader seeks to its range,
//     skips to the next line start (as Hadoop's input splits do), and
//     parses only its own lines. The rows before its range are counted
//     (lines split, not parsed) to give its rows their input index, so
//     a part reads the bytes before it once, fast, but decodes only its
//     own; parts hold about the same bytes, not the same rows.
//   - Parquet: by row group. Part i is the row groups
//     [i*G/Count, (i+1)*G/Count) of the file's G groups, whose row
//     offsets the footer gives; no other group's pages are read. A file
//     with fewer row groups than parts leaves some parts empty.
//   - CSV/TSV, and any stream (stdin, a FIFO): by row index modulo Count.
//     A quoted field may hold a newline, so a byte offset cannot tell
//     where a record starts: every part reads the whole input and keeps
//     the rows whose index modulo Count is i.
//
// The zero Shard (Count 0 or 1) is the whole input.
type Shard struct {
	Count int // parts; 0 or 1: the whole input
	Index int // this part, 0 <= Index < Count
}

// On reports whether s selects a part of the input, not all of it.
func (s Shard) On() bool { return s.Count > 1 }

// Check returns an error for an Index outside [0, Count).
func (s Shard) Check() error {
	if s.Count < 0 || (s.On() && (s.Index < 0 || s.Index >= s.Count)) || (!s.On() && s.Index != 0) {
		return fmt.Errorf("shard index %d is not in [0, %d)", s.Index, max(s.Count, 1))
	}
	return nil
}

// owns reports whether s keeps the row at index (the modulo split).
func (s Shard) owns(index int64) bool {
	return !s.On() || index%int64(s.Count) == int64(s.Index)
}

// span returns the bounds of part s of n units: [lo, hi).
func (s Shard) span(n int64) (lo, hi int64) {
	c, i := int64(s.Count), int64(s.Index)
	return i * n / c, (i + 1) * n / c
}

// modShard keeps the rows (good or bad) whose index a Shard owns.
type modShard struct {
	r Reader
	s Shard
}

func (m modShard) Next() (Row, error) {
	for {
		row, err := m.r.Next()
		var re *RowError
		switch {
		case err == nil:
			if m.s.owns(row.Index) {
				return row, nil
			}
		case errors.As(err, &re):
			if m.s.owns(re.Index) {
				return row, err
			}
		default:
			return row, err
		}
	}
}

// jsonlRange returns the reader of part s of the JSONL file f, of size
// bytes.
func jsonlRange(f io.ReaderAt, size int64, name string, s Shard, maxRow int) (Reader, error) {
	start, err := lineStart(f, size, s)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	_, end := s.span(size)
	if s.Index == s.Count-1 {
		end = size
	}
	// The rows before the range, to number ours as the whole input does.
	before, lines, err := countJSONL(context.Background(), io.NewSectionReader(f, 0, start), maxRow)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	r := NewJSONLReader(io.NewSectionReader(f, start, size-start), name)
	r.MaxRowBytes = maxRow
	r.index, r.line, r.off, r.end = before, lines, start, end
	return r, nil
}

// lineStart returns the offset of the first line that starts at or after
// the beginning of part s's byte range: seek to the byte before it, then
// skip to the next line start.
func lineStart(f io.ReaderAt, size int64, s Shard) (int64, error) {
	lo, _ := s.span(size)
	if lo == 0 {
		return 0, nil
	}
	buf := make([]byte, 64<<10)
	for pos := lo - 1; pos < size; {
		n, err := f.ReadAt(buf, pos)
		if i := bytes.IndexByte(buf[:n], '\n'); i >= 0 {
			return pos + int64(i) + 1, nil
		}
		pos += int64(n)
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, err
		}
	}
	return size, nil
}

// countJSONL counts the rows (lines that are not blank) and the lines of
// JSONL read from r, as JSONLReader numbers them.
func countJSONL(ctx context.Context, r io.Reader, maxRow int) (rows, lines int64, err error) {
	if maxRow <= 0 {
		maxRow = DefaultMaxRowBytes
	}
	jr := NewJSONLReader(ctxReader{ctx, r}, "")
	for {
		line, tooLong, err := jr.readLine(maxRow)
		if err == io.EOF && line == nil {
			return rows, jr.line, nil
		}
		if err != nil && err != io.EOF {
			return 0, 0, err
		}
		jr.line++
		if jr.line == 1 {
			line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf"))
		}
		// As JSONLReader.Next: only blank lines are not rows.
		if tooLong || len(bytes.TrimSpace(line)) > 0 {
			rows++
		}
	}
}

// countShard counts the rows of part opts.Shard of f.
func countShard(ctx context.Context, f File, regular bool, path, format string, opts Options) (int64, error) {
	s := opts.Shard
	size := f.Size()
	switch {
	case format == FormatParquet:
		counts, err := parquetGroupRows(f, size)
		if err != nil {
			return 0, fmt.Errorf("count %s: %w", path, err)
		}
		lo, hi := s.span(int64(len(counts)))
		var n int64
		for _, c := range counts[lo:hi] {
			n += c
		}
		return n, nil
	case format == FormatJSONL && regular:
		start, err := lineStart(f, size, s)
		if err != nil {
			return 0, fmt.Errorf("count %s: %w", path, err)
		}
		end := size
		if s.Index < s.Count-1 {
			if end, err = lineStart(f, size, Shard{Count: s.Count, Index: s.Index + 1}); err != nil {
				return 0, fmt.Errorf("count %s: %w", path, err)
			}
		}
		n, _, err := countJSONL(ctx, io.NewSectionReader(f, start, end-start), opts.MaxRowBytes)
		if err != nil {
			return 0, fmt.Errorf("count %s: %w", path, err)
		}
		return n, nil
	}
	whole := opts
	whole.Shard = Shard{}
	n, err := CountContext(ctx, path, whole)
	if err != nil || n <= int64(s.Index) {
		return 0, err
	}
	return (n-int64(s.Index)-1)/int64(s.Count) + 1, nil
}
