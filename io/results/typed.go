package results

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/parquet-go/parquet-go"

	"github.com/llmbatch/llmbatch/io/prices"
)

// Typed exports (export --schema): one column per top-level property of
// the JSON schema the job's answers follow, typed from the schema, beside
// the row's key, index, status, cost and error code and its kept input
// columns. In Parquet: string (and enum of strings) is STRING, integer
// INT64, number DOUBLE, boolean BOOLEAN, an array a LIST of its items'
// type, an object with properties a group (struct) of its properties,
// each nullable; a property whose type the schema leaves open (anyOf of
// several types, no type) is STRING holding its JSON text. Kept input
// columns are STRING (a string as it is, another value as JSON). In CSV,
// scalars are their text and lists and objects JSON. A value that does not
// fit its column (a row whose answer broke the schema) is null.
//
// Column names are the property and input column names; a name taken by
// an earlier column gets the prefix "output_" (a property) or "input_"
// (an input column).

// TypedColumn is one column of a typed export.
type TypedColumn struct {
	Name string
	Kind string // string, integer, number, boolean, list, struct, json (for the fixed and input columns: their own)
}

// typedNode is a schema node mapped to a Go type.
type typedNode struct {
	kind   string       // string, integer, number, boolean, list, struct, json
	elem   *typedNode   // list
	fields []typedField // struct
}

type typedField struct {
	name string
	node *typedNode
}

// typedOf maps a schema node (decoded JSON) to a column type.
func typedOf(schema any, depth int) *typedNode {
	m, _ := schema.(map[string]any)
	if m == nil || depth > 8 {
		return &typedNode{kind: "json"}
	}
	var types []string
	switch t := m["type"].(type) {
	case string:
		types = []string{t}
	case []any:
		for _, e := range t {
			if s, ok := e.(string); ok && s != "null" {
				types = append(types, s)
			}
		}
	}
	if len(types) == 0 {
		if enum, ok := m["enum"].([]any); ok && len(enum) > 0 {
			all := true
			for _, e := range enum {
				if _, ok := e.(string); !ok && e != nil {
					all = false
				}
			}
			if all {
				return &typedNode{kind: "string"}
			}
		}
		for _, k := range []string{"anyOf", "oneOf"} {
			// {anyOf: [X, {type: null}]}: a nullable X.
			if alts, ok := m[k].([]any); ok {
				var other []any
				for _, a := range alts {
					if am, _ := a.(map[string]any); am != nil && am["type"] == "null" {
						continue
					}
					other = append(other, a)
				}
				if len(other) == 1 {
					return typedOf(other[0], depth+1)
				}
			}
		}
		return &typedNode{kind: "json"}
	}
	if len(types) > 1 {
		if slices.Equal(types, []string{"integer", "number"}) || slices.Equal(types, []string{"number", "integer"}) {
			return &typedNode{kind: "number"}
		}
		return &typedNode{kind: "json"}
	}
	switch types[0] {
	case "string", "integer", "number", "boolean":
		return &typedNode{kind: types[0]}
	case "array":
		return &typedNode{kind: "list", elem: typedOf(m["items"], depth+1)}
	case "object":
		props, _ := m["properties"].(map[string]any)
		if len(props) == 0 {
			return &typedNode{kind: "json"}
		}
		n := &typedNode{kind: "struct"}
		for _, name := range propertyOrder(m) {
			n.fields = append(n.fields, typedField{name: name, node: typedOf(props[name], depth+1)})
		}
		return n
	}
	return &typedNode{kind: "json"}
}

// propertyOrder lists an object schema's properties: the required ones in
// their order, then the others sorted (a decoded object has no order).
func propertyOrder(m map[string]any) []string {
	props, _ := m["properties"].(map[string]any)
	var names []string
	seen := map[string]bool{}
	req, _ := m["required"].([]any)
	for _, r := range req {
		if s, ok := r.(string); ok && props[s] != nil && !seen[s] {
			names = append(names, s)
			seen[s] = true
		}
	}
	var rest []string
	for k := range props {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	return append(names, rest...)
}

// goType is n's Go type for parquet-go; top says a column of the row
// (nullable: a pointer, or a nil slice for a list).
func (n *typedNode) goType() reflect.Type {
	switch n.kind {
	case "string", "json":
		return reflect.TypeFor[string]()
	case "integer":
		return reflect.TypeFor[int64]()
	case "number":
		return reflect.TypeFor[float64]()
	case "boolean":
		return reflect.TypeFor[bool]()
	case "list":
		return reflect.SliceOf(n.elem.goType())
	}
	fs := make([]reflect.StructField, len(n.fields))
	for i, f := range n.fields {
		fs[i] = structField(i, f.name, f.node)
	}
	return reflect.StructOf(fs)
}

// structField is the i-th field of a generated struct: Parquet column
// name, optional (a pointer), a list tagged as such.
func structField(i int, name string, n *typedNode) reflect.StructField {
	t := n.goType()
	tag := strings.ReplaceAll(name, ",", "_") + ",optional"
	if n.kind == "list" {
		tag += ",list"
	} else {
		t = reflect.PointerTo(t)
	}
	if n.kind == "string" || n.kind == "json" {
		tag += ",dict"
	}
	return reflect.StructField{Name: "F" + strconv.Itoa(i), Type: t, Tag: reflect.StructTag(`parquet:` + strconv.Quote(tag))}
}

// set stores v (decoded JSON, numbers as json.Number) into dst, a value
// of n.goType(); ok false when v does not fit (dst left zero).
func (n *typedNode) set(dst reflect.Value, v any) bool {
	switch n.kind {
	case "json":
		b, err := json.Marshal(v)
		if err != nil {
			return false
		}
		dst.SetString(string(b))
	case "string":
		s, ok := v.(string)
		if !ok {
			return false
		}
		dst.SetString(s)
	case "integer":
		num, ok := v.(json.Number)
		if !ok {
			return false
		}
		i, err := num.Int64()
		if err != nil {
			f, ferr := num.Float64()
			if ferr != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
				return false
			}
			i = int64(f)
		}
		dst.SetInt(i)
	case "number":
		num, ok := v.(json.Number)
		if !ok {
			return false
		}
		f, err := num.Float64()
		if err != nil {
			return false
		}
		dst.SetFloat(f)
	case "boolean":
		b, ok := v.(bool)
		if !ok {
			return false
		}
		dst.SetBool(b)
	case "list":
		arr, ok := v.([]any)
		if !ok {
			return false
		}
		s := reflect.MakeSlice(dst.Type(), len(arr), len(arr))
		for i, e := range arr {
			if e != nil && !n.elem.set(s.Index(i), e) {
				return false
			}
		}
		dst.Set(s)
	case "struct":
		obj, ok := v.(map[string]any)
		if !ok {
			return false
		}
		for i, f := range n.fields {
			setField(dst.Field(i), f.node, obj[f.name])
		}
	}
	return true
}

// setField sets a nullable field (a pointer, or a list) to v, leaving it
// nil when v is null or does not fit.
func setField(dst reflect.Value, n *typedNode, v any) {
	if v == nil {
		return
	}
	if n.kind == "list" {
		n.set(dst, v)
		return
	}
	p := reflect.New(dst.Type().Elem())
	if n.set(p.Elem(), v) {
		dst.Set(p)
	}
}

// TypedExporter writes a typed export.
type TypedExporter struct {
	format  string
	root    *typedNode // the output's object
	inputs  []string   // kept input columns
	cols    []TypedColumn
	rtype   reflect.Type
	pw      *parquet.Writer
	cw      *csv.Writer
	buf     []any
	written int
}

// Fixed columns of a typed export, before the input and output columns.
var typedFixed = []TypedColumn{{"key", "string"}, {"index", "integer"}, {"status", "string"}, {"cost_usd", "decimal"}, {"error_code", "string"}}

// ErrNotObjectSchema is returned for a schema whose top level is not an
// object with properties: it has no columns to give.
var ErrNotObjectSchema = errors.New("the schema's top level is not an object with properties")

// NewTypedExporter returns an exporter of typed columns for schema (a
// JSON schema decoded with numbers as json.Number) and the kept input
// columns inputs, writing format (FormatParquet or FormatCSV) to w.
func NewTypedExporter(w io.Writer, format string, schema any, inputs []string) (*TypedExporter, error) {
	root := typedOf(schema, 0)
	if root.kind != "struct" {
		return nil, ErrNotObjectSchema
	}
	e := &TypedExporter{format: format, root: root, inputs: inputs}
	taken := map[string]bool{}
	name := func(n, prefix string) string {
		for taken[n] {
			n = prefix + n
		}
		taken[n] = true
		return n
	}
	fields := []reflect.StructField{
		{Name: "Key", Type: reflect.TypeFor[string](), Tag: `parquet:"key,zstd"`},
		{Name: "Index", Type: reflect.TypeFor[int64](), Tag: `parquet:"index,zstd"`},
		{Name: "Status", Type: reflect.TypeFor[string](), Tag: `parquet:"status,zstd,dict"`},
		{Name: "CostUSD", Type: reflect.TypeFor[*int64](), Tag: `parquet:"cost_usd,optional,zstd,decimal(12:18)"`},
		{Name: "ErrorCode", Type: reflect.TypeFor[*string](), Tag: `parquet:"error_code,optional,zstd,dict"`},
	}
	for _, c := range typedFixed {
		e.cols = append(e.cols, c)
		name(c.Name, "")
	}
	for _, in := range inputs {
		n := name(in, "input_")
		e.cols = append(e.cols, TypedColumn{n, "string"})
		fields = append(fields, structField(len(fields), n, &typedNode{kind: "string"}))
	}
	for _, f := range root.fields {
		n := name(f.name, "output_")
		e.cols = append(e.cols, TypedColumn{n, f.node.kind})
		fields = append(fields, structField(len(fields), n, f.node))
	}
	e.rtype = reflect.StructOf(fields)
	switch format {
	case FormatParquet:
		schema := parquet.SchemaOf(reflect.New(e.rtype).Interface())
		e.pw = parquet.NewWriter(w, schema, parquet.MaxRowsPerRowGroup(ParquetRowGroup), parquet.CreatedBy("llmbatch", "", ""),
			parquet.Compression(&parquet.Zstd))
	case FormatCSV:
		e.cw = csv.NewWriter(w)
		header := make([]string, len(e.cols))
		for i, c := range e.cols {
			header[i] = c.Name
		}
		if err := e.cw.Write(header); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("export: unknown format %q (want parquet or csv)", format)
	}
	return e, nil
}

// Columns lists the export's columns in order, with their kinds.
func (e *TypedExporter) Columns() []TypedColumn { return e.cols }

// Write writes rec's row (rec read with FieldOutputText and FieldInput),
// pricing its usage with table (nil: unknown).
func (e *TypedExporter) Write(rec *Record, table *prices.Table) error {
	row := reflect.New(e.rtype).Elem()
	row.Field(0).SetString(rec.CustomID)
	row.Field(1).SetInt(rec.Index)
	row.Field(2).SetString(StatusOf(rec.Error).String())
	if c, ok := RecordCost(rec, table); ok {
		row.Field(3).Set(reflect.ValueOf(&c))
	}
	if rec.Error != nil && rec.Error.Code != "" {
		c := rec.Error.Code
		row.Field(4).Set(reflect.ValueOf(&c))
	}
	for i, in := range e.inputs {
		v, ok := rec.Input[in]
		if !ok || v == nil {
			continue
		}
		s, isStr := v.(string)
		if !isStr {
			b, err := json.Marshal(v)
			if err != nil {
				continue
			}
			s = string(b)
		}
		row.Field(len(typedFixed) + i).Set(reflect.ValueOf(&s))
	}
	var out map[string]any
	if rec.OutputText != "" {
		dec := json.NewDecoder(strings.NewReader(rec.OutputText))
		dec.UseNumber()
		if dec.Decode(&out) != nil {
			out = nil
		}
	}
	base := len(typedFixed) + len(e.inputs)
	for i, f := range e.root.fields {
		if out != nil {
			setField(row.Field(base+i), f.node, out[f.name])
		}
	}
	if e.pw != nil {
		e.buf = append(e.buf, row.Addr().Interface())
		if len(e.buf) >= parquetBatch {
			return e.flush()
		}
		return nil
	}
	return e.cw.Write(csvCells(row))
}

func (e *TypedExporter) flush() error {
	for _, r := range e.buf {
		if err := e.pw.Write(r); err != nil {
			return fmt.Errorf("write parquet: %w", err)
		}
	}
	e.buf = e.buf[:0]
	return nil
}

// csvCells is a row's CSV record: scalars as text, lists and structs as
// JSON, null as an empty cell.
func csvCells(row reflect.Value) []string {
	cells := make([]string, row.NumField())
	for i := range cells {
		f := row.Field(i)
		if (f.Kind() == reflect.Pointer || f.Kind() == reflect.Slice) && f.IsNil() {
			continue
		}
		if f.Kind() == reflect.Pointer {
			f = f.Elem()
		}
		switch {
		case i == 3: // cost_usd: picodollars
			cells[i] = prices.Money(f.Int()).Decimal() // as the plain export writes it
		case f.Kind() == reflect.String:
			cells[i] = f.String()
		case f.Kind() == reflect.Int64:
			cells[i] = strconv.FormatInt(f.Int(), 10)
		case f.Kind() == reflect.Float64:
			cells[i] = strconv.FormatFloat(f.Float(), 'g', -1, 64)
		case f.Kind() == reflect.Bool:
			cells[i] = strconv.FormatBool(f.Bool())
		default:
			cells[i] = jsonOf(f)
		}
	}
	return cells
}

// jsonOf writes a generated list or struct as JSON, with its properties'
// names (the struct's parquet tags) and nulls left out.
func jsonOf(v reflect.Value) string {
	var b bytes.Buffer
	writeJSON(&b, v)
	return b.String()
}

func writeJSON(b *bytes.Buffer, v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			b.WriteString("null")
			return
		}
		writeJSON(b, v.Elem())
	case reflect.Slice:
		b.WriteByte('[')
		for i := range v.Len() {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSON(b, v.Index(i))
		}
		b.WriteByte(']')
	case reflect.Struct:
		b.WriteByte('{')
		first := true
		for i := range v.NumField() {
			f := v.Field(i)
			if (f.Kind() == reflect.Pointer || f.Kind() == reflect.Slice) && f.IsNil() {
				continue
			}
			if !first {
				b.WriteByte(',')
			}
			first = false
			name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("parquet"), ",")
			k, _ := json.Marshal(name)
			b.Write(k)
			b.WriteByte(':')
			writeJSON(b, f)
		}
		b.WriteByte('}')
	default:
		j, _ := json.Marshal(v.Interface())
		b.Write(j)
	}
}

// Close flushes what is buffered and ends the file.
func (e *TypedExporter) Close() error {
	if e.pw != nil {
		if err := e.flush(); err != nil {
			return err
		}
		if err := e.pw.Close(); err != nil {
			return fmt.Errorf("write parquet: %w", err)
		}
		return nil
	}
	e.cw.Flush()
	return e.cw.Error()
}
