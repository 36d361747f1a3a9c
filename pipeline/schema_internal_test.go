package pipeline

import (
	"strings"
	"testing"

	"github.com/llmbatch/llmbatch/io/rows"
)

// A schema in OpenAI's strict-mode subset: nested objects, every property
// required, additionalProperties false, a nullable union, enum, const,
// anyOf, $defs and $ref, a recursive reference, arrays with bounds.
const strictSchema = `{
  "type": "object",
  "properties": {
    "label": {"type": "string", "enum": ["positive", "negative", "neutral"]},
    "score": {"type": "number", "minimum": 0, "maximum": 1},
    "count": {"type": "integer"},
    "note": {"type": ["string", "null"]},
    "kind": {"const": "review"},
    "tags": {"type": "array", "items": {"$ref": "#/$defs/tag"}, "maxItems": 3},
    "source": {"anyOf": [{"type": "string", "pattern": "^https?://"}, {"type": "null"}]},
    "tree": {"$ref": "#/$defs/node"}
  },
  "required": ["label", "score", "count", "note", "kind", "tags", "source", "tree"],
  "additionalProperties": false,
  "$defs": {
    "tag": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"], "additionalProperties": false},
    "node": {"type": "object", "properties": {"value": {"type": "string"}, "children": {"type": "array", "items": {"$ref": "#/$defs/node"}}},
      "required": ["value", "children"], "additionalProperties": false}
  }
}`

func TestOutputSchema_StrictSubset(t *testing.T) {
	doc, err := rows.DecodeObject([]byte(strictSchema))
	if err != nil {
		t.Fatal(err)
	}
	s, err := compileSchema(doc)
	if err != nil {
		t.Fatalf("compileSchema() error = %v", err)
	}
	good := `{"label":"positive","score":0.5,"count":3,"note":null,"kind":"review","tags":[{"name":"a"}],"source":"https://x","tree":{"value":"r","children":[{"value":"c","children":[]}]}}`
	if path, reason, ok := s.check(good); !ok {
		t.Fatalf("check(good) = %s: %s", path, reason)
	}
	edit := func(from, to string) string {
		if !strings.Contains(good, from) {
			t.Fatalf("%q not in the good output", from)
		}
		return strings.Replace(good, from, to, 1)
	}
	for _, tt := range []struct {
		name, output, path, reason string
	}{
		{"not JSON", "Sure! " + good, "$", "not JSON"},
		{"empty", "", "$", "empty"},
		{"two values", good + " {}", "$", "not JSON"},
		{"wrong type", edit(`"score":0.5`, `"score":"high"`), "$.score", "got string, want number"},
		{"integer", edit(`"count":3`, `"count":3.5`), "$.count", "want integer"},
		{"enum", edit(`"positive"`, `"great"`), "$.label", "must be one of"},
		{"missing", edit(`"label":"positive",`, ``), "$", "missing property 'label'"},
		{"extra", edit(`"kind":"review"`, `"kind":"review","extra":1`), "$", "additional properties 'extra' not allowed"},
		{"const", edit(`"kind":"review"`, `"kind":"other"`), "$.kind", "review"},
		{"null union", edit(`"note":null`, `"note":5`), "$.note", "want null or string"},
		{"array item", edit(`[{"name":"a"}]`, `[{"name":"a"},{"name":2}]`), "$.tags[1].name", "got number, want string"},
		{"maxItems", edit(`[{"name":"a"}]`, `[{"name":"a"},{"name":"b"},{"name":"c"},{"name":"d"}]`), "$.tags", "maxItems: got 4, want 3"},
		{"recursion", edit(`{"value":"c","children":[]}`, `{"value":"c"}`), "$.tree.children[0]", "missing property 'children'"},
		{"minimum", edit(`"score":0.5`, `"score":-1`), "$.score", "minimum"},
		{"anyOf", edit(`"https://x"`, `"ftp://x"`), "$.source", "ftp://x"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path, reason, ok := s.check(tt.output)
			if ok || path != tt.path || !strings.Contains(reason, tt.reason) {
				t.Errorf("check() = %q, %q, %v; want %q, reason with %q", path, reason, ok, tt.path, tt.reason)
			}
		})
	}
}

func TestJSONPath_OddKeys(t *testing.T) {
	v := map[string]any{"a b": []any{map[string]any{"x": 1}}}
	if got, want := jsonPath(v, []string{"a b", "0", "x"}), `$["a b"][0].x`; got != want {
		t.Errorf("jsonPath() = %s, want %s", got, want)
	}
}

// A schema that names its draft (draft-07, as many tools write) compiles
// without fetching anything; a remote $ref is refused, not fetched.
func TestOutputSchema_Drafts(t *testing.T) {
	doc, _ := rows.DecodeObject([]byte(`{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","properties":{"a":{"type":"integer"}},"required":["a"]}`))
	s, err := compileSchema(doc)
	if err != nil {
		t.Fatalf("draft-07: %v", err)
	}
	if _, _, ok := s.check(`{"a":1}`); !ok {
		t.Error("draft-07 schema refuses a valid output")
	}
	if path, _, ok := s.check(`{}`); ok || path != "$" {
		t.Errorf("draft-07 schema: missing a: %q %v", path, ok)
	}
	doc, _ = rows.DecodeObject([]byte(`{"$ref":"https://example.com/schema.json"}`))
	if _, err := compileSchema(doc); err == nil {
		t.Error("a remote $ref compiled")
	}
}

// BenchmarkOutputSchema_Check is the validation of one answer against
// examples/sentiment-schema.json's schema.
func BenchmarkOutputSchema_Check(b *testing.B) {
	doc, _ := rows.DecodeObject([]byte(`{"type":"object","properties":{"label":{"type":"string","enum":["positive","negative","neutral"]},"confidence":{"type":"number"}},"required":["label","confidence"],"additionalProperties":false}`))
	s, err := compileSchema(doc)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, ok := s.check(`{"label":"positive","confidence":0.87}`); !ok {
			b.Fatal("invalid")
		}
	}
}
