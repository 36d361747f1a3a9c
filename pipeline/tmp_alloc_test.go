package pipeline_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/llmbatch/llmbatch/pipeline"
)

func BenchmarkTmpAllocs(b *testing.B) {
	const conc, rows = 64, 20_000
	base := instantServer(b)
	input := writeBenchInput(b, b.TempDir(), rows)
	a, _ := pipeline.LookupAPI("responses")
	var bodies [][]byte
	for i := 0; i < rows; i++ {
		body, _ := json.Marshal(map[string]any{"model": "gpt-4.1-mini", "input": benchText(i), "max_output_tokens": benchMaxOut})
		bodies = append(bodies, body)
	}
	b.Run("bare", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			bareSend(b, base+a.Path(), benchKey, bodies, conc)
		}
	})
	b.Run("tool", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			cfg := pipeline.Config{Source: pipeline.Source{Input: input}, Template: pipeline.Template{API: a, Model: "gpt-4.1-mini", Prompt: "{{.text}}"}, Concurrency: conc, APIKey: benchKey,
				Output: b.TempDir() + "/out.jsonl", BaseURL: base}
			cfg.Body = fmt.Appendf(nil, `{"%s":%d}`, a.OutputCap(), benchMaxOut)
			if _, err := pipeline.Run(b.Context(), cfg); err != nil {
				b.Fatal(err)
			}
		}
	})
}
