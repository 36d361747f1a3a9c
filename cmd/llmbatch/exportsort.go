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
// sorted runs (gob) to temporary files in dir, merged at the end, so that
// an export of any size needs bounded memory. index and size read a row's
// index and its approximate size in memory.
type rowSorter[T any] struct {
	dir   string
	index func(*T) int64
	size  func(*T) int64
	buf   []seqRow[T]
	used  int64
	seq   int64
	runs  []*os.File
}

// newRowSorter returns the sorter of plain export rows.
func newRowSorter(dir string) *rowSorter[results.ExportRow] {
	return &rowSorter[results.ExportRow]{dir: dir, index: func(r *results.ExportRow) int64 { return r.Index }, size: rowSize}
}

// seqRow is a row and its arrival order, the tie-break of equal indexes.
type seqRow[T any] struct {
	Seq int64
	Row T
}

// add takes a row; it may write a sorted run.
func (s *rowSorter[T]) add(r T) error {
	s.buf = append(s.buf, seqRow[T]{s.seq, r})
	s.seq++
	s.used += s.size(&r)
	if s.used >= exportSortMem {
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

func (s *rowSorter[T]) sortBuf() {
	slices.SortFunc(s.buf, s.cmp)
}

func (s *rowSorter[T]) cmp(a, b seqRow[T]) int {
	if ia, ib := s.index(&a.Row), s.index(&b.Row); ia != ib {
		return cmpInt(ia, ib)
	}
	return cmpInt(a.Seq, b.Seq)
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
func (s *rowSorter[T]) spill() error {
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
	s.buf, s.used = s.buf[:0], 0
	return nil
}

// emit calls fn with every row in order.
func (s *rowSorter[T]) emit(fn func(T) error) error {
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
	h := runHeap[T]{cmp: s.cmp}
	for _, f := range s.runs {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("sort the rows: %w", err)
		}
		r := &runReader[T]{dec: gob.NewDecoder(bufio.NewReaderSize(f, 256<<10)), name: f.Name()}
		ok, err := r.next()
		if err != nil {
			return err
		}
		if ok {
			h.rs = append(h.rs, r)
		}
	}
	heap.Init(&h)
	for len(h.rs) > 0 {
		r := h.rs[0]
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
func (s *rowSorter[T]) close() {
	for _, f := range s.runs {
		f.Close()
		os.Remove(f.Name())
	}
	s.runs = nil
}

type runReader[T any] struct {
	dec  *gob.Decoder
	name string
	cur  seqRow[T]
}

func (r *runReader[T]) next() (bool, error) {
	r.cur = seqRow[T]{}
	if err := r.dec.Decode(&r.cur); err != nil {
		if errors.Is(err, io.EOF) {
			return false, nil
		}
		return false, fmt.Errorf("sort the rows: read %s: %w", r.name, err)
	}
	return true, nil
}

type runHeap[T any] struct {
	rs  []*runReader[T]
	cmp func(a, b seqRow[T]) int
}

func (h *runHeap[T]) Len() int           { return len(h.rs) }
func (h *runHeap[T]) Less(i, j int) bool { return h.cmp(h.rs[i].cur, h.rs[j].cur) < 0 }
func (h *runHeap[T]) Swap(i, j int)      { h.rs[i], h.rs[j] = h.rs[j], h.rs[i] }
func (h *runHeap[T]) Push(x any)         { h.rs = append(h.rs, x.(*runReader[T])) }
func (h *runHeap[T]) Pop() any {
	x := h.rs[len(h.rs)-1]
	h.rs = h.rs[:len(h.rs)-1]
	return x
}
