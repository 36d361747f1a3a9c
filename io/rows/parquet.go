package rows

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/format"
)

// parquetBatch is how many rows ParquetReader decodes at a time.
const parquetBatch = 256

// ParquetReader reads the rows of a Parquet file one row group at a time,
// and within a row group one page per column at a time, so its memory
// does not grow with the file. With a column projection, only the pages
// of the chosen columns are read.
//
// Row.Index is the 0-based row number across the file and Row.Line is 0.
// Row.Fields maps each top-level column to a value:
//
//   - INT32, INT64 and the INT logical types: int64 (UINT_64 values above
//     math.MaxInt64: uint64);
//   - FLOAT, DOUBLE, FLOAT16: float64 (a FLOAT keeps its shortest decimal
//     form: 0.1 reads as 0.1, not 0.10000000149011612);
//   - BOOLEAN: bool;
//   - BYTE_ARRAY and FIXED_LEN_BYTE_ARRAY (STRING, ENUM, JSON or none):
//     string, which must be valid UTF-8 (else the row is a *RowError
//     wrapping ErrInvalidUTF8); UUID: its canonical text form;
//   - DECIMAL: json.Number holding the exact decimal text ("12.34");
//   - TIMESTAMP and INT96: an RFC 3339 string in UTC with as many
//     fractional digits as needed ("2024-05-01T12:30:00.25Z"); DATE:
//     "2024-05-01"; TIME: "12:30:00.25";
//   - null: nil;
//   - a group: map[string]any; a LIST, or a repeated field: []any; a MAP:
//     map[string]any keyed by the key's text.
//
// A bad value (non-UTF-8 text, inconsistent levels) is a *RowError whose
// Where is "row group G row R" (0-based G and R); the reader goes on. A
// corrupt or truncated file, including a panic inside parquet-go, is a
// fatal error naming the file and the row group.
//
// A ParquetReader is not safe for concurrent use. The caller owns the
// io.ReaderAt and must keep it open until it is done with the reader.
type ParquetReader struct {
	name   string
	size   int64
	file   *parquet.File
	groups []parquet.RowGroup
	fields []*pqNode // selected top-level columns, in file order
	leaves []int     // file leaf column indexes that are read, ascending
	pos    []int     // file leaf column index -> position in leaves, -1 if not read

	group    int          // current row group
	rows     parquet.Rows // reader of the current row group; nil between groups
	groupEOF bool         // rows has no more rows
	buf      []parquet.Row
	n, next  int   // rows in buf, and the next one to return
	inGroup  int64 // index within its row group of buf[next]
	index    int64
	cols     [][]parquet.Value // scratch: the current row's values by leaf
	err      error             // sticky
}

// NewParquetReader opens the Parquet file held by r, of size bytes; name is
// used in error messages. A non-empty columns keeps only those top-level
// columns (in the file's order), and the pages of the other columns are not
// read; a name the file does not have is an error wrapping
// ErrUnknownColumn that lists the columns it has. Only the footer is read
// here: the rows are read by Next.
func NewParquetReader(r io.ReaderAt, size int64, name string, columns []string) (pr *ParquetReader, err error) {
	defer func() {
		if p := recover(); p != nil {
			pr, err = nil, fmt.Errorf("open %s: corrupt parquet file: %v", name, p)
		}
	}()
	f, err := openParquet(r, size, name)
	if err != nil {
		return nil, err
	}
	pr = &ParquetReader{name: name, size: size, file: f, groups: f.RowGroups()}

	top := f.Root().Columns()
	want := make(map[string]bool, len(columns))
	for _, c := range columns {
		want[c] = true
	}
	for _, c := range columns {
		found := false
		for _, col := range top {
			found = found || col.Name() == c
		}
		if !found {
			names := make([]string, len(top))
			for i, col := range top {
				names[i] = col.Name()
			}
			return nil, fmt.Errorf("%s: %w %q (columns: %s)", name, ErrUnknownColumn, c, strings.Join(names, ", "))
		}
	}
	numLeaves := len(f.Schema().Columns())
	pr.pos = make([]int, numLeaves)
	for i := range pr.pos {
		pr.pos[i] = -1
	}
	for _, col := range top {
		if len(columns) > 0 && !want[col.Name()] {
			continue
		}
		n, err := pr.build(col, col.Name())
		if err != nil {
			return nil, fmt.Errorf("open %s: column %q: %w", name, col.Name(), err)
		}
		pr.fields = append(pr.fields, n)
	}
	pr.buf = make([]parquet.Row, parquetBatch)
	pr.cols = make([][]parquet.Value, len(pr.leaves))
	return pr, nil
}

// limitGroups makes the reader read only part s of the file's row groups
// (see Shard), its rows keeping their index in the whole file.
func (r *ParquetReader) limitGroups(s Shard) {
	lo, hi := s.span(int64(len(r.groups)))
	for _, g := range r.groups[:lo] {
		r.index += g.NumRows()
	}
	r.group = int(lo)
	r.groups = r.groups[:hi]
}

// parquetGroupRows returns the row count of each row group of the Parquet
// file held by r, of size bytes, from its footer.
func parquetGroupRows(r io.ReaderAt, size int64) (n []int64, err error) {
	defer func() {
		if p := recover(); p != nil {
			n, err = nil, fmt.Errorf("corrupt parquet file: %v", p)
		}
	}()
	f, err := openParquet(r, size, "")
	if err != nil {
		return nil, err
	}
	for _, g := range f.RowGroups() {
		n = append(n, g.NumRows())
	}
	return n, nil
}

// ParquetNumRows returns the number of rows of the Parquet file held by r,
// of size bytes, from its footer.
func ParquetNumRows(r io.ReaderAt, size int64) (n int64, err error) {
	defer func() {
		if p := recover(); p != nil {
			n, err = 0, fmt.Errorf("corrupt parquet file: %v", p)
		}
	}()
	f, err := openParquet(r, size, "")
	if err != nil {
		return 0, err
	}
	return f.NumRows(), nil
}

// openParquet opens the file's footer. name, if not empty, prefixes errors.
func openParquet(r io.ReaderAt, size int64, name string) (*parquet.File, error) {
	prefix := "open parquet file: "
	if name != "" {
		prefix = "open " + name + ": "
	}
	// parquet-go allocates the footer length that the file claims before
	// it reads it: check that length first.
	if size < 12 {
		return nil, fmt.Errorf("%snot a parquet file: %d bytes", prefix, size)
	}
	var tail [8]byte
	if n, err := r.ReadAt(tail[:], size-8); n != len(tail) {
		return nil, fmt.Errorf("%sread footer: %w", prefix, err)
	}
	if m := string(tail[4:]); m != "PAR1" && m != "PARE" {
		return nil, fmt.Errorf("%snot a parquet file (truncated or corrupt): invalid magic footer %q", prefix, m)
	}
	if n := int64(binary.LittleEndian.Uint32(tail[:4])); n > size-12 {
		return nil, fmt.Errorf("%scorrupt parquet file: footer of %d bytes in a file of %d", prefix, n, size)
	}
	f, err := parquet.OpenFile(r, size, parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return nil, fmt.Errorf("%s%w", prefix, err)
	}
	return f, nil
}

// Columns returns the names of the top-level columns that Next returns, in
// the file's order.
func (r *ParquetReader) Columns() []string {
	names := make([]string, len(r.fields))
	for i, f := range r.fields {
		names[i] = f.name
	}
	return names
}

// NumRows returns the number of rows in the file, from its footer.
func (r *ParquetReader) NumRows() int64 { return r.file.NumRows() }

// Close releases the row group being read. Next returns an error after
// Close. It does not close the io.ReaderAt.
func (r *ParquetReader) Close() error {
	err := r.closeGroup()
	if r.err == nil {
		r.err = fmt.Errorf("read %s: reader is closed", r.name)
	}
	return err
}

func (r *ParquetReader) closeGroup() error {
	if r.rows == nil {
		return nil
	}
	err := r.rows.Close()
	r.rows = nil
	return err
}

// Next implements Reader.
func (r *ParquetReader) Next() (row Row, err error) {
	if r.err != nil {
		return Row{}, r.err
	}
	defer func() {
		if p := recover(); p != nil {
			r.closeGroup()
			r.err = fmt.Errorf("read %s: row group %d: corrupt parquet file: %v", r.name, r.group, p)
			row, err = Row{}, r.err
		}
	}()
	for r.next >= r.n {
		if err := r.fill(); err != nil {
			r.err = err
			return Row{}, err
		}
	}
	prow := r.buf[r.next]
	row = Row{Index: r.index}
	inGroup := r.inGroup
	r.next++
	r.index++
	r.inGroup++
	rowErr := func(err error) (Row, error) {
		return row, &RowError{File: r.name, Index: row.Index, Where: fmt.Sprintf("row group %d row %d", r.group, inGroup), Err: err}
	}

	clear(r.cols)
	for start := 0; start < len(prow); {
		c := prow[start].Column()
		end := start + 1
		for end < len(prow) && prow[end].Column() == c {
			end++
		}
		if c < 0 || c >= len(r.pos) || r.pos[c] < 0 {
			return rowErr(fmt.Errorf("value of unexpected column %d", c))
		}
		r.cols[r.pos[c]] = prow[start:end]
		start = end
	}
	fields := make(map[string]any, len(r.fields))
	for _, f := range r.fields {
		v, err := f.field(r.cols[f.lo:f.hi])
		if err != nil {
			return rowErr(err)
		}
		fields[f.name] = v
	}
	row.Fields = fields
	return row, nil
}

// fill decodes the next batch of rows, moving on to the next row group when
// one ends. It returns io.EOF after the last row group.
func (r *ParquetReader) fill() error {
	for empty := 0; ; {
		if r.rows == nil {
			if r.group >= len(r.groups) {
				return io.EOF
			}
			if err := r.checkGroup(); err != nil {
				return err
			}
			g := r.groups[r.group]
			all := g.ColumnChunks()
			chunks := make([]parquet.ColumnChunk, len(r.leaves))
			for i, leaf := range r.leaves {
				chunks[i] = all[leaf]
			}
			r.rows = parquet.NewRowGroupRowReader(projectedRowGroup{RowGroup: g, chunks: chunks})
			r.groupEOF = len(chunks) == 0
			r.inGroup = 0
		}
		if r.groupEOF {
			if err := r.closeGroup(); err != nil {
				return r.groupErr(err)
			}
			if want := r.groups[r.group].NumRows(); len(r.leaves) > 0 && r.inGroup != want {
				return r.groupErr(fmt.Errorf("corrupt parquet file: read %d rows, the footer says %d", r.inGroup, want))
			}
			r.group++
			continue
		}
		n, err := r.rows.ReadRows(r.buf)
		r.n, r.next = n, 0
		switch {
		case err == io.EOF:
			r.groupEOF = true
		case err != nil:
			r.closeGroup()
			return r.groupErr(err)
		}
		if n > 0 {
			return nil
		}
		if empty++; empty > 100 && !r.groupEOF {
			return r.groupErr(io.ErrNoProgress)
		}
	}
}

func (r *ParquetReader) groupErr(err error) error {
	return fmt.Errorf("read %s: row group %d: %w", r.name, r.group, err)
}

// checkGroup checks that the chunks of the current row group lie within the
// file, before parquet-go reads them.
func (r *ParquetReader) checkGroup() error {
	rgs := r.file.Metadata().RowGroups
	if r.group >= len(rgs) {
		return r.groupErr(errors.New("corrupt parquet file: missing row group metadata"))
	}
	rg := &rgs[r.group]
	if rg.NumRows < 0 {
		return r.groupErr(fmt.Errorf("corrupt parquet file: %d rows", rg.NumRows))
	}
	for _, leaf := range r.leaves {
		if leaf >= len(rg.Columns) {
			return r.groupErr(errors.New("corrupt parquet file: missing column chunk"))
		}
		md := &rg.Columns[leaf].MetaData
		off := md.DataPageOffset
		if d := md.DictionaryPageOffset; d > 0 && d < off {
			off = d
		}
		if off < 0 || md.TotalCompressedSize < 0 || off > r.size || md.TotalCompressedSize > r.size-off {
			return r.groupErr(fmt.Errorf("corrupt parquet file: column chunk %q lies outside the file", strings.Join(md.PathInSchema, ".")))
		}
	}
	return nil
}

// projectedRowGroup is a row group reduced to some of its column chunks, so
// that parquet-go reads the pages of those chunks only.
type projectedRowGroup struct {
	parquet.RowGroup
	chunks []parquet.ColumnChunk
}

func (g projectedRowGroup) ColumnChunks() []parquet.ColumnChunk { return g.chunks }

type pqKind uint8

const (
	pqLeaf pqKind = iota
	pqGroup
	pqList // a LIST-annotated group
	pqMap  // a MAP-annotated group
)

// pqNode is one node of the schema, ready to assemble values from the
// repetition and definition levels of its leaves (Dremel record assembly).
type pqNode struct {
	name     string
	path     string
	kind     pqKind
	repeated bool
	def, rep int // definition and repetition levels of the node
	children []*pqNode
	elem     *pqNode // pqList: the element node, which may be children[0] itself
	lo, hi   int     // the node's leaves are ParquetReader.leaves[lo:hi]
	conv     func(parquet.Value) (any, error)
}

func (r *ParquetReader) build(c *parquet.Column, path string) (*pqNode, error) {
	n := &pqNode{
		name:     c.Name(),
		path:     path,
		repeated: c.Repeated(),
		def:      c.MaxDefinitionLevel(),
		rep:      c.MaxRepetitionLevel(),
		lo:       len(r.leaves),
	}
	if c.Leaf() {
		idx := c.Index()
		if idx < 0 || idx >= len(r.pos) {
			return nil, fmt.Errorf("leaf %q has no column index", path)
		}
		n.kind = pqLeaf
		conv, err := leafConv(c.Type(), path)
		if err != nil {
			return nil, err
		}
		n.conv = conv
		r.pos[idx] = len(r.leaves)
		r.leaves = append(r.leaves, idx)
		n.hi = len(r.leaves)
		return n, nil
	}
	n.kind = pqGroup
	for _, child := range c.Columns() {
		cn, err := r.build(child, path+"."+child.Name())
		if err != nil {
			return nil, err
		}
		n.children = append(n.children, cn)
	}
	n.hi = len(r.leaves)
	if n.hi == n.lo {
		return nil, fmt.Errorf("group %q has no leaf columns", path)
	}
	lt := c.Type().LogicalType()
	ct := c.Type().ConvertedType()
	isList := (lt != nil && isType[*format.ListType](lt.Value)) || (ct != nil && *ct == deprecated.List)
	isMap := (lt != nil && isType[*format.MapType](lt.Value)) || (ct != nil && *ct == deprecated.Map)
	switch {
	case isList && len(n.children) == 1 && n.children[0].repeated:
		// The LIST rules of the Parquet format, backward-compatible ones
		// included: the repeated child is the element unless it is a
		// group of one field not named "array" or "<list>_tuple".
		n.kind = pqList
		rep := n.children[0]
		n.elem = rep
		if rep.kind != pqLeaf && len(rep.children) == 1 && rep.name != "array" && rep.name != n.name+"_tuple" {
			n.elem = rep.children[0]
		}
	case isMap && len(n.children) == 1 && n.children[0].repeated && n.children[0].kind != pqLeaf &&
		len(n.children[0].children) >= 1 && len(n.children[0].children) <= 2:
		n.kind = pqMap
	}
	return n, nil
}

func isType[T any](v any) bool {
	_, ok := v.(T)
	return ok
}

// field assembles the node within one instance of its parent: a []any of
// its instances if it is repeated, else its one value.
func (n *pqNode) field(v [][]parquet.Value) (any, error) {
	if !n.repeated {
		return n.value(v)
	}
	insts, err := n.split(v)
	if err != nil {
		return nil, err
	}
	items := make([]any, len(insts))
	for i, inst := range insts {
		if items[i], err = n.value(inst); err != nil {
			return nil, err
		}
	}
	return items, nil
}

// value assembles one instance of the node from v, the values of its leaves
// (v[k] for leaf lo+k) for that instance.
func (n *pqNode) value(v [][]parquet.Value) (any, error) {
	if len(v) == 0 || len(v[0]) == 0 {
		return nil, fmt.Errorf("column %q: missing value", n.path)
	}
	if v[0][0].DefinitionLevel() < n.def {
		return nil, nil // null, or an empty repeated field
	}
	switch n.kind {
	case pqLeaf:
		if len(v[0]) != 1 {
			return nil, fmt.Errorf("column %q: %d values where one was expected", n.path, len(v[0]))
		}
		x, err := n.conv(v[0][0])
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", n.path, err)
		}
		return x, nil
	case pqList:
		rep := n.children[0]
		insts, err := rep.split(v)
		if err != nil {
			return nil, err
		}
		items := make([]any, len(insts))
		for i, inst := range insts {
			if n.elem == rep {
				items[i], err = rep.value(inst)
			} else {
				items[i], err = n.elem.field(inst)
			}
			if err != nil {
				return nil, err
			}
		}
		return items, nil
	case pqMap:
		kv := n.children[0]
		insts, err := kv.split(v)
		if err != nil {
			return nil, err
		}
		m := make(map[string]any, len(insts))
		key := kv.children[0]
		for _, inst := range insts {
			k, err := key.field(inst[key.lo-kv.lo : key.hi-kv.lo])
			if err != nil {
				return nil, err
			}
			var x any
			if len(kv.children) == 2 {
				val := kv.children[1]
				if x, err = val.field(inst[val.lo-kv.lo : val.hi-kv.lo]); err != nil {
					return nil, err
				}
			}
			m[mapKey(k)] = x
		}
		return m, nil
	default: // pqGroup
		m := make(map[string]any, len(n.children))
		for _, c := range n.children {
			x, err := c.field(v[c.lo-n.lo : c.hi-n.lo])
			if err != nil {
				return nil, err
			}
			m[c.name] = x
		}
		return m, nil
	}
}

// split cuts the values of one instance of the repeated node's parent into
// the node's instances: a new one starts at each value whose repetition
// level is at most the node's.
func (n *pqNode) split(v [][]parquet.Value) ([][][]parquet.Value, error) {
	if len(v) == 0 || len(v[0]) == 0 {
		return nil, fmt.Errorf("column %q: missing value", n.path)
	}
	if v[0][0].DefinitionLevel() < n.def {
		return nil, nil
	}
	var out [][][]parquet.Value
	for j, vals := range v {
		if len(vals) == 0 || vals[0].DefinitionLevel() < n.def {
			return nil, fmt.Errorf("column %q: inconsistent definition levels", n.path)
		}
		k, start := 0, 0
		for i := 1; i <= len(vals); i++ {
			if i < len(vals) && vals[i].RepetitionLevel() > n.rep {
				continue
			}
			if j == 0 {
				out = append(out, make([][]parquet.Value, len(v)))
			} else if k >= len(out) {
				return nil, fmt.Errorf("column %q: inconsistent repetition levels", n.path)
			}
			out[k][j] = vals[start:i]
			k++
			start = i
		}
		if k != len(out) {
			return nil, fmt.Errorf("column %q: inconsistent repetition levels", n.path)
		}
	}
	return out, nil
}

func mapKey(k any) string {
	switch k := k.(type) {
	case string:
		return k
	case nil:
		return "null"
	default:
		return fmt.Sprint(k)
	}
}

// leafConv returns the function that turns a leaf column's values into Go
// values, as documented on ParquetReader.
func leafConv(t parquet.Type, path string) (func(parquet.Value) (any, error), error) {
	kind := t.Kind()
	var lt any
	if l := t.LogicalType(); l != nil {
		lt = l.Value
	}
	check := func(k parquet.Kind, f func(parquet.Value) (any, error)) func(parquet.Value) (any, error) {
		return func(v parquet.Value) (any, error) {
			if v.IsNull() {
				return nil, nil
			}
			if v.Kind() != k {
				return nil, fmt.Errorf("value of type %s in a %s column", v.Kind(), k)
			}
			return f(v)
		}
	}
	switch lt := lt.(type) {
	case *format.NullType:
		return func(parquet.Value) (any, error) { return nil, nil }, nil
	case *format.DecimalType:
		scale := int(lt.Scale)
		switch kind {
		case parquet.Int32:
			return check(kind, func(v parquet.Value) (any, error) {
				return decimal(big.NewInt(int64(v.Int32())), scale), nil
			}), nil
		case parquet.Int64:
			return check(kind, func(v parquet.Value) (any, error) {
				return decimal(big.NewInt(v.Int64()), scale), nil
			}), nil
		case parquet.ByteArray, parquet.FixedLenByteArray:
			return check(kind, func(v parquet.Value) (any, error) {
				b := v.ByteArray()
				x := new(big.Int).SetBytes(b)
				if len(b) > 0 && b[0]&0x80 != 0 { // two's complement
					x.Sub(x, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
				}
				return decimal(x, scale), nil
			}), nil
		}
	case *format.DateType:
		if kind == parquet.Int32 {
			return check(kind, func(v parquet.Value) (any, error) {
				return time.Unix(int64(v.Int32())*86400, 0).UTC().Format(time.DateOnly), nil
			}), nil
		}
	case *format.TimestampType:
		unit := timeUnit(lt.Unit)
		if kind == parquet.Int64 && unit != 0 {
			return check(kind, func(v parquet.Value) (any, error) {
				return timestamp(v.Int64(), unit), nil
			}), nil
		}
	case *format.TimeType:
		unit := timeUnit(lt.Unit)
		if (kind == parquet.Int32 || kind == parquet.Int64) && unit != 0 {
			return check(kind, func(v parquet.Value) (any, error) {
				n := v.Int64()
				if kind == parquet.Int32 {
					n = int64(v.Int32())
				}
				d := time.Duration(n) * unit
				return time.Time{}.Add(d).Format("15:04:05.999999999"), nil
			}), nil
		}
	case *format.IntType:
		if !lt.IsSigned {
			switch kind {
			case parquet.Int32:
				return check(kind, func(v parquet.Value) (any, error) { return int64(v.Uint32()), nil }), nil
			case parquet.Int64:
				return check(kind, func(v parquet.Value) (any, error) {
					if u := v.Uint64(); u > math.MaxInt64 {
						return u, nil
					}
					return v.Int64(), nil
				}), nil
			}
		}
	case *format.UUIDType:
		if kind == parquet.FixedLenByteArray {
			return check(kind, func(v parquet.Value) (any, error) {
				b := v.ByteArray()
				if len(b) != 16 {
					return nil, fmt.Errorf("UUID of %d bytes", len(b))
				}
				return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
			}), nil
		}
	case *format.Float16Type:
		if kind == parquet.FixedLenByteArray {
			return check(kind, func(v parquet.Value) (any, error) {
				b := v.ByteArray()
				if len(b) != 2 {
					return nil, fmt.Errorf("FLOAT16 of %d bytes", len(b))
				}
				return float16(binary.LittleEndian.Uint16(b)), nil
			}), nil
		}
	}
	switch kind {
	case parquet.Boolean:
		return check(kind, func(v parquet.Value) (any, error) { return v.Boolean(), nil }), nil
	case parquet.Int32:
		return check(kind, func(v parquet.Value) (any, error) { return int64(v.Int32()), nil }), nil
	case parquet.Int64:
		return check(kind, func(v parquet.Value) (any, error) { return v.Int64(), nil }), nil
	case parquet.Int96:
		return check(kind, func(v parquet.Value) (any, error) { return int96Time(v.Int96()), nil }), nil
	case parquet.Float:
		return check(kind, func(v parquet.Value) (any, error) {
			f, _ := strconv.ParseFloat(strconv.FormatFloat(float64(v.Float()), 'g', -1, 32), 64)
			return f, nil
		}), nil
	case parquet.Double:
		return check(kind, func(v parquet.Value) (any, error) { return v.Double(), nil }), nil
	case parquet.ByteArray, parquet.FixedLenByteArray:
		return check(kind, func(v parquet.Value) (any, error) {
			b := v.ByteArray()
			if !utf8.Valid(b) {
				return nil, ErrInvalidUTF8
			}
			return string(b), nil
		}), nil
	}
	return nil, fmt.Errorf("unsupported type %s", kind)
}

// timeUnit returns the duration of one tick of u, or 0 if u is unknown.
func timeUnit(u format.TimeUnit) time.Duration {
	switch u.Value.(type) {
	case *format.MilliSeconds:
		return time.Millisecond
	case *format.MicroSeconds:
		return time.Microsecond
	case *format.NanoSeconds:
		return time.Nanosecond
	}
	return 0
}

// timestamp formats n ticks of unit since the Unix epoch.
func timestamp(n int64, unit time.Duration) string {
	var t time.Time
	switch unit {
	case time.Millisecond:
		t = time.UnixMilli(n)
	case time.Microsecond:
		t = time.UnixMicro(n)
	default:
		t = time.Unix(0, n)
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// int96Time decodes a legacy INT96 timestamp: nanoseconds within the day,
// then the Julian day number.
func int96Time(v deprecated.Int96) string {
	const unixEpochJulianDay = 2440588
	nanos := int64(uint64(v[1])<<32 | uint64(v[0]))
	days := int64(v[2]) - unixEpochJulianDay
	return time.Unix(days*86400, nanos).UTC().Format(time.RFC3339Nano)
}

// decimal returns unscaled / 10^scale as exact decimal text.
func decimal(unscaled *big.Int, scale int) json.Number {
	s := unscaled.String()
	if scale <= 0 {
		if unscaled.Sign() != 0 {
			s += strings.Repeat("0", -scale)
		}
		return json.Number(s)
	}
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	if len(s) <= scale {
		s = strings.Repeat("0", scale-len(s)+1) + s
	}
	s = s[:len(s)-scale] + "." + s[len(s)-scale:]
	if neg {
		s = "-" + s
	}
	return json.Number(s)
}

// float16 converts an IEEE 754 half-precision number.
func float16(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp := int(h>>10) & 0x1f
	frac := float64(h & 0x3ff)
	switch exp {
	case 0:
		return sign * math.Ldexp(frac, -24)
	case 0x1f:
		if frac != 0 {
			return math.NaN()
		}
		return sign * math.Inf(1)
	}
	return sign * math.Ldexp(1+frac/1024, exp-15)
}
