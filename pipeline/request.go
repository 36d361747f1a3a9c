package pipeline

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"
	"unicode/utf8"

	"github.com/llmbatch/llmbatch/io/api"
	"github.com/llmbatch/llmbatch/io/rows"
	"github.com/llmbatch/llmbatch/io/tokens"
)

// defaultInputColumns are tried in order when neither a prompt template
// nor a prompt column is given.
var defaultInputColumns = [...]string{"prompt", "input", "text"}

// request is one row made ready to send.
type Request struct {
	key   string
	index int64
	body  []byte
	sha   string // hex sha256 of body
	model string
	keep  map[string]any // KeepColumns' values, for the record
	// indexKey: the key is the row's index (no id column, no custom_id),
	// unique by construction.
	indexKey bool
	api      api.API
	meter    *api.Meter // computed on first use, by one goroutine at a time
	ownBody  bool       // the body is a Batch API line's, not built from the job's template
	pack     *pack      // set on a request that packs several rows (see packer)
	again    bool       // the row failed for good before and is sent again (RetryFailed)
	// schema, when set, is what the answer's output must follow
	// (schema.go); reask counts the times the row was asked again for
	// breaking it (or refusing).
	schema *outputSchema
	reask  int
}

// cost returns what req will cost, as its API meters it; c may be nil
// (the input is then estimated at a token per 4 bytes).
func (r *Request) cost(c *tokens.Counter) api.Meter {
	if r.meter == nil {
		a := r.api
		if a == nil {
			a = apis[0]
		}
		m := a.Meter(r.body, c)
		r.meter = &m
	}
	return *r.meter
}

// batchURL checks a Batch API line's url against the job's API, choosing
// the API from it when the job names none.
func (b *builder) batchURL(u string, row *rows.Row) error {
	if u == "" {
		if b.api == nil {
			b.api = b.cfg.api()
		}
		return nil
	}
	if b.api == nil {
		if b.cfg.API != nil {
			b.api = b.cfg.API
		} else if a, ok := apiForURL(u); ok {
			b.api = a
		} else {
			return &UsageError{Err: fmt.Errorf("%s: line %d: batch line url %q names no endpoint llmbatch knows (%s)", b.file, row.Line, u, strings.Join(APINames(), ", "))}
		}
	}
	if !strings.HasSuffix(strings.TrimRight(u, "/"), b.api.Path()) {
		return &UsageError{Err: fmt.Errorf("%s: line %d: batch line url %q does not match the job's endpoint %s (%s): one file holds lines of one endpoint", b.file, row.Line, u, b.api.Name(), b.api.Path())}
	}
	return nil
}

// builder turns rows into request bodies. It is used by the producer
// goroutine only.
type builder struct {
	cfg          *Config
	file         string
	prompt       *template.Template
	instructions *template.Template
	base         map[string]any // cfg.Body decoded
	api          api.API        // the job's API; nil until the first row when chosen by a Batch line
	buf          bytes.Buffer
	out          []byte         // the last body appendBody wrote
	body         map[string]any // the body of a row without one of its own, reused
	sb           strings.Builder
	plain        map[*template.Template]*plainParts // the templates renderPlain can render, or nil
	// Output schemas (schema.go): the template's, compiled once, and
	// those of bodies of their own.
	tplSchema     *outputSchema
	tplSchemaDone bool
	schemas       map[string]*outputSchema
}

func newBuilder(cfg *Config) (*builder, error) {
	b := &builder{cfg: cfg, file: cfg.Input}
	var err error
	if cfg.Prompt != "" {
		if b.prompt, err = parseTemplate("prompt", cfg.Prompt, cfg.name("Prompt")); err != nil {
			return nil, err
		}
	}
	if cfg.Instructions != "" {
		if b.instructions, err = parseTemplate("instructions", cfg.Instructions, cfg.name("Instructions")); err != nil {
			return nil, err
		}
	}
	if len(bytes.TrimSpace(cfg.Body)) > 0 {
		b.base, err = rows.DecodeObject(cfg.Body)
		if err != nil {
			return nil, usageErrorf("request body: %v", err)
		}
		if streams(b.base) {
			return nil, usageErrorf("request body: %s", errStream)
		}
	}
	return b, nil
}

// templateFlag names the setting, if any, that shapes a request's input
// or instructions from the row's columns.
func (b *builder) templateFlag() string {
	switch {
	case b.cfg.Prompt != "":
		return b.cfg.name("Prompt")
	case b.cfg.Instructions != "":
		return b.cfg.name("Instructions")
	case b.cfg.PromptColumn != "":
		return b.cfg.name("PromptColumn")
	}
	return ""
}

func parseTemplate(name, text, setting string) (*template.Template, error) {
	t, err := template.New(name).Option("missingkey=error").Funcs(templateFuncs).Parse(text)
	if err != nil {
		return nil, usageErrorf("%s template: %v", setting, err)
	}
	return t, nil
}

var templateFuncs = template.FuncMap{
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
	"trim": func(v any) string { return strings.TrimSpace(fmt.Sprint(v)) },
	"truncate": func(n int, v any) string {
		s := fmt.Sprint(v)
		if n <= 0 {
			return ""
		}
		if utf8.RuneCountInString(s) <= n {
			return s
		}
		r := []rune(s)
		return string(r[:n])
	},
}

// key returns the row's key.
func (b *builder) key(row *rows.Row) (string, error) {
	if b.cfg.IDColumn != "" {
		v, ok := row.Fields[b.cfg.IDColumn]
		if !ok || v == nil {
			return "", fmt.Errorf("no value in id column %q", b.cfg.IDColumn)
		}
		s := scalarString(v)
		if s == "" {
			return "", fmt.Errorf("empty value in id column %q", b.cfg.IDColumn)
		}
		return s, nil
	}
	if id, ok := row.Fields["custom_id"]; ok {
		if s := scalarString(id); s != "" {
			return s, nil
		}
		return "", errors.New("custom_id is empty or not a string")
	}
	return strconv.FormatInt(row.Index, 10), nil
}

// indexKeyed reports whether row is keyed by its index: no id column, and
// not a Batch API line with its own custom_id.
func (b *builder) indexKeyed(row *rows.Row) bool {
	_, hasID := row.Fields["custom_id"]
	return b.cfg.IDColumn == "" && !hasID
}

// build makes the request for a row. A returned *UsageError stops the job
// (the input has no usable column at all); any other error is a bad row.
func (b *builder) build(row *rows.Row) (*Request, error) {
	key, err := b.key(row)
	if err != nil {
		return nil, err
	}
	req := &Request{key: key, index: row.Index, indexKey: b.indexKeyed(row)}
	var body map[string]any
	if rb, ok := row.Fields["body"].(map[string]any); ok && row.Fields["custom_id"] != nil {
		// An OpenAI Batch API line: its body is the request, its url
		// names the API. --model and --body fill the fields it lacks;
		// a template for the input or instructions would replace what
		// the line says: ambiguous, refused.
		if flag := b.templateFlag(); flag != "" {
			return nil, &UsageError{Err: &rows.RowError{File: b.file, Line: row.Line, Index: row.Index,
				Err: fmt.Errorf("a Batch API line (custom_id and body) carries its own request: %s would replace part of it; drop %s, or give rows without a body", flag, flag)}}
		}
		u, _ := row.Fields["url"].(string)
		if err := b.batchURL(u, row); err != nil {
			return nil, err
		}
		for k, v := range b.base {
			if _, ok := rb[k]; !ok {
				rb[k] = v
			}
		}
		if streams(rb) {
			return nil, fmt.Errorf("batch line body: %s", errStream)
		}
		body = rb
		req.ownBody = true
	} else {
		if b.api == nil {
			b.api = b.cfg.api()
		}
		// One map for every row: nothing keeps it past build (the
		// body is encoded below; the template's schema is compiled once).
		if b.body == nil {
			b.body = make(map[string]any, len(b.base)+3)
		}
		body = b.body
		clear(body)
		for k, v := range b.base {
			body[k] = v
		}
		input, err := b.input(row)
		if err != nil {
			return nil, err
		}
		var instr *string
		if b.instructions != nil {
			s, err := b.render(b.instructions, row)
			if err != nil {
				return nil, err
			}
			instr = &s
		}
		if err := b.api.Fill(body, input, instr); err != nil {
			return nil, err
		}
	}
	req.api = b.api
	if b.cfg.ModelColumn != "" {
		if m := scalarString(row.Fields[b.cfg.ModelColumn]); m != "" {
			body["model"] = m
		}
	}
	if _, ok := body["model"]; !ok && b.cfg.Model != "" {
		body["model"] = b.cfg.Model
	}
	m, _ := body["model"].(string)
	if m == "" {
		return nil, &UsageError{Err: fmt.Errorf("no model: give %s, or put \"model\" in the request body", b.cfg.name("Model"))}
	}
	req.model = m
	if req.schema, err = b.schemaFor(body, !req.ownBody); err != nil {
		return nil, err
	}
	if len(b.cfg.KeepColumns) > 0 {
		req.keep = b.kept(row)
	}
	if out, ok := appendBody(b.out[:0], body); ok {
		b.out = out
		req.body = bytes.Clone(out)
	} else {
		b.buf.Reset()
		enc := json.NewEncoder(&b.buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(body); err != nil {
			return nil, fmt.Errorf("encode request: %v", err)
		}
		req.body = bytes.Clone(bytes.TrimSuffix(b.buf.Bytes(), []byte("\n")))
	}
	sum := sha256.Sum256(req.body)
	req.sha = hex.EncodeToString(sum[:])
	return req, nil
}

// errStream is why a body that asks for a streamed answer is refused: the
// event stream would be paid for and could not be journalled as a response.
const errStream = `"stream": true is not supported: llmbatch reads whole answers; remove "stream" from the body`

// streams reports whether a request body asks for a streamed answer.
func streams(body map[string]any) bool {
	v, _ := body["stream"].(bool)
	return v
}

// kept returns the row's KeepColumns that it has.
func (b *builder) kept(row *rows.Row) map[string]any {
	m := make(map[string]any, len(b.cfg.KeepColumns))
	for _, c := range b.cfg.KeepColumns {
		if v, ok := row.Fields[c]; ok {
			m[c] = jsonSafe(v)
		}
	}
	return m
}

// jsonSafe replaces the values JSON cannot hold (NaN, ±Inf, which Parquet
// floats may be) by their text, in v and in the lists and maps inside it.
func jsonSafe(v any) any {
	switch v := v.(type) {
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return strconv.FormatFloat(v, 'g', -1, 64)
		}
	case float32:
		return jsonSafe(float64(v))
	case []any:
		for i, e := range v {
			v[i] = jsonSafe(e)
		}
	case map[string]any:
		for k, e := range v {
			v[k] = jsonSafe(e)
		}
	}
	return v
}

func (b *builder) input(row *rows.Row) (any, error) {
	switch {
	case b.prompt != nil:
		return b.render(b.prompt, row)
	case b.cfg.PromptColumn != "":
		v, ok := row.Fields[b.cfg.PromptColumn]
		if !ok {
			return nil, fmt.Errorf("no column %q", b.cfg.PromptColumn)
		}
		return inputValue(v), nil
	}
	for _, c := range defaultInputColumns {
		if v, ok := row.Fields[c]; ok {
			return inputValue(v), nil
		}
	}
	cols := make([]string, 0, len(row.Fields))
	for k := range row.Fields {
		cols = append(cols, k)
	}
	sort.Strings(cols)
	err := fmt.Errorf("%s: no input column: the row has none of %s (columns found: %s); use %s (a template) or %s (a column name)%s",
		b.file, strings.Join(defaultInputColumns[:], ", "), strings.Join(cols, ", "), b.cfg.name("Prompt"), b.cfg.name("PromptColumn"), b.delimiterHint(row))
	if row.Index == 0 {
		return nil, &UsageError{Err: err}
	}
	return nil, err
}

// delimiterHint suggests --delimiter for a row whose only column's name
// holds a ';', '|' or tab: a CSV file with another delimiter, read as
// one column.
func (b *builder) delimiterHint(row *rows.Row) string {
	if len(row.Fields) != 1 {
		return ""
	}
	for name := range row.Fields {
		switch {
		case strings.Contains(name, "\t"):
			return "; the header looks tab-separated: give " + b.cfg.name("InputFormat") + " tsv"
		case strings.Contains(name, ";"):
			return "; the header looks delimited by ';': give " + b.cfg.name("Delimiter") + " ';'"
		case strings.Contains(name, "|"):
			return "; the header looks delimited by '|': give " + b.cfg.name("Delimiter") + " '|'"
		}
	}
	return ""
}

// inputValue keeps strings and message arrays as they are and turns other
// values into their text.
func inputValue(v any) any {
	switch v := v.(type) {
	case string, []any:
		return v
	}
	return scalarString(v)
}

func (b *builder) render(t *template.Template, row *rows.Row) (string, error) {
	b.sb.Reset()
	if s, ok := b.renderPlain(t, row.Fields); ok {
		return s, nil
	}
	if err := t.Execute(&b.sb, withoutNulls(row.Fields)); err != nil {
		return "", fmt.Errorf("%s template: %v%s", t.Name(), templateError(err), b.delimiterHint(row))
	}
	return b.sb.String(), nil
}

// plainParts is a template made only of text and {{.column}} actions
// (the common prompt): its parts in order, a column's name where
// isColumn is set.
type plainParts struct {
	parts    []string
	isColumn []bool
}

// plainTemplate returns t's parts when t is only text and {{.column}}
// actions, else nil.
func plainTemplate(t *template.Template) *plainParts {
	if t.Tree == nil || t.Tree.Root == nil {
		return nil
	}
	p := &plainParts{}
	for _, n := range t.Tree.Root.Nodes {
		switch n := n.(type) {
		case *parse.TextNode:
			p.parts, p.isColumn = append(p.parts, string(n.Text)), append(p.isColumn, false)
		case *parse.ActionNode:
			if len(n.Pipe.Decl) > 0 || len(n.Pipe.Cmds) != 1 || len(n.Pipe.Cmds[0].Args) != 1 {
				return nil
			}
			f, ok := n.Pipe.Cmds[0].Args[0].(*parse.FieldNode)
			if !ok || len(f.Ident) != 1 {
				return nil
			}
			p.parts, p.isColumn = append(p.parts, f.Ident[0]), append(p.isColumn, true)
		default:
			return nil
		}
	}
	return p
}

// renderPlain renders a plain template (plainTemplate) without
// text/template when every column it names holds a string or null (null
// renders empty, as render has it): what text/template writes for them.
// ok is false otherwise (a missing column, a number, a list), and render
// lets text/template decide, error included.
func (b *builder) renderPlain(t *template.Template, fields map[string]any) (string, bool) {
	if b.plain == nil {
		b.plain = map[*template.Template]*plainParts{}
	}
	p, seen := b.plain[t]
	if !seen {
		p = plainTemplate(t)
		b.plain[t] = p
	}
	if p == nil {
		return "", false
	}
	if len(p.parts) == 1 && p.isColumn[0] {
		// The template is one column: its value, not a copy.
		v, ok := fields[p.parts[0]]
		switch v := v.(type) {
		case string:
			return v, true
		case nil:
			return "", ok
		}
		return "", false
	}
	for i, part := range p.parts {
		if !p.isColumn[i] {
			b.sb.WriteString(part)
			continue
		}
		switch v := fields[part].(type) {
		case string:
			b.sb.WriteString(v)
		case nil:
			if _, ok := fields[part]; !ok {
				b.sb.Reset()
				return "", false
			}
		default:
			b.sb.Reset()
			return "", false
		}
	}
	return b.sb.String(), true
}

// withoutNulls returns fields with null cells as "", so that a template
// renders an empty string for them rather than "<no value>".
func withoutNulls(fields map[string]any) map[string]any {
	for _, v := range fields {
		if v != nil {
			continue
		}
		m := make(map[string]any, len(fields))
		for k, v := range fields {
			if v == nil {
				v = ""
			}
			m[k] = v
		}
		return m
	}
	return fields
}

// templateError shortens text/template's execution errors to their reason.
func templateError(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 && strings.Contains(s, "map has no entry for key") {
		return "missing column " + strings.TrimPrefix(s[i+2:], "map has no entry for key ")
	}
	return s
}

// scalarString formats a column value as text: strings as they are,
// numbers as written, other values as JSON.
func scalarString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	case nil:
		return ""
	case fmt.Stringer:
		return v.String()
	case bool, int, int64, float64:
		return fmt.Sprint(v)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// rowsOptions are the options the input is opened with; Parquet reads
// only the columns the job uses.
func (c *Config) rowsOptions(b *builder) rows.Options {
	o := rows.Options{Format: c.InputFormat, Stdin: c.Reader, Delimiter: c.Delimiter, MaxRowBytes: c.MaxRowBytes, Shard: c.shard()}
	if c.remoteInput() {
		o.Remote = openRemote
	}
	if f, err := rows.FormatOf(c.Input, o); err == nil && f == rows.FormatParquet {
		o.Columns = b.columns()
	}
	return o
}

// columns returns the columns the job reads from a row, for column
// projection, or nil when that cannot be told (no template and no prompt
// column, or a template that uses the whole row, range or with).
func (b *builder) columns() []string {
	if b.prompt == nil && b.cfg.PromptColumn == "" {
		return nil
	}
	var cols []string
	add := func(c string) {
		if c != "" && !slices.Contains(cols, c) {
			cols = append(cols, c)
		}
	}
	for _, t := range []*template.Template{b.prompt, b.instructions} {
		if t == nil {
			continue
		}
		fields, ok := templateFields(t.Tree.Root)
		if !ok {
			return nil
		}
		for _, f := range fields {
			add(f)
		}
	}
	add(b.cfg.PromptColumn)
	add(b.cfg.IDColumn)
	add(b.cfg.ModelColumn)
	for _, c := range b.cfg.KeepColumns {
		add(c)
	}
	return cols
}

// templateFields lists the top-level fields ({{.name}}, {{$.name}}) a
// template reads; ok is false when it reads the row in a way that needs
// every column.
func templateFields(n parse.Node) (fields []string, ok bool) {
	ok = true
	var walk func(parse.Node)
	walk = func(n parse.Node) {
		if n == nil || !ok {
			return
		}
		switch n := n.(type) {
		case *parse.ListNode:
			if n == nil {
				return
			}
			for _, c := range n.Nodes {
				walk(c)
			}
		case *parse.ActionNode:
			walk(n.Pipe)
		case *parse.IfNode:
			walk(n.Pipe)
			walk(n.List)
			walk(n.ElseList)
		case *parse.PipeNode:
			if n == nil {
				return
			}
			for _, c := range n.Cmds {
				walk(c)
			}
		case *parse.CommandNode:
			for _, a := range n.Args {
				walk(a)
			}
		case *parse.FieldNode:
			fields = append(fields, n.Ident[0])
		case *parse.VariableNode:
			if n.Ident[0] != "$" {
				return
			}
			if len(n.Ident) < 2 {
				ok = false
				return
			}
			fields = append(fields, n.Ident[1])
		case *parse.ChainNode:
			walk(n.Node)
		case *parse.DotNode, *parse.RangeNode, *parse.WithNode, *parse.TemplateNode, *parse.BreakNode, *parse.ContinueNode:
			ok = false
		}
	}
	walk(n)
	return fields, ok
}
