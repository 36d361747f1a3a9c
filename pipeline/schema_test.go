package pipeline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/llmbatch/llmbatch/io/api"
	"github.com/llmbatch/llmbatch/io/prices"
	"github.com/llmbatch/llmbatch/io/results"
	"github.com/llmbatch/llmbatch/io/sim"
	"github.com/llmbatch/llmbatch/pipeline"
)

// sentimentSchema is examples/sentiment-schema.json's schema.
const sentimentSchema = `{"type":"object","properties":{"label":{"type":"string","enum":["positive","negative","neutral"]},"confidence":{"type":"number"}},"required":["label","confidence"],"additionalProperties":false}`

// schemaBody asks the API name for sentimentSchema's output.
func schemaBody(name string) []byte {
	if name == "chat" {
		return []byte(`{"response_format":{"type":"json_schema","json_schema":{"name":"sentiment","strict":true,"schema":` + sentimentSchema + `}}}`)
	}
	return []byte(`{"text":{"format":{"type":"json_schema","name":"sentiment","strict":true,"schema":` + sentimentSchema + `}}}`)
}

// A share of answers break the schema: each is journalled as
// schema_invalid (with the path of its first violation) or refused, as
// the simulator broke it; --reask sends them again, at most N times; every
// answer's usage is in the totals, which equal the simulator's billing,
// and the summary counts the re-asks and prices them.
func TestRun_SchemaInvalidAndReask(t *testing.T) {
	for _, name := range []string{"responses", "chat"} {
		t.Run(name, func(t *testing.T) {
			for _, reask := range []int{0, 2} {
				dir := t.TempDir()
				const n = 300
				s, base := startSim(t, sim.Config{Seed: 5, SchemaBreak: 0.4})
				cfg := baseConfig(dir, writeInput(t, dir, n), base)
				cfg.API = mustAPI(t, name)
				cfg.Body = schemaBody(name)
				cfg.Reask = reask
				sum, err := pipeline.Run(context.Background(), cfg)
				if err != nil {
					t.Fatalf("reask %d: Run() error = %v", reask, err)
				}
				recs := readJournal(t, cfg.Output)
				st := s.Stats()
				var usage api.Usage
				var invalid, refused, reasks int
				var reaskUsage api.Usage
				paths := map[string]int{}
				latest := map[string]results.Record{}
				perKey := map[string]int{}
				for _, r := range recs {
					usage.Add(r.Usage)
					perKey[r.CustomID]++
					if r.Reask != perKey[r.CustomID]-1 {
						t.Errorf("row %s: record %d says reask %d", r.CustomID, perKey[r.CustomID], r.Reask)
					}
					if r.Reask > 0 {
						reasks++
						reaskUsage.Add(r.Usage)
					}
					latest[r.CustomID] = r
					if r.Error == nil {
						continue
					}
					switch r.Error.Code {
					case api.CodeSchemaInvalid:
						invalid++
						paths[r.Error.Path]++
						if !strings.Contains(r.Error.Message, r.Error.Path) || r.OutputText == "" {
							t.Errorf("row %s: %+v, output %q", r.CustomID, r.Error, r.OutputText)
						}
					case api.CodeRefused:
						refused++
					default:
						t.Errorf("row %s: error %+v", r.CustomID, r.Error)
					}
					if r.Error.Retryable != (r.Reask < reask) {
						t.Errorf("row %s: reask %d of %d, retryable %v", r.CustomID, r.Reask, reask, r.Error.Retryable)
					}
				}
				broken := st.Faults[sim.BreakWrongType] + st.Faults[sim.BreakMissing] + st.Faults[sim.BreakNotJSON]
				if invalid != broken || refused != st.Faults[sim.BreakRefusal] || invalid == 0 || refused == 0 {
					t.Errorf("reask %d: %d schema_invalid, %d refused; the simulator broke %d and refused %d (%v)", reask, invalid, refused, broken, st.Faults[sim.BreakRefusal], st.Faults)
				}
				// Not JSON at "$"; a wrong type or a missing property at
				// $.label or $.confidence (missing: at the object, "$").
				if paths["$"] == 0 || paths["$.label"]+paths["$.confidence"] == 0 {
					t.Errorf("violation paths %v", paths)
				}
				if len(recs) != st.Requests {
					t.Errorf("%d records for %d requests", len(recs), st.Requests)
				}
				if usage.InputTokens != st.InputTokens || usage.OutputTokens != st.OutputTokens || usage != sum.Usage.Total {
					t.Errorf("journal usage %+v, summary %+v; the simulator billed in %d out %d", usage, sum.Usage.Total, st.InputTokens, st.OutputTokens)
				}
				var ok, failed int64
				for _, r := range latest {
					if r.Error == nil {
						ok++
					} else {
						failed++
					}
				}
				if sum.Rows.OK != ok || sum.Rows.Failed != failed || len(latest) != n {
					t.Errorf("summary rows %+v; journal has %d ok, %d failed of %d", sum.Rows, ok, failed, len(latest))
				}
				if reask == 0 {
					if reasks != 0 || sum.Reasks != nil {
						t.Errorf("no --reask, yet %d re-ask records, summary %+v", reasks, sum.Reasks)
					}
					continue
				}
				if reasks == 0 || sum.Reasks == nil || sum.Reasks.Records != int64(reasks) || sum.Reasks.Usage != reaskUsage {
					t.Fatalf("%d re-asks (usage %+v); summary %+v", reasks, reaskUsage, sum.Reasks)
				}
				want := prices.NewTotals(prices.Default())
				want.Add("gpt-5-mini", reaskUsage.InputTokens, reaskUsage.CachedInputTokens, reaskUsage.OutputTokens)
				if got := sum.Reasks.Cost; !got.Known || got != want.Summary().Cost {
					t.Errorf("re-asks cost %v, want %v", got, want.Summary().Cost)
				}
				// Re-asks mend most rows: 40% broken once, 6.4% thrice.
				if failed >= int64(invalid+refused) || failed > n/8 {
					t.Errorf("after re-asks %d rows failed, of %d broken answers", failed, invalid+refused)
				}
				t.Logf("%s reask %d: %d requests, %d broken answers, %d re-asks, %d rows failed", name, reask, st.Requests, invalid+refused, reasks, failed)
			}
		})
	}
}

// --reask bounds a row's re-asks over all runs: a later run with a higher
// --reask re-asks the rows an earlier one left invalid, from where it left
// off, and a run with nothing left to re-ask sends nothing.
func TestRun_ReaskAcrossRuns(t *testing.T) {
	dir := t.TempDir()
	s, base := startSim(t, sim.Config{Seed: 9, SchemaBreak: 0.5})
	cfg := baseConfig(dir, writeInput(t, dir, 200), base)
	cfg.Body = schemaBody("responses")
	run := func(reask int) (*results.Summary, int) {
		t.Helper()
		before := s.Stats().Requests
		cfg.Reask = reask
		sum, err := pipeline.Run(context.Background(), cfg)
		if err != nil {
			t.Fatalf("reask %d: Run() error = %v", reask, err)
		}
		return sum, s.Stats().Requests - before
	}
	first, _ := run(0)
	if first.Rows.Failed == 0 {
		t.Fatal("no row broke the schema")
	}
	_, sent := run(1)
	if int64(sent) != first.Rows.Failed {
		t.Errorf("--reask 1 after a run without: %d requests, want one for each of the %d failed rows", sent, first.Rows.Failed)
	}
	third, sent := run(2)
	perKey := map[string]int{}
	for _, r := range readJournal(t, cfg.Output) {
		perKey[r.CustomID]++
		if r.Reask != perKey[r.CustomID]-1 || r.Reask > 2 {
			t.Errorf("row %s: record %d says reask %d", r.CustomID, perKey[r.CustomID], r.Reask)
		}
	}
	if sent == 0 || third.Rows.Failed == 0 {
		t.Errorf("--reask 2: %d sent, %d still failed", sent, third.Rows.Failed)
	}
	if _, sent := run(2); sent != 0 {
		t.Errorf("a run with every re-ask spent sent %d requests", sent)
	}
	st := s.Stats()
	if sum := readSummary(t, cfg.Output); sum.Usage.Total.InputTokens != st.InputTokens || sum.Usage.Total.OutputTokens != st.OutputTokens {
		t.Errorf("summary usage %+v; the simulator billed in %d out %d", sum.Usage.Total, st.InputTokens, st.OutputTokens)
	}
}

// gatewayRewrite fronts a simulator with a gateway that rewrites the
// message content of every chat completion with edit.
func gatewayRewrite(t *testing.T, simBase string, edit func(string) string) string {
	t.Helper()
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		resp, err := http.Post(simBase+strings.TrimPrefix(r.URL.Path, "/v1"), "application/json", bytes.NewReader(body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var m map[string]any
		if resp.StatusCode == 200 && json.Unmarshal(raw, &m) == nil {
			for _, c := range m["choices"].([]any) {
				msg := c.(map[string]any)["message"].(map[string]any)
				msg["content"] = edit(msg["content"].(string))
				delete(msg, "refusal") // vLLM and some gateways send no refusal member
			}
			raw, _ = json.Marshal(m)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(resp.StatusCode)
		w.Write(raw)
	}))
	t.Cleanup(gw.Close)
	return gw.URL + "/v1"
}

// Gateways in front of other models: output pretty-printed with newlines
// around it is JSON that follows the schema (ok); output in a Markdown
// code fence is not JSON (schema_invalid at "$"), re-asked within
// --reask, every answer paid and counted.
func TestRun_SchemaThroughGateway(t *testing.T) {
	for _, tt := range []struct {
		name    string
		edit    func(string) string
		invalid bool
	}{
		{"pretty", func(s string) string {
			var b bytes.Buffer
			json.Indent(&b, []byte(s), "", "  ")
			return "\n" + b.String() + "\n"
		}, false},
		{"fenced", func(s string) string { return "```json\n" + s + "\n```" }, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			const n = 40
			s, simBase := startSim(t, sim.Config{Seed: 2})
			cfg := baseConfig(dir, writeInput(t, dir, n), gatewayRewrite(t, simBase, tt.edit))
			cfg.API = mustAPI(t, "chat")
			cfg.Body = schemaBody("chat")
			cfg.Reask = 1
			sum, err := pipeline.Run(context.Background(), cfg)
			if err != nil {
				t.Fatalf("Run() error = %v", err)
			}
			st := s.Stats()
			if !tt.invalid {
				if sum.Rows.OK != n || st.Requests != n || sum.Reasks != nil {
					t.Errorf("rows %+v, %d requests, re-asks %+v; want %d ok, no re-ask", sum.Rows, st.Requests, sum.Reasks, n)
				}
				return
			}
			recs := readJournal(t, cfg.Output)
			for _, r := range recs {
				if r.Error == nil || r.Error.Code != api.CodeSchemaInvalid || r.Error.Path != "$" {
					t.Fatalf("row %s: error %+v", r.CustomID, r.Error)
				}
			}
			if sum.Rows.Failed != n || st.Requests != 2*n || len(recs) != 2*n || sum.Reasks == nil || sum.Reasks.Records != n {
				t.Errorf("rows %+v, %d requests, %d records, re-asks %+v; want %d failed after one re-ask each", sum.Rows, st.Requests, len(recs), sum.Reasks, n)
			}
			if sum.Usage.Total.InputTokens != st.InputTokens || sum.Usage.Total.OutputTokens != st.OutputTokens {
				t.Errorf("usage %+v; the simulator billed in %d out %d", sum.Usage.Total, st.InputTokens, st.OutputTokens)
			}
		})
	}
}
