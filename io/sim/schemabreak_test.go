package sim_test

import (
	"encoding/json"
	"testing"

	"github.com/llmbatch/llmbatch/io/sim"
)

// With SchemaBreak 1 every answer to a json_schema request breaks it, in
// each of the four ways, drawn per attempt; billing is the good answer's.
func TestSchemaBreak_Kinds(t *testing.T) {
	const schema = `{"type":"object","properties":{"label":{"type":"string"},"confidence":{"type":"number"}},"required":["label","confidence"],"additionalProperties":false}`
	bodies := map[string]string{
		"responses":        `{"model":"gpt-5-mini","input":"hi","text":{"format":{"type":"json_schema","name":"s","strict":true,"schema":` + schema + `}}}`,
		"chat/completions": `{"model":"gpt-5-mini","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_schema","json_schema":{"name":"s","strict":true,"schema":` + schema + `}}}`,
	}
	for path, body := range bodies {
		t.Run(path, func(t *testing.T) {
			good, gbase := start(t, sim.Config{Seed: 3})
			post(t, gbase+"/"+path, body)
			s, base := start(t, sim.Config{Seed: 3, SchemaBreak: 1})
			const n = 40
			kinds := map[string]int{}
			for range n {
				r := post(t, base+"/"+path, body)
				if r.status != 200 {
					t.Fatalf("status %d: %s", r.status, r.body)
				}
				var m struct {
					Output []struct {
						Content []struct{ Type, Text, Refusal string } `json:"content"`
					} `json:"output"`
					Choices []struct {
						Message struct {
							Content *string `json:"content"`
							Refusal *string `json:"refusal"`
						} `json:"message"`
					} `json:"choices"`
				}
				json.Unmarshal(r.body, &m)
				var text string
				refused := false
				for _, o := range m.Output {
					for _, c := range o.Content {
						text += c.Text
						refused = refused || c.Type == "refusal"
					}
				}
				for _, c := range m.Choices {
					if c.Message.Content != nil {
						text = *c.Message.Content
					}
					refused = refused || c.Message.Refusal != nil
				}
				var v map[string]any
				switch {
				case refused:
					kinds[sim.BreakRefusal]++
				case json.Unmarshal([]byte(text), &v) != nil:
					kinds[sim.BreakNotJSON]++
				case v["label"] == nil:
					kinds[sim.BreakMissing]++
				default:
					_, ls := v["label"].(string)
					_, cf := v["confidence"].(float64)
					if ls && cf {
						t.Errorf("answer %s follows the schema", text)
					}
					kinds[sim.BreakWrongType]++
				}
			}
			st := s.Stats()
			for _, k := range []string{sim.BreakWrongType, sim.BreakMissing, sim.BreakNotJSON, sim.BreakRefusal} {
				if kinds[k] == 0 || kinds[k] != st.Faults[k] {
					t.Errorf("%s: %d seen, %d counted (%v)", k, kinds[k], st.Faults[k], st.Faults)
				}
			}
			g := good.Stats()
			if st.InputTokens != n*g.InputTokens || st.Completed != n {
				t.Errorf("billed %d input tokens, %d completed; a good answer bills %d", st.InputTokens, st.Completed, g.InputTokens)
			}
		})
	}
}
