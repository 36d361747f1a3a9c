package pipeline

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestRenderPlainIsTextTemplate: a template of text and {{.column}}
// actions renders without text/template exactly as text/template renders
// it, and leaves every other case (other actions, missing columns,
// values that are not strings) to text/template.
func TestRenderPlainIsTextTemplate(t *testing.T) {
	rowsOf := []map[string]any{
		{"text": "plain", "b": "x"},
		{"text": "é <b>&amp;</b> \"q\" {{.b}}\n", "b": ""},
		{"text": nil, "b": "y"},
		{"text": "only text"},
		{"text": json.Number("12"), "b": "z"},
		{"text": 1.5, "b": "z"},
		{"text": []any{"a"}, "b": "z"},
		{"b": "no text column"},
	}
	cases := []struct {
		tpl   string
		plain bool // renderPlain may take it
	}{
		{"{{.text}}", true},
		{"Label the sentiment of: {{.text}}", true},
		{"{{.text}} / {{ .b }}", true},
		{"a\n  {{- .text -}}  \nb{{.b}}", true},
		{"{{/* note */}}{{.text}}", true},
		{"", true},
		{"{{.text | printf \"%q\"}}", false},
		{"{{if .b}}{{.b}}{{end}}", false},
		{"{{json .text}}", false},
		{"{{$x := .text}}{{$x}}", false},
	}
	b, err := newBuilder(&Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		tpl, err := parseTemplate("prompt", c.tpl, "--prompt")
		if err != nil {
			t.Fatalf("%q: %v", c.tpl, err)
		}
		if got := plainTemplate(tpl) != nil; got != c.plain {
			t.Errorf("%q: plain %v, want %v", c.tpl, got, c.plain)
		}
		for _, fields := range rowsOf {
			var want strings.Builder
			wantErr := tpl.Execute(&want, withoutNulls(fields))
			b.sb.Reset()
			got, ok := b.renderPlain(tpl, fields)
			if !ok {
				continue // text/template renders it
			}
			if wantErr != nil || got != want.String() {
				t.Errorf("%q over %v: plain %q, text/template %q (%v)", c.tpl, fields, got, want.String(), wantErr)
			}
		}
	}
	// The common case is taken.
	tpl, _ := parseTemplate("prompt", "Label: {{.text}}", "--prompt")
	b.sb.Reset()
	if s, ok := b.renderPlain(tpl, map[string]any{"text": "x"}); !ok || s != "Label: x" {
		t.Fatalf("renderPlain: %q %v", s, ok)
	}
	// A template of one column is the column's value, not a copy of it.
	tpl, _ = parseTemplate("prompt", "{{.text}}", "--prompt")
	fields := map[string]any{"text": strings.Repeat("x", 300)}
	if n := testing.AllocsPerRun(100, func() {
		b.sb.Reset()
		if s, ok := b.renderPlain(tpl, fields); !ok || len(s) != 300 {
			t.Fatalf("renderPlain: %q %v", s, ok)
		}
	}); n != 0 {
		t.Errorf("renderPlain of one column: %v allocations", n)
	}
}
