package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/llmbatch/llmbatch/io/api"
	"github.com/llmbatch/llmbatch/io/results"
)

// Output validation. A request whose body asks for structured output (an
// API that implements api.Schemer: text.format for Responses,
// response_format for chat; json_schema or json_object) gets its answer's
// output text parsed and validated against that schema where every
// executor's records are made (runner.record), so the worker pool, the
// run modes and any future executor check answers the same way. A schema
// is compiled once: the template's once per job, a Batch API line's own
// body's once per distinct schema (a small cache). Validation uses
// github.com/santhosh-tekuri/jsonschema/v6 (draft 2020-12 by default, any
// draft a schema names with $schema): OpenAI's strict-mode subset
// (objects with additionalProperties false and every property required,
// type unions with "null", enum, const, anyOf, $defs and $ref, recursion
// through "#") is plain JSON Schema; "format" is an annotation, as
// OpenAI's own documentation of it reads.

// outputSchema is a compiled schema that answers' output must follow.
type outputSchema struct {
	sch *jsonschema.Schema
}

// schemaSeq names each compiled schema's resource apart.
var schemaSeq atomic.Int64

// compileSchema compiles doc (a schema decoded from a body).
func compileSchema(doc any) (*outputSchema, error) {
	c := jsonschema.NewCompiler()
	// No loader: a $ref to a remote document is an error, not a fetch.
	c.UseLoader(noLoader{})
	url := "mem:///schema" + strconv.FormatInt(schemaSeq.Add(1), 10) + ".json"
	if err := c.AddResource(url, doc); err != nil {
		return nil, err
	}
	sch, err := c.Compile(url)
	if err != nil {
		return nil, err
	}
	return &outputSchema{sch: sch}, nil
}

// noLoader loads no document: every schema is in the request body.
type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("schema refers to %s: only references inside the schema ($defs) are followed", url)
}

var printer = message.NewPrinter(language.English)

// check validates an answer's output text. ok false gives the first
// violation: where in the output (a JSONPath, "$" for the whole), and why.
func (s *outputSchema) check(output string) (path, reason string, ok bool) {
	v, err := jsonschema.UnmarshalJSON(strings.NewReader(output))
	if err != nil {
		if strings.TrimSpace(output) == "" {
			return "$", "output is empty, not JSON", false
		}
		return "$", "output is not JSON: " + err.Error(), false
	}
	err = s.sch.Validate(v)
	if err == nil {
		return "", "", true
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return "$", err.Error(), false
	}
	for len(ve.Causes) > 0 {
		ve = ve.Causes[0]
	}
	return jsonPath(v, ve.InstanceLocation), ve.ErrorKind.LocalizedString(printer), false
}

// jsonPath writes an instance location as a JSONPath: $.name, $[2],
// $["odd key"].
func jsonPath(v any, loc []string) string {
	var b strings.Builder
	b.WriteByte('$')
	for _, tok := range loc {
		switch c := v.(type) {
		case []any:
			b.WriteString("[" + tok + "]")
			if i, err := strconv.Atoi(tok); err == nil && i >= 0 && i < len(c) {
				v = c[i]
			} else {
				v = nil
			}
			continue
		case map[string]any:
			v = c[tok]
		default:
			v = nil
		}
		if plainName(tok) {
			b.WriteString("." + tok)
		} else {
			q, _ := json.Marshal(tok)
			b.WriteString("[" + string(q) + "]")
		}
	}
	return b.String()
}

// plainName reports whether a member name may follow a dot in a JSONPath.
func plainName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if r != '_' && !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') && !(i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// reaskable reports whether a record's error is one --reask sends again:
// an answer that broke the schema, or a refusal.
func reaskable(code string) bool {
	return code == api.CodeSchemaInvalid || code == api.CodeRefused
}

// maxSchemas bounds the schemas a job keeps compiled for bodies of their
// own (Batch API lines); beyond it a schema is compiled for its row alone.
const maxSchemas = 64

// schemaFor returns the compiled output schema body asks for, nil when it
// asks for none. tpl says body was built from the job's template: its
// schema is compiled once, and a bad one stops the job (*UsageError).
func (b *builder) schemaFor(body map[string]any, tpl bool) (*outputSchema, error) {
	sc, ok := b.api.(api.Schemer)
	if !ok {
		return nil, nil
	}
	if tpl && b.tplSchemaDone {
		return b.tplSchema, nil
	}
	doc, where, ok := sc.OutputSchema(body)
	if !ok {
		if tpl {
			b.tplSchemaDone = true
		}
		return nil, nil
	}
	if tpl {
		s, err := compileSchema(doc)
		if err != nil {
			return nil, usageErrorf("request body: %s is not a JSON schema llmbatch can check answers against: %v", where, err)
		}
		b.tplSchema, b.tplSchemaDone = s, true
		return s, nil
	}
	key, ok := appendBody(nil, doc)
	if s := b.schemas[string(key)]; ok && s != nil {
		return s, nil
	}
	s, err := compileSchema(doc)
	if err != nil {
		return nil, fmt.Errorf("batch line body: %s is not a JSON schema llmbatch can check answers against: %v", where, err)
	}
	if ok && len(b.schemas) < maxSchemas {
		if b.schemas == nil {
			b.schemas = make(map[string]*outputSchema)
		}
		b.schemas[string(key)] = s
	}
	return s, nil
}

// checkOutput validates the output of an answer that completed its row
// (answered: a 2xx the API read as complete) against req's schema, and
// marks a record --reask will send again: a schema_invalid or refused
// record with re-asks left is retryable (a resume sends it again, should
// the job stop before the re-ask), and every record says which re-ask it
// answers.
func (r *runner) checkOutput(req *Request, rec *results.Record, answered bool) {
	rec.Reask = req.reask
	if answered && req.schema != nil {
		if path, reason, ok := req.schema.check(rec.OutputText); !ok {
			rec.Error = &results.Error{Code: api.CodeSchemaInvalid, Path: path,
				Message: fmt.Sprintf("output breaks the request's JSON schema at %s: %s", path, reason)}
		}
	}
	if rec.Error != nil && reaskable(rec.Error.Code) && req.reask < r.cfg.Reask {
		rec.Error.Retryable = true
	}
}

// reaskNow reports whether rec's row is to be asked again now (and counts
// the re-ask): its answer broke the schema or was a refusal, it has
// re-asks left, and the job goes on.
func (r *runner) reaskNow(stopCtx context.Context, req *Request, rec *results.Record) bool {
	if rec.Error == nil || !rec.Error.Retryable || !reaskable(rec.Error.Code) || stopCtx.Err() != nil {
		return false
	}
	req.reask++
	return true
}

// reaskPlan holds, for rows whose latest record is a schema_invalid or
// refused one, the number of the re-ask to send next: --reask bounds a
// row's re-asks over all runs, so a resume (or a later run with a higher
// --reask) re-asks where the journal left off. It holds the rows an
// earlier run left to be re-asked (retryable records), and, when the job
// re-asks at all, those that ran out of re-asks (failed for good), so
// that a higher --reask sends them again.
type reaskPlan struct {
	keep bool // keep the failed ones too (Config.Reask > 0)
	next map[string]int
}

// note reads a journal record, in journal order.
func (p *reaskPlan) note(rec *results.Record) {
	if e := rec.Error; e != nil && reaskable(e.Code) && (e.Retryable || p.keep) {
		if p.next == nil {
			p.next = make(map[string]int)
		}
		p.next[rec.CustomID] = rec.Reask + 1
		return
	}
	if e := rec.Error; e != nil && e.Retryable && rec.Reask > 0 {
		// A re-ask that ran out of attempts: the resume sends it again
		// as the same re-ask.
		if p.next == nil {
			p.next = make(map[string]int)
		}
		p.next[rec.CustomID] = rec.Reask
		return
	}
	if len(p.next) > 0 {
		delete(p.next, rec.CustomID)
	}
}

// again returns the re-ask to send for key, ok false when its latest
// record is not one to re-ask.
func (p *reaskPlan) again(key string) (n int, ok bool) {
	n, ok = p.next[key]
	return n, ok
}
