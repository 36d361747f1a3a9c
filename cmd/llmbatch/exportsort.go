package main

import (
	"bufio"
	"container/heap"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/llmbatch/llmbatch/io/results"
)

// exportSortMem is how many bytes of rows an export sorts in memory
// before it writes them to a sorted run in a temporary file.
var exportSortMem int64 = 32 << 20

// rowSorter puts export rows in input order: by their index, rows of
// the same index (journals of several inputs) in the order they came.
// It sorts up to exportSortMem bytes in memory and beyond that writes
// sorted runs to temporary files in dir, merged at the end, so that an
// export of any size needs bounded memory.
type rowSorter struct {
	dir  string
	buf  []seqRow
	size int64
	seq  int64
	runs []*os.File
}

// seqRow is a row and its arrival order, the tie-break of equal indexes.
type seqRow struct {
	Seq int64
	Row results.ExportRow
}

// add takes a row; it may write a sorted run.
func (s *rowSorter) add(r results.ExportRow) error {
	s.buf = append(s.buf, seqRow{s.seq, r})
	s.seq++
	s.size += rowSize(&r)
	if s.size >= exportSortMem {
		return s.spill()
	}
	return nil
}

func rowSize(r *results.ExportRow) int64 {
	n := int64(256 + len(r.Key) + len(r.Status) + 4*len(r.Embedding))
	for _, p := range []*string{r.OutputText, r.Model, r.ErrorCode, r.ErrorMessage, r.InputJSON} {
		if p != nil {
			n += int64(len(*p))
		}
	}
	return n
}

func (s *rowSorter) sortBuf() {
	slices.SortFunc(s.buf, func(a, b seqRow) int {
		if a.Row.Index != b.Row.Index {
			return cmpInt(a.Row.Index, b.Row.Index)
		}
		return cmpInt(a.Seq, b.Seq)
	})
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// spill writes the buffered rows, sorted, to a temporary file.
func (s *rowSorter) spill() error {
	s.sortBuf()
	f, err := os.CreateTemp(s.dir, ".llmbatch-export-sort-*")
	if err != nil {
		return fmt.Errorf("sort the rows: %w", err)
	}
	s.runs = append(s.runs, f)
	bw := bufio.NewWriterSize(f, 1<<20)
	enc := gob.NewEncoder(bw)
	for i := range s.buf {
		if err := enc.Encode(&s.buf[i]); err != nil {
			return fmt.Errorf("sort the rows: write %s: %w", f.Name(), err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("sort the rows: write %s: %w", f.Name(), err)
	}
	clear(s.buf)
	s.buf, s.size = s.buf[:0], 0
	return nil
}

// emit calls fn with every row in order.
func (s *rowSorter) emit(fn func(results.ExportRow) error) error {
	if len(s.runs) == 0 {
		s.sortBuf()
		for _, r := range s.buf {
			if err := fn(r.Row); err != nil {
				return err
			}
		}
		return nil
	}
	if len(s.buf) > 0 {
		if err := s.spill(); err != nil {
			return err
		}
	}
	h := make(runHeap, 0, len(s.runs))
	for _, f := range s.runs {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("sort the rows: %w", err)
		}
		r := &runReader{dec: gob.NewDecoder(bufio.NewReaderSize(f, 256<<10)), name: f.Name()}
		ok, err := r.next()
		if err != nil {
			return err
		}
		if ok {
			h = append(h, r)
		}
	}
	heap.Init(&h)
	for len(h) > 0 {
		r := h[0]
		if err := fn(r.cur.Row); err != nil {
			return err
		}
		ok, err := r.next()
		if err != nil {
			return err
		}
		if ok {
			heap.Fix(&h, 0)
		} else {
			heap.Pop(&h)
		}
	}
	return nil
}

// close removes the temporary files.
func (s *rowSorter) close() {
	for _, f := range s.runs {
		f.Close()
		os.Remove(f.Name())
	}
	s.runs = nil
}

type runReader struct {
	dec  *gob.Decoder
	name string
	cur  seqRow
}

func (r *runReader) next() (bool, error) {
	r.cur = seqRow{}
	if err := r.dec.Decode(&r.cur); err != nil {
		if errors.Is(err, io.EOF) {
			return false, nil
		}
		return false, fmt.Errorf("sort the rows: read %s: %w", r.name, err)
	}
	return true, nil
}

type runHeap []*runReader

func (h runHeap) Len() int { return len(h) }
func (h runHeap) Less(i, j int) bool {
	a, b := h[i].cur, h[j].cur
	if a.Row.Index != b.Row.Index {
		return a.Row.Index < b.Row.Index
	}
	return a.Seq < b.Seq
}
func (h runHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *runHeap) Push(x any)   { *h = append(*h, x.(*runReader)) }
func (h *runHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
