package sim_test

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/llmbatch/llmbatch/io/sim"
)

// wireChat is a chat completion with every field the simulator promises;
// decodeChat rejects a body with any of them missing.
type wireChat struct {
	ID      *string `json:"id"`
	Object  *string `json:"object"`
	Created *int64  `json:"created"`
	Model   *string `json:"model"`
	Choices []struct {
		Index   *int `json:"index"`
		Message *struct {
			Role    *string         `json:"role"`
			Content *string         `json:"content"`
			Refusal json.RawMessage `json:"refusal"`
		} `json:"message"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage struct {
		PromptTokens        *int64 `json:"prompt_tokens"`
		CompletionTokens    *int64 `json:"completion_tokens"`
		TotalTokens         *int64 `json:"total_tokens"`
		PromptTokensDetails *struct {
			CachedTokens *int64 `json:"cached_tokens"`
		} `json:"prompt_tokens_details"`
		CompletionTokensDetails *struct {
			ReasoningTokens *int64 `json:"reasoning_tokens"`
		} `json:"completion_tokens_details"`
		PromptCacheHitTokens  *int64 `json:"prompt_cache_hit_tokens"`
		PromptCacheMissTokens *int64 `json:"prompt_cache_miss_tokens"`
	} `json:"usage"`
}

// chat is a decoded chat completion, its fields checked present.
type chat struct {
	id, object, model        string
	created                  int64
	contents, finish         []string
	prompt, completion       int64
	cached, reasoning, total int64
}

func decodeChat(tb testing.TB, r result) chat {
	tb.Helper()
	if r.err != nil || r.status != http.StatusOK {
		tb.Fatalf("answer = %d %s (err %v), want 200", r.status, r.body, r.err)
	}
	var w wireChat
	if err := json.Unmarshal(r.body, &w); err != nil {
		tb.Fatalf("decode chat completion: %v; body %s", err, r.body)
	}
	u := w.Usage
	if w.ID == nil || w.Object == nil || w.Created == nil || w.Model == nil || len(w.Choices) == 0 ||
		u.PromptTokens == nil || u.CompletionTokens == nil || u.TotalTokens == nil ||
		u.PromptTokensDetails == nil || u.PromptTokensDetails.CachedTokens == nil ||
		u.CompletionTokensDetails == nil || u.CompletionTokensDetails.ReasoningTokens == nil {
		tb.Fatalf("chat completion lacks a field: %s", r.body)
	}
	c := chat{id: *w.ID, object: *w.Object, model: *w.Model, created: *w.Created,
		prompt: *u.PromptTokens, completion: *u.CompletionTokens, total: *u.TotalTokens,
		cached: *u.PromptTokensDetails.CachedTokens, reasoning: *u.CompletionTokensDetails.ReasoningTokens}
	for i, ch := range w.Choices {
		if ch.Index == nil || *ch.Index != i || ch.Message == nil || ch.Message.Role == nil || *ch.Message.Role != "assistant" ||
			ch.Message.Content == nil || string(ch.Message.Refusal) != "null" || ch.FinishReason == nil {
			tb.Fatalf("choice %d malformed: %s", i, r.body)
		}
		c.contents = append(c.contents, *ch.Message.Content)
		c.finish = append(c.finish, *ch.FinishReason)
	}
	return c
}

func TestChat_Completed(t *testing.T) {
	labels := []string{"positive", "negative", "neutral"}
	tests := []struct {
		name          string
		body          string
		wantInput     int64
		wantChoices   int
		wantReasoning bool
	}{
		{"OneUserMessage", `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello world!"}]}`, 3 + 4, 1, false},
		{"SystemAndParts", `{"model":"gpt-4.1","messages":[{"role":"system","content":"Be brief."},` +
			`{"role":"user","content":[{"type":"text","text":"abcd"},{"type":"image_url","image_url":{"url":"data:x"}}]}],"temperature":0.2}`,
			(9+4+3)/4 + 8, 1, false},
		{"ReasoningModel", `{"model":"o4-mini","messages":[{"role":"developer","content":"x"},{"role":"user","content":"y"}],"max_completion_tokens":500}`, 1 + 8, 1, true},
		{"LegacyMaxTokensAndN", `{"model":"gpt-4o","messages":[{"role":"user","content":"abc"}],"max_tokens":50,"n":3}`, 1 + 4, 3, false},
		{"AssistantNullContent", `{"model":"gpt-4o","messages":[{"role":"user","content":"ab"},{"role":"assistant","content":null},{"role":"user","content":"cd"}]}`, 1 + 12, 1, false},
	}
	s, base := start(t, sim.Config{Seed: 1})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := post(t, base+"/chat/completions", tt.body)
			if got := r.header.Get("x-request-id"); !strings.HasPrefix(got, "req_") {
				t.Errorf("x-request-id = %q, want req_<hex>", got)
			}
			c := decodeChat(t, r)
			var req struct{ Model string }
			json.Unmarshal([]byte(tt.body), &req)
			if !strings.HasPrefix(c.id, "chatcmpl-") || c.object != "chat.completion" || c.model != req.Model || c.created == 0 {
				t.Errorf("id %q object %q model %q created %d", c.id, c.object, c.model, c.created)
			}
			if len(c.contents) != tt.wantChoices {
				t.Fatalf("%d choices, want %d", len(c.contents), tt.wantChoices)
			}
			for i := range c.contents {
				if !slices.Contains(labels, c.contents[i]) || c.finish[i] != "stop" {
					t.Errorf("choice %d = %q finish %q, want a label and stop", i, c.contents[i], c.finish[i])
				}
			}
			if c.prompt != tt.wantInput {
				t.Errorf("prompt_tokens = %d, want %d", c.prompt, tt.wantInput)
			}
			if c.cached != 0 && c.cached != c.prompt/4 {
				t.Errorf("cached_tokens = %d, want 0 or %d", c.cached, c.prompt/4)
			}
			if ok := c.reasoning > 0; ok != tt.wantReasoning {
				t.Errorf("reasoning_tokens = %d, reasoning model %v", c.reasoning, tt.wantReasoning)
			}
			perChoice := int64(len(c.contents[0])+3)/4 + c.reasoning/int64(tt.wantChoices)
			if c.completion != perChoice*int64(tt.wantChoices) || c.total != c.prompt+c.completion {
				t.Errorf("completion_tokens = %d total %d, want %d and %d", c.completion, c.total, perChoice*int64(tt.wantChoices), c.prompt+c.completion)
			}
		})
	}
	st := s.Stats()
	e := st.Endpoints[sim.EndpointChat]
	if e.Requests != len(tests) || e.Completed != len(tests) || st.Requests != len(tests) || st.Completed != len(tests) {
		t.Errorf("Stats = %+v, want %d chat requests, all completed", st, len(tests))
	}
	if e.InputTokens != st.InputTokens || e.OutputTokens != st.OutputTokens || e.InputTokens == 0 {
		t.Errorf("chat tokens %d/%d, totals %d/%d: want equal and non-zero", e.InputTokens, e.OutputTokens, st.InputTokens, st.OutputTokens)
	}
}

func TestChat_ResponseFormat(t *testing.T) {
	_, base := start(t, sim.Config{Seed: 9})
	schema := `{"type":"object","properties":{"label":{"type":"string","enum":["pos","neg"]},"score":{"type":"integer","minimum":1,"maximum":5}},"required":["label","score"],"additionalProperties":false}`
	tests := []struct {
		name   string
		format string
		check  func(t *testing.T, content string)
	}{
		{"JSONSchema", `{"type":"json_schema","json_schema":{"name":"r","strict":true,"schema":` + schema + `}}`, func(t *testing.T, content string) {
			var v struct {
				Label string
				Score *float64
			}
			if err := json.Unmarshal([]byte(content), &v); err != nil || (v.Label != "pos" && v.Label != "neg") || v.Score == nil || *v.Score < 1 || *v.Score > 5 {
				t.Errorf("content %s does not follow the schema (%v)", content, err)
			}
		}},
		{"JSONObject", `{"type":"json_object"}`, func(t *testing.T, content string) {
			var v map[string]string
			if err := json.Unmarshal([]byte(content), &v); err != nil || v["label"] == "" {
				t.Errorf("content %s is not a JSON object with a label", content)
			}
		}},
		{"Text", `{"type":"text"}`, func(t *testing.T, content string) {
			if json.Valid([]byte(content)) {
				t.Errorf("content %s is JSON, want a plain label", content)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i := range 5 {
				body := fmt.Sprintf(`{"model":"gpt-4o","messages":[{"role":"user","content":"row %d"}],"response_format":%s}`, i, tt.format)
				tt.check(t, decodeChat(t, post(t, base+"/chat/completions", body)).contents[0])
			}
		})
	}
}

func TestChat_Length(t *testing.T) {
	// An output cap below the answer's length.
	_, base := start(t, sim.Config{Seed: 3})
	c := decodeChat(t, post(t, base+"/chat/completions", `{"model":"gpt-5-mini","messages":[{"role":"user","content":"x"}],"max_completion_tokens":16}`))
	if c.finish[0] != "length" || c.completion != 16 || c.total != c.prompt+16 {
		t.Errorf("capped answer: finish %q completion %d total %d, want length, 16, prompt+16", c.finish[0], c.completion, c.total)
	}

	// The Incomplete fault: finish_reason length, usage still billed.
	s, base := start(t, sim.Config{Seed: 3, Incomplete: 1})
	c = decodeChat(t, post(t, base+"/chat/completions", `{"model":"gpt-4o","messages":[{"role":"user","content":"abcd"}],"max_completion_tokens":7}`))
	if c.finish[0] != "length" || c.completion != 7 {
		t.Errorf("incomplete fault: finish %q completion %d, want length and 7", c.finish[0], c.completion)
	}
	st := s.Stats()
	if e := st.Endpoints[sim.EndpointChat]; e.Completed != 0 || e.InputTokens != c.prompt || e.OutputTokens != 7 || st.Faults[sim.FaultIncomplete] != 1 {
		t.Errorf("stats = %+v, faults %v: want the incomplete answer billed, not completed", e, st.Faults)
	}
}

func TestChat_DeepSeekUsage(t *testing.T) {
	_, base := start(t, sim.Config{Seed: 2, Usage: sim.UsageDeepSeek})
	hits := 0
	for i := range 20 {
		r := post(t, base+"/chat/completions", fmt.Sprintf(`{"model":"deepseek-chat","messages":[{"role":"user","content":"a longer row %d"}]}`, i))
		var w wireChat
		if err := json.Unmarshal(r.body, &w); err != nil {
			t.Fatal(err)
		}
		u := w.Usage
		if u.PromptTokensDetails != nil || u.PromptCacheHitTokens == nil || u.PromptCacheMissTokens == nil || u.PromptTokens == nil || u.CompletionTokens == nil {
			t.Fatalf("usage is not DeepSeek's shape: %s", r.body)
		}
		if *u.PromptCacheHitTokens+*u.PromptCacheMissTokens != *u.PromptTokens || *u.TotalTokens != *u.PromptTokens+*u.CompletionTokens {
			t.Errorf("usage does not add up: %s", r.body)
		}
		if *u.PromptCacheHitTokens > 0 {
			hits++
		}
	}
	if hits == 0 || hits == 20 {
		t.Errorf("%d of 20 answers had cache hits, want some", hits)
	}
}

func TestChat_Invalid(t *testing.T) {
	s, base := start(t, sim.Config{})
	msgs := `"messages":[{"role":"user","content":"x"}]`
	tests := []struct {
		name, body, wantParam string
	}{
		{"NotJSON", `{"model":`, ""},
		{"NotObject", `[]`, ""},
		{"NoModel", `{` + msgs + `}`, "model"},
		{"EmptyModel", `{"model":"",` + msgs + `}`, "model"},
		{"ModelNotString", `{"model":4,` + msgs + `}`, "model"},
		{"NoMessages", `{"model":"m"}`, "messages"},
		{"MessagesNotArray", `{"model":"m","messages":"hi"}`, "messages"},
		{"EmptyMessages", `{"model":"m","messages":[]}`, "messages"},
		{"MessageNotObject", `{"model":"m","messages":["hi"]}`, "messages[0]"},
		{"NoRole", `{"model":"m","messages":[{"content":"x"}]}`, "messages[0].role"},
		{"BadRole", `{"model":"m","messages":[{"role":"robot","content":"x"}]}`, "messages[0].role"},
		{"ContentNumber", `{"model":"m","messages":[{"role":"user","content":3}]}`, "messages[0].content"},
		{"UserNoContent", `{"model":"m","messages":[{"role":"user"}]}`, "messages[0].content"},
		{"ZeroMaxCompletion", `{"model":"m",` + msgs + `,"max_completion_tokens":0}`, "max_completion_tokens"},
		{"MaxTokensString", `{"model":"m",` + msgs + `,"max_tokens":"9"}`, "max_tokens"},
		{"ZeroN", `{"model":"m",` + msgs + `,"n":0}`, "n"},
		{"FormatNotObject", `{"model":"m",` + msgs + `,"response_format":"json"}`, "response_format"},
		{"FormatBadType", `{"model":"m",` + msgs + `,"response_format":{"type":"xml"}}`, "response_format.type"},
		{"SchemaMissing", `{"model":"m",` + msgs + `,"response_format":{"type":"json_schema"}}`, "response_format.json_schema"},
		{"SchemaNoName", `{"model":"m",` + msgs + `,"response_format":{"type":"json_schema","json_schema":{"schema":{}}}}`, "response_format.json_schema.name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := decodeError(t, post(t, base+"/chat/completions", tt.body), http.StatusBadRequest)
			if e.Error.Type != "invalid_request_error" {
				t.Errorf("type = %q, want invalid_request_error", e.Error.Type)
			}
			if got := ""; e.Error.Param != nil {
				got = *e.Error.Param
				if got != tt.wantParam {
					t.Errorf("param = %q, want %q (message %q)", got, tt.wantParam, e.Error.Message)
				}
			} else if tt.wantParam != "" {
				t.Errorf("param = null, want %q (message %q)", tt.wantParam, e.Error.Message)
			}
		})
	}
	if got := s.Stats().Endpoints[sim.EndpointChat].Requests; got != len(tests) {
		t.Errorf("chat requests = %d, want %d", got, len(tests))
	}
}

// wireEmbeddings is an embeddings answer with every promised field.
type wireEmbeddings struct {
	Object *string `json:"object"`
	Data   []struct {
		Object    *string         `json:"object"`
		Index     *int            `json:"index"`
		Embedding json.RawMessage `json:"embedding"`
	} `json:"data"`
	Model *string `json:"model"`
	Usage *struct {
		PromptTokens *int64 `json:"prompt_tokens"`
		TotalTokens  *int64 `json:"total_tokens"`
	} `json:"usage"`
}

// embeddings is a decoded embeddings answer: the vectors by index, in the
// answer's order, and the usage.
type embeddings struct {
	vectors [][]float32 // by index
	order   []int       // indices in the order answered
	prompt  int64
	model   string
}

func decodeEmbeddings(tb testing.TB, r result) embeddings {
	tb.Helper()
	if r.err != nil || r.status != http.StatusOK {
		tb.Fatalf("answer = %d %.300s (err %v), want 200", r.status, r.body, r.err)
	}
	var w wireEmbeddings
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		tb.Fatalf("decode embeddings: %v; body %.300s", err, r.body)
	}
	if w.Object == nil || *w.Object != "list" || w.Model == nil || w.Usage == nil || w.Usage.PromptTokens == nil || w.Usage.TotalTokens == nil ||
		*w.Usage.TotalTokens != *w.Usage.PromptTokens {
		tb.Fatalf("embeddings answer lacks a field: %.300s", r.body)
	}
	e := embeddings{vectors: make([][]float32, len(w.Data)), prompt: *w.Usage.PromptTokens, model: *w.Model}
	for _, d := range w.Data {
		if d.Object == nil || *d.Object != "embedding" || d.Index == nil || *d.Index < 0 || *d.Index >= len(w.Data) || e.vectors[*d.Index] != nil {
			tb.Fatalf("bad data item in %.300s", r.body)
		}
		var v []float32
		switch firstByte := bytes.TrimSpace(d.Embedding)[0]; firstByte {
		case '[':
			if err := json.Unmarshal(d.Embedding, &v); err != nil {
				tb.Fatal(err)
			}
		case '"':
			var s string
			json.Unmarshal(d.Embedding, &s)
			raw, err := base64.StdEncoding.DecodeString(s)
			if err != nil || len(raw)%4 != 0 {
				tb.Fatalf("base64 embedding: %v (%d bytes)", err, len(raw))
			}
			for i := 0; i < len(raw); i += 4 {
				v = append(v, math.Float32frombits(binary.LittleEndian.Uint32(raw[i:])))
			}
		}
		e.vectors[*d.Index] = v
		e.order = append(e.order, *d.Index)
	}
	return e
}

// norm is the Euclidean length of v.
func norm(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}

func TestEmbeddings_Vectors(t *testing.T) {
	s, base := start(t, sim.Config{Seed: 4})
	texts := []string{"first row", "second, longer row of text", "3"}
	in, _ := json.Marshal(texts)
	const model = "text-embedding-3-small"
	var got [2]embeddings
	for i, format := range []string{"float", "base64"} {
		body := fmt.Sprintf(`{"model":%q,"input":%s,"encoding_format":%q,"dimensions":16}`, model, in, format)
		got[i] = decodeEmbeddings(t, post(t, base+"/embeddings", body))
	}
	wantTokens := int64(0)
	for i, text := range texts {
		want := sim.Embedding(model, text, 16)
		if !slices.Equal(got[0].vectors[i], want) || !slices.Equal(got[1].vectors[i], want) {
			t.Errorf("input %d: float %v, base64 %v, want sim.Embedding %v", i, got[0].vectors[i], got[1].vectors[i], want)
		}
		if n := norm(want); math.Abs(n-1) > 1e-6 {
			t.Errorf("input %d: norm %v, want 1", i, n)
		}
		wantTokens += int64(len(text)+3) / 4
	}
	if got[0].prompt != wantTokens || got[0].model != model || !slices.Equal(got[0].order, []int{0, 1, 2}) {
		t.Errorf("usage %d model %q order %v, want %d, %q, in order", got[0].prompt, got[0].model, got[0].order, wantTokens, model)
	}

	// A vector depends on the text, not on its position or the request.
	alone := decodeEmbeddings(t, post(t, base+"/embeddings", `{"model":"text-embedding-3-small","input":"3","dimensions":16}`))
	if !slices.Equal(alone.vectors[0], got[0].vectors[2]) {
		t.Errorf("the same text alone got %v, in a batch %v", alone.vectors[0], got[0].vectors[2])
	}
	if slices.Equal(got[0].vectors[0], got[0].vectors[1]) {
		t.Errorf("two texts got the same vector")
	}

	// Default dimensions per model; a shorter vector is a renormalised prefix.
	for model, dims := range map[string]int{"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "local-model": 1536} {
		e := decodeEmbeddings(t, post(t, base+"/embeddings", fmt.Sprintf(`{"model":%q,"input":"x","encoding_format":"base64"}`, model)))
		if len(e.vectors[0]) != dims || !slices.Equal(e.vectors[0], sim.Embedding(model, "x", 0)) {
			t.Errorf("%s: %d dimensions, want %d and sim.Embedding", model, len(e.vectors[0]), dims)
		}
	}
	full, short := sim.Embedding(model, "x", 0), sim.Embedding(model, "x", 8)
	n := norm(full[:8])
	for i := range short {
		if math.Abs(float64(short[i])-float64(full[i])/n) > 1e-6 {
			t.Fatalf("8-dimension vector %v is not the renormalised prefix of the full one", short)
		}
	}

	// Token-array inputs: one array, or an array of arrays.
	e := decodeEmbeddings(t, post(t, base+"/embeddings", `{"model":"m","input":[1,2,3],"dimensions":4}`))
	if len(e.vectors) != 1 || e.prompt != 3 || !slices.Equal(e.vectors[0], sim.Embedding("m", "[1,2,3]", 4)) {
		t.Errorf("token array: %d vectors, %d tokens", len(e.vectors), e.prompt)
	}
	e = decodeEmbeddings(t, post(t, base+"/embeddings", `{"model":"m","input":[[1,2],[3]],"dimensions":4}`))
	if len(e.vectors) != 2 || e.prompt != 3 || !slices.Equal(e.vectors[1], sim.Embedding("m", "[3]", 4)) {
		t.Errorf("token arrays: %d vectors, %d tokens", len(e.vectors), e.prompt)
	}

	st := s.Stats()
	es := st.Endpoints[sim.EndpointEmbeddings]
	if es.Requests != 8 || es.Completed != 8 || es.OutputTokens != 0 || es.InputTokens != st.InputTokens {
		t.Errorf("embeddings stats = %+v, totals %d in, want 8 requests, all completed, no output tokens", es, st.InputTokens)
	}
}

func TestEmbeddings_Shuffled(t *testing.T) {
	_, base := start(t, sim.Config{Seed: 6, ShuffleEmbeddings: true})
	texts := make([]string, 40)
	for i := range texts {
		texts[i] = fmt.Sprintf("row %d", i)
	}
	in, _ := json.Marshal(texts)
	body := fmt.Sprintf(`{"model":"text-embedding-3-small","input":%s,"dimensions":8,"encoding_format":"base64"}`, in)
	e := decodeEmbeddings(t, post(t, base+"/embeddings", body))
	if slices.IsSorted(e.order) {
		t.Errorf("order %v is not shuffled", e.order)
	}
	for i, text := range texts {
		if !slices.Equal(e.vectors[i], sim.Embedding("text-embedding-3-small", text, 8)) {
			t.Errorf("index %d carries another input's vector", i)
		}
	}
	again := decodeEmbeddings(t, post(t, base+"/embeddings", body))
	if !slices.Equal(again.order, e.order) {
		t.Errorf("the same body was shuffled differently: %v then %v", e.order, again.order)
	}
}

func TestEmbeddings_Invalid(t *testing.T) {
	s, base := start(t, sim.Config{})
	inputs := func(n int) string {
		b, _ := json.Marshal(slices.Repeat([]string{"a"}, n))
		return string(b)
	}
	tests := []struct {
		name, body string
		wantStatus int
		wantParam  string
	}{
		{"Max", `{"model":"m","dimensions":1,"input":` + inputs(sim.MaxEmbeddingInputs) + `}`, 200, ""},
		{"OverMax", `{"model":"m","dimensions":1,"input":` + inputs(sim.MaxEmbeddingInputs+1) + `}`, 400, "input"},
		{"NoModel", `{"input":"x"}`, 400, "model"},
		{"NoInput", `{"model":"m"}`, 400, "input"},
		{"NullInput", `{"model":"m","input":null}`, 400, "input"},
		{"EmptyString", `{"model":"m","input":""}`, 400, "input"},
		{"EmptyInArray", `{"model":"m","input":["a",""]}`, 400, "input[1]"},
		{"EmptyArray", `{"model":"m","input":[]}`, 400, "input"},
		{"EmptyTokenArray", `{"model":"m","input":[[1],[]]}`, 400, "input[1]"},
		{"Mixed", `{"model":"m","input":["a",[1]]}`, 400, "input[1]"},
		{"NumberInput", `{"model":"m","input":4}`, 400, "input"},
		{"ObjectInArray", `{"model":"m","input":[{"text":"a"}]}`, 400, "input"},
		{"BadFormat", `{"model":"m","input":"x","encoding_format":"int8"}`, 400, "encoding_format"},
		{"ZeroDimensions", `{"model":"m","input":"x","dimensions":0}`, 400, "dimensions"},
		{"TooManyDimensions", `{"model":"text-embedding-3-small","input":"x","dimensions":1537}`, 400, "dimensions"},
		{"AdaDimensions", `{"model":"text-embedding-ada-002","input":"x","dimensions":8}`, 400, "dimensions"},
		{"InputTooLong", `{"model":"m","input":"` + strings.Repeat("a", 4*sim.MaxEmbeddingInputTokens+1) + `"}`, 400, "input"},
		{"RequestTooLarge", `{"model":"m","input":` + func() string {
			b, _ := json.Marshal(slices.Repeat([]string{strings.Repeat("a", 4*8000)}, 38))
			return string(b)
		}() + `}`, 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := post(t, base+"/embeddings", tt.body)
			if tt.wantStatus == 200 {
				if e := decodeEmbeddings(t, r); len(e.vectors) != sim.MaxEmbeddingInputs || e.prompt != sim.MaxEmbeddingInputs {
					t.Errorf("%d vectors, %d tokens, want %d each", len(e.vectors), e.prompt, sim.MaxEmbeddingInputs)
				}
				return
			}
			e := decodeError(t, r, tt.wantStatus)
			got := "<null>"
			if e.Error.Param != nil {
				got = *e.Error.Param
			}
			if want := cmpOr(tt.wantParam, "<null>"); got != want || e.Error.Type != "invalid_request_error" {
				t.Errorf("param %s type %q, want %s, invalid_request_error (message %q)", got, e.Error.Type, want, e.Error.Message)
			}
		})
	}
	if got := s.Stats().Endpoints[sim.EndpointEmbeddings].Requests; got != len(tests) {
		t.Errorf("embeddings requests = %d, want %d", got, len(tests))
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// endpointBodies makes the i-th request body for each API endpoint.
var endpointBodies = map[string]func(i int) string{
	sim.EndpointResponses: func(i int) string { return fmt.Sprintf(`{"model":"gpt-4o","input":"row %d"}`, i) },
	sim.EndpointChat: func(i int) string {
		return fmt.Sprintf(`{"model":"gpt-4o","messages":[{"role":"user","content":"row %d"}]}`, i)
	},
	sim.EndpointEmbeddings: func(i int) string {
		return fmt.Sprintf(`{"model":"text-embedding-3-small","input":["row %d","again %d"],"dimensions":4}`, i, i)
	},
}

// endpointPaths are the paths under the base URL.
var endpointPaths = map[string]string{
	sim.EndpointResponses:  "/responses",
	sim.EndpointChat:       "/chat/completions",
	sim.EndpointEmbeddings: "/embeddings",
}

// TestEndpoints_Faults checks every fault on chat completions and
// embeddings at its configured rate, as TestServer_Faults does for
// responses.
func TestEndpoints_Faults(t *testing.T) {
	const n = 200
	const p = 0.3
	tests := []struct {
		name  string
		cfg   sim.Config
		fault string
		is    func(ep string, r result) bool
	}{
		{"RateLimit", sim.Config{RateLimit: p, RetryAfter: 1500 * time.Millisecond}, sim.FaultRateLimit, func(_ string, r result) bool {
			return r.status == 429 && r.header.Get("retry-after-ms") == "1500" && strings.Contains(string(r.body), `"rate_limit_exceeded"`)
		}},
		{"ServerError", sim.Config{ServerError: p}, sim.FaultServerError, func(_ string, r result) bool {
			return (r.status == 500 || r.status == 502 || r.status == 503) && strings.Contains(string(r.body), `"server_error"`)
		}},
		{"Reset", sim.Config{Reset: p}, sim.FaultReset, func(_ string, r result) bool { return r.err != nil }},
		{"Malformed", sim.Config{Malformed: p}, sim.FaultMalformed, func(_ string, r result) bool {
			return r.err == nil && r.status == 200 && !json.Valid(r.body)
		}},
		{"Incomplete", sim.Config{Incomplete: p}, sim.FaultIncomplete, func(ep string, r result) bool {
			return ep == sim.EndpointChat && r.status == 200 && strings.Contains(string(r.body), `"finish_reason":"length"`)
		}},
		{"Slow", sim.Config{Slow: p, SlowDelay: time.Millisecond}, sim.FaultSlow, func(string, result) bool { return false }},
		{"BadRequest", sim.Config{BadRequest: p}, sim.FaultBadRequest, func(_ string, r result) bool {
			return r.status == 400 && strings.Contains(string(r.body), `"invalid_request_error"`)
		}},
	}
	for _, ep := range []string{sim.EndpointChat, sim.EndpointEmbeddings} {
		for _, tt := range tests {
			t.Run(ep+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				s, base := start(t, tt.cfg)
				seen := 0
				for i := range n {
					r := post(t, base+endpointPaths[ep], endpointBodies[ep](i))
					if tt.is(ep, r) {
						seen++
					} else if r.err != nil || r.status != 200 || !json.Valid(r.body) {
						t.Errorf("request %d: unexpected answer %d %s (err %v)", i, r.status, r.body, r.err)
					}
				}
				st := s.Stats()
				got := st.Faults[tt.fault]
				if tt.fault != sim.FaultSlow && got != seen {
					t.Errorf("Stats().Faults[%q] = %d, want %d seen on the wire", tt.fault, got, seen)
				}
				if tt.fault == sim.FaultIncomplete && ep == sim.EndpointEmbeddings {
					// Embeddings have no incomplete answer: the band answers normally.
					if got != 0 || st.Completed != n {
						t.Errorf("embeddings: %d incomplete faults, %d completed, want 0 and %d", got, st.Completed, n)
					}
				} else if got < n*p/2 || got > n*p*3/2 {
					t.Errorf("%s faults = %d of %d, want about %v", tt.fault, got, n, n*p)
				}
				if e := st.Endpoints[ep]; e.Requests != n || st.Requests != n {
					t.Errorf("requests = %d (%s) and %d (total), want %d", e.Requests, ep, st.Requests, n)
				}
			})
		}
	}
}

// TestEndpoints_Shared checks that authentication, the quota and the
// RPM/TPM limits with their headers are one mechanism across endpoints.
func TestEndpoints_Shared(t *testing.T) {
	t.Run("Auth", func(t *testing.T) {
		_, base := start(t, sim.Config{APIKey: "sk-test-shared"})
		for ep, path := range endpointPaths {
			if e := decodeError(t, post(t, base+path, endpointBodies[ep](0)), 401); code(e) != "invalid_api_key" {
				t.Errorf("%s without a key: code %s", ep, code(e))
			}
			if r := post(t, base+path, endpointBodies[ep](0), "Authorization", "Bearer sk-test-shared"); r.status != 200 {
				t.Errorf("%s with the key: status %d", ep, r.status)
			}
		}
	})
	t.Run("QuotaAcrossEndpoints", func(t *testing.T) {
		_, base := start(t, sim.Config{QuotaAfter: 2})
		statuses := []int{
			post(t, base+"/chat/completions", endpointBodies[sim.EndpointChat](0)).status,
			post(t, base+"/embeddings", endpointBodies[sim.EndpointEmbeddings](0)).status,
			post(t, base+"/responses", endpointBodies[sim.EndpointResponses](0)).status,
			post(t, base+"/embeddings", endpointBodies[sim.EndpointEmbeddings](1)).status,
		}
		if !slices.Equal(statuses, []int{200, 200, 429, 429}) {
			t.Errorf("statuses = %v, want 200 200 429 429", statuses)
		}
	})
	t.Run("RPM", func(t *testing.T) {
		for ep, path := range endpointPaths {
			_, base, _ := startClocked(t, sim.Config{RPM: 2})
			for i, want := range []int{200, 200, 429} {
				r := post(t, base+path, endpointBodies[ep](i))
				if r.status != want {
					t.Fatalf("%s request %d: status %d, want %d", ep, i, r.status, want)
				}
				if got := r.header.Get("x-ratelimit-limit-requests"); got != "2" {
					t.Errorf("%s request %d: x-ratelimit-limit-requests = %q, want 2", ep, i, got)
				}
				if got, want := r.header.Get("x-ratelimit-remaining-requests"), fmt.Sprint(max(1-i, 0)); got != want {
					t.Errorf("%s request %d: x-ratelimit-remaining-requests = %q, want %q", ep, i, got, want)
				}
				if want == 429 && r.header.Get("retry-after-ms") != "30000" {
					t.Errorf("%s: retry-after-ms = %q, want 30000", ep, r.header.Get("retry-after-ms"))
				}
			}
		}
	})
	t.Run("TPMCost", func(t *testing.T) {
		// Chat: 2 messages "abcd" + "efgh" = 2 + 8, plus max_completion_tokens 90.
		// Embeddings: ceil(8/4) + ceil(5/4) = 4.
		tests := []struct {
			ep, body      string
			wantRemaining string
		}{
			{sim.EndpointChat, `{"model":"m","messages":[{"role":"system","content":"abcd"},{"role":"user","content":"efgh"}],"max_completion_tokens":90}`, "900"},
			{sim.EndpointChat, `{"model":"m","messages":[{"role":"user","content":"abcd"}],"max_tokens":10,"n":3}`, "965"},
			{sim.EndpointEmbeddings, `{"model":"m","input":["abcdefgh","abcde"]}`, "996"},
		}
		for _, tt := range tests {
			_, base, _ := startClocked(t, sim.Config{TPM: 1000})
			r := post(t, base+endpointPaths[tt.ep], tt.body)
			if r.status != 200 || r.header.Get("x-ratelimit-remaining-tokens") != tt.wantRemaining || r.header.Get("x-ratelimit-limit-tokens") != "1000" {
				t.Errorf("%s %s: status %d, remaining tokens %q, want 200 and %s", tt.ep, tt.body, r.status, r.header.Get("x-ratelimit-remaining-tokens"), tt.wantRemaining)
			}
		}
	})
}

func TestServer_NoResponses(t *testing.T) {
	s, base := start(t, sim.Config{NoResponses: true})
	root := strings.TrimSuffix(base, "/v1")
	for _, url := range []string{base + "/responses", root + "/responses"} {
		e := decodeError(t, post(t, url, `{"model":"gpt-4o","input":"x"}`), http.StatusNotFound)
		if e.Error.Type != "invalid_request_error" || !strings.Contains(e.Error.Message, "/responses") {
			t.Errorf("404 body = %+v", e.Error)
		}
	}
	decodeChat(t, post(t, base+"/chat/completions", endpointBodies[sim.EndpointChat](0)))
	decodeEmbeddings(t, post(t, root+"/embeddings", endpointBodies[sim.EndpointEmbeddings](0)))
	st := s.Stats()
	if st.Requests != 2 || st.Endpoints[sim.EndpointResponses].Requests != 0 {
		t.Errorf("Stats = %+v, want the 404s not counted as requests", st)
	}
}

// TestEndpoints_StatsSum sends a mix to every endpoint and checks that the
// per-endpoint counts add up to the totals and to the answers' usage.
func TestEndpoints_StatsSum(t *testing.T) {
	s, base := start(t, sim.Config{Seed: 8, Usage: sim.UsageChat})
	var wantIn, wantOut int64
	for i := range 5 {
		w := decodeResponse(t, post(t, base+"/responses", endpointBodies[sim.EndpointResponses](i))).Usage.normalize(t)
		wantIn, wantOut = wantIn+w.input, wantOut+w.output
		c := decodeChat(t, post(t, base+"/chat/completions", endpointBodies[sim.EndpointChat](i)))
		wantIn, wantOut = wantIn+c.prompt, wantOut+c.completion
		e := decodeEmbeddings(t, post(t, base+"/embeddings", endpointBodies[sim.EndpointEmbeddings](i)))
		wantIn += e.prompt
	}
	post(t, base+"/embeddings", `{"model":"m"}`) // a 400 counts as a request, with no tokens
	st := s.Stats()
	var sum sim.EndpointStats
	for _, e := range st.Endpoints {
		sum.Requests += e.Requests
		sum.Completed += e.Completed
		sum.InputTokens += e.InputTokens
		sum.OutputTokens += e.OutputTokens
	}
	want := sim.EndpointStats{Requests: 16, Completed: 15, InputTokens: wantIn, OutputTokens: wantOut}
	if sum != want || st.Requests != 16 || st.Completed != 15 || st.InputTokens != wantIn || st.OutputTokens != wantOut {
		t.Errorf("Stats = %+v, endpoints sum %+v, want %+v", st, sum, want)
	}
	if got := st.Endpoints[sim.EndpointEmbeddings]; got.Requests != 6 || got.Completed != 5 {
		t.Errorf("embeddings = %+v, want 6 requests, 5 completed", got)
	}
}

// TestEndpoints_BehindGatewayPrefix mounts the Server under a path prefix,
// as a gateway (LiteLLM, Portkey) fronting it does.
func TestEndpoints_BehindGatewayPrefix(t *testing.T) {
	s := sim.New(sim.Config{})
	defer s.Close()
	gw := httptest.NewServer(http.StripPrefix("/openai", s))
	defer gw.Close()
	decodeEmbeddings(t, post(t, gw.URL+"/openai/v1/embeddings", endpointBodies[sim.EndpointEmbeddings](1)))
	decodeChat(t, post(t, gw.URL+"/openai/v1/chat/completions", endpointBodies[sim.EndpointChat](1)))
	if got := s.Stats().Requests; got != 2 {
		t.Errorf("requests = %d, want 2", got)
	}
}

// BenchmarkServer_Endpoints measures a chat completion and an embeddings
// request of 64 inputs at the default 1536 dimensions, in both encodings.
func BenchmarkServer_Endpoints(b *testing.B) {
	texts := make([]string, 64)
	for i := range texts {
		texts[i] = fmt.Sprintf("review number %d: I loved it, would buy again", i)
	}
	in, _ := json.Marshal(texts)
	benches := []struct{ name, path, body string }{
		{"Chat", "/chat/completions", `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"I loved it"}]}`},
		{"Embeddings64Float", "/embeddings", fmt.Sprintf(`{"model":"text-embedding-3-small","input":%s,"encoding_format":"float"}`, in)},
		{"Embeddings64Base64", "/embeddings", fmt.Sprintf(`{"model":"text-embedding-3-small","input":%s,"encoding_format":"base64"}`, in)},
	}
	for _, bb := range benches {
		b.Run(bb.name, func(b *testing.B) {
			_, base := start(b, sim.Config{Seed: 1})
			b.ReportAllocs()
			for b.Loop() {
				if r := post(b, base+bb.path, bb.body); r.status != http.StatusOK {
					b.Fatalf("status %d", r.status)
				}
			}
		})
	}
}
