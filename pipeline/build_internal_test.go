package pipeline

import (
	"strings"
	"testing"

	"github.com/llmbatch/llmbatch/io/rows"
)

// BenchmarkBuild builds the request of a labelling row (a 300-byte text
// through a one-column template, a model and an output cap): the
// producer's work per row besides reading it.
func BenchmarkBuild(b *testing.B) {
	for _, name := range APINames() {
		b.Run(name, func(b *testing.B) {
			a, _ := LookupAPI(name)
			cfg := &Config{Template: Template{API: a, Model: "gpt-4.1-mini", Prompt: "{{.text}}"}}
			if name != "embeddings" {
				cfg.Body = []byte(`{"` + a.OutputCap() + `":16}`)
			}
			bl, err := newBuilder(cfg)
			if err != nil {
				b.Fatal(err)
			}
			row := &rows.Row{Fields: map[string]any{"id": "row-1", "text": strings.Repeat("The service was fine. ", 14)}}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bl.build(row); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestBuild_ReusedBuilderIsFresh: a builder that built other rows before
// (it reuses its body map and buffers) builds each row's request exactly
// as a new builder does: nothing of one row reaches the next.
func TestBuild_ReusedBuilderIsFresh(t *testing.T) {
	rowsOf := []map[string]any{
		{"text": "first", "m": "model-of-row"},
		{"text": "second"},
		{"text": "third", "m": ""},
		{"text": []any{map[string]any{"role": "user", "content": "an array prompt"}}},
		{"text": "fifth", "m": "other-model"},
	}
	for _, name := range APINames() {
		a, _ := LookupAPI(name)
		cfg := &Config{Template: Template{API: a, Model: "gpt-4.1-mini", PromptColumn: "text", ModelColumn: "m"}}
		if name != "embeddings" {
			cfg.Body = []byte(`{"` + a.OutputCap() + `":16,"metadata":{"k":"v"}}`)
		}
		reused, err := newBuilder(cfg)
		if err != nil {
			t.Fatal(err)
		}
		for i, f := range rowsOf {
			fresh, _ := newBuilder(cfg)
			row := &rows.Row{Index: int64(i), Fields: f}
			want, wantErr := fresh.build(row)
			got, err := reused.build(row)
			if (err != nil) != (wantErr != nil) {
				t.Fatalf("%s row %d: error %v, a new builder's %v", name, i, err, wantErr)
			}
			if err == nil && (string(got.body) != string(want.body) || got.model != want.model) {
				t.Errorf("%s row %d: %s (%s), a new builder's %s (%s)", name, i, got.body, got.model, want.body, want.model)
			}
		}
	}
}
