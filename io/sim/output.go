package sim

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

// label is the default answer number i%3: "positive", "negative" or
// "neutral".
func label(i uint64) string {
	switch i % 3 {
	case 0:
		return "positive"
	case 1:
		return "negative"
	}
	return "neutral"
}

// digest hashes the seed, a label naming the purpose of the draw, and the
// given parts (each length-prefixed, so parts cannot run into each other).
func digest(seed int64, label string, parts ...[]byte) [sha256.Size]byte {
	h := sha256.New()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(seed))
	h.Write(b[:])
	for _, p := range append([][]byte{[]byte(label)}, parts...) {
		binary.LittleEndian.PutUint64(b[:], uint64(len(p)))
		h.Write(b[:])
		h.Write(p)
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}

// u64 is the first 8 bytes of d.
func u64(d [sha256.Size]byte) uint64 { return binary.BigEndian.Uint64(d[:8]) }

// unit maps d to a uniform float in [0,1).
func unit(d [sha256.Size]byte) float64 { return float64(u64(d)>>11) / (1 << 53) }

// hexID is n bytes of d in hex.
func hexID(d [sha256.Size]byte, n int) string { return hex.EncodeToString(d[:n]) }

// itob encodes n for hashing.
func itob(n int) []byte { return binary.LittleEndian.AppendUint64(nil, uint64(n)) }

// isReasoningModel reports whether model emits reasoning tokens and a
// reasoning item.
func isReasoningModel(model string) bool {
	for _, p := range []string{"gpt-5", "o1", "o3", "o4"} {
		if strings.HasPrefix(model, p) {
			return true
		}
	}
	return false
}

// ceilDiv4 is ceil(n/4).
func ceilDiv4(n int) int64 { return int64((n + 3) / 4) }

// prompt is what an answer depends on, read from any endpoint's request.
type prompt struct {
	input       []byte     // the request's input (Responses input, chat messages); the text depends on it alone
	format      textFormat // the output format asked for
	inputTokens int64      // the request's input token count
	maxOutput   *int64     // the output token cap, if the request sets one
}

// outputText is the answer to p: a label, or JSON for a json_object or
// json_schema format. It depends on the seed, the input and the format only.
func outputText(seed int64, p prompt) string {
	input := p.input
	var buf bytes.Buffer
	if json.Compact(&buf, input) == nil {
		input = buf.Bytes()
	}
	label := label(u64(digest(seed, "label", input)))
	switch p.format.Type {
	case "json_object":
		return `{"label":"` + label + `"}`
	case "json_schema":
		g := schemaGen{root: p.format.Schema, label: label, seed: seed, input: input}
		var out bytes.Buffer
		g.write(&out, p.format.Schema, "$", 0)
		return out.String()
	}
	return label
}

// schemaGen writes a JSON value valid for a JSON schema, deterministically.
type schemaGen struct {
	root  json.RawMessage
	label string
	seed  int64
	input []byte
}

// maxSchemaDepth bounds recursion through nested or self-referencing schemas.
const maxSchemaDepth = 24

// schemaNode is the part of a JSON schema the generator reads.
type schemaNode struct {
	Type             json.RawMessage   `json:"type"`
	Properties       json.RawMessage   `json:"properties"`
	Required         []string          `json:"required"`
	Items            json.RawMessage   `json:"items"`
	Enum             []json.RawMessage `json:"enum"`
	Const            json.RawMessage   `json:"const"`
	AnyOf            []json.RawMessage `json:"anyOf"`
	OneOf            []json.RawMessage `json:"oneOf"`
	AllOf            []json.RawMessage `json:"allOf"`
	Ref              string            `json:"$ref"`
	Minimum          *float64          `json:"minimum"`
	Maximum          *float64          `json:"maximum"`
	ExclusiveMinimum *float64          `json:"exclusiveMinimum"`
	ExclusiveMaximum *float64          `json:"exclusiveMaximum"`
	MinItems         *int              `json:"minItems"`
	MaxItems         *int              `json:"maxItems"`
}

// pick is a deterministic number for the value at path.
func (g *schemaGen) pick(path string) uint64 {
	return u64(digest(g.seed, "schema", g.input, []byte(path)))
}

func (g *schemaGen) write(buf *bytes.Buffer, schema json.RawMessage, path string, depth int) {
	if depth > maxSchemaDepth {
		buf.WriteString("null")
		return
	}
	var n schemaNode
	if firstByte(schema) != '{' || json.Unmarshal(schema, &n) != nil {
		// true, {} or something unreadable: any value will do.
		writeString(buf, g.label)
		return
	}
	switch {
	case n.Ref != "":
		g.write(buf, g.resolve(n.Ref), path, depth+1)
		return
	case n.Const != nil: // const: null decodes as "null", not nil
		buf.Write(bytes.TrimSpace(n.Const))
		return
	case len(n.Enum) > 0:
		buf.Write(bytes.TrimSpace(n.Enum[g.pick(path)%uint64(len(n.Enum))]))
		return
	case len(n.AnyOf) > 0:
		g.write(buf, firstNonNull(n.AnyOf), path, depth+1)
		return
	case len(n.OneOf) > 0:
		g.write(buf, firstNonNull(n.OneOf), path, depth+1)
		return
	case len(n.AllOf) > 0 && isNull(n.Type) && isNull(n.Properties):
		g.write(buf, n.AllOf[0], path, depth+1)
		return
	}
	switch typ := schemaType(n); typ {
	case "object":
		g.writeObject(buf, n, path, depth)
	case "array":
		count := 1
		if n.MinItems != nil {
			count = max(count, min(*n.MinItems, 5))
		}
		if n.MaxItems != nil {
			count = min(count, max(*n.MaxItems, 0))
		}
		buf.WriteByte('[')
		for i := range count {
			if i > 0 {
				buf.WriteByte(',')
			}
			g.write(buf, n.Items, path+"["+strconv.Itoa(i)+"]", depth+1)
		}
		buf.WriteByte(']')
	case "integer":
		lo, hi := bounds(n)
		v := lo + int64(g.pick(path)%uint64(hi-lo+1))
		buf.WriteString(strconv.FormatInt(v, 10))
	case "number":
		lo, hi := bounds(n)
		h := g.pick(path)
		v := float64(lo + int64(h%uint64(hi-lo+1)))
		if h>>32&1 == 1 && v+0.5 <= float64(hi) {
			v += 0.5
		}
		buf.WriteString(strconv.FormatFloat(v, 'f', -1, 64))
	case "boolean":
		buf.WriteString(strconv.FormatBool(g.pick(path)&1 == 1))
	case "null":
		buf.WriteString("null")
	default:
		writeString(buf, g.label)
	}
}

// writeObject writes every property, in the schema's order, then any
// required key that has no property schema.
func (g *schemaGen) writeObject(buf *bytes.Buffer, n schemaNode, path string, depth int) {
	keys, props := orderedProperties(n.Properties)
	for _, r := range n.Required {
		if _, ok := props[r]; !ok {
			keys = append(keys, r)
			props[r] = nil
		}
	}
	buf.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			buf.WriteByte(',')
		}
		writeString(buf, k)
		buf.WriteByte(':')
		g.write(buf, props[k], path+"."+k, depth+1)
	}
	buf.WriteByte('}')
}

// resolve follows a local "#/..." reference into the root schema; anything
// else resolves to the empty schema.
func (g *schemaGen) resolve(ref string) json.RawMessage {
	if ref == "#" {
		return g.root
	}
	rest, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil
	}
	cur := g.root
	for _, tok := range strings.Split(rest, "/") {
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		var m map[string]json.RawMessage
		if json.Unmarshal(cur, &m) != nil {
			return nil
		}
		cur = m[tok]
	}
	return cur
}

// schemaType is the node's first non-null type, or one implied by its keys.
func schemaType(n schemaNode) string {
	var one string
	var many []string
	if json.Unmarshal(n.Type, &one) == nil && one != "" {
		return one
	}
	if json.Unmarshal(n.Type, &many) == nil {
		for _, t := range many {
			if t != "null" {
				return t
			}
		}
		if len(many) > 0 {
			return "null"
		}
	}
	switch {
	case !isNull(n.Properties):
		return "object"
	case !isNull(n.Items):
		return "array"
	}
	return "string"
}

// firstNonNull picks the first alternative that is not just {"type":"null"}.
func firstNonNull(alts []json.RawMessage) json.RawMessage {
	for _, a := range alts {
		var n schemaNode
		if json.Unmarshal(a, &n) == nil && schemaType(n) == "null" && n.Ref == "" && len(n.Enum) == 0 {
			continue
		}
		return a
	}
	return alts[0]
}

// bounds is the range of small numbers to choose from: 0..9 unless the
// schema's minimum and maximum say otherwise; never more than 10 values.
func bounds(n schemaNode) (lo, hi int64) {
	var hasLo, hasHi bool
	if n.Minimum != nil {
		lo, hasLo = int64(math.Ceil(*n.Minimum)), true
	}
	if n.ExclusiveMinimum != nil {
		if l := int64(math.Floor(*n.ExclusiveMinimum)) + 1; !hasLo || l > lo {
			lo, hasLo = l, true
		}
	}
	if n.Maximum != nil {
		hi, hasHi = int64(math.Floor(*n.Maximum)), true
	}
	if n.ExclusiveMaximum != nil {
		if h := int64(math.Ceil(*n.ExclusiveMaximum)) - 1; !hasHi || h < hi {
			hi, hasHi = h, true
		}
	}
	switch {
	case !hasLo && !hasHi:
		lo, hi = 0, 9
	case !hasHi:
		hi = lo + 9
	case !hasLo && hi >= 0:
		lo = 0
	case !hasLo:
		lo = hi - 9
	}
	if hi < lo {
		hi = lo
	}
	hi = min(hi, lo+9)
	return lo, hi
}

// orderedProperties decodes a "properties" object, keeping key order.
func orderedProperties(raw json.RawMessage) ([]string, map[string]json.RawMessage) {
	props := map[string]json.RawMessage{}
	if firstByte(raw) != '{' {
		return nil, props
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil {
		return nil, props
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		k, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			break
		}
		if _, dup := props[k]; !dup {
			keys = append(keys, k)
		}
		props[k] = v
	}
	return keys, props
}

func writeString(buf *bytes.Buffer, s string) {
	b, _ := json.Marshal(s)
	buf.Write(b)
}

// usage holds one answer's token counts.
type usage struct {
	input, cached, output, reasoning int64
}

// shape encodes u in the "openai", "chat" or "deepseek" usage shape.
func (u usage) shape(name string) any {
	switch name {
	case UsageDeepSeek:
		return map[string]any{
			"prompt_tokens":             u.input,
			"prompt_cache_hit_tokens":   u.cached,
			"prompt_cache_miss_tokens":  u.input - u.cached,
			"completion_tokens":         u.output,
			"completion_tokens_details": map[string]int64{"reasoning_tokens": u.reasoning},
			"total_tokens":              u.input + u.output,
		}
	case UsageChat:
		return map[string]any{
			"prompt_tokens":             u.input,
			"prompt_tokens_details":     map[string]int64{"cached_tokens": u.cached},
			"completion_tokens":         u.output,
			"completion_tokens_details": map[string]int64{"reasoning_tokens": u.reasoning},
			"total_tokens":              u.input + u.output,
		}
	}
	return map[string]any{
		"input_tokens":          u.input,
		"input_tokens_details":  map[string]int64{"cached_tokens": u.cached},
		"output_tokens":         u.output,
		"output_tokens_details": map[string]int64{"reasoning_tokens": u.reasoning},
		"total_tokens":          u.input + u.output,
	}
}

// inputTokens is the deterministic input token count of req.
func inputTokens(req *request) int64 {
	b, msgs := req.inputText()
	return textTokens(b, msgs)
}

// textTokens is the token estimate every endpoint uses: a quarter of the
// text's bytes, rounded up, plus 4 for each message.
func textTokens(textBytes, messages int) int64 {
	return ceilDiv4(textBytes) + 4*int64(messages)
}

// prompt is what req's answer depends on.
func (req *request) prompt() prompt {
	return prompt{input: req.Input, format: req.format, inputTokens: inputTokens(req), maxOutput: req.MaxOutputTokens}
}

// answer is a 200 answer's content.
type answer struct {
	status string // "completed" or "incomplete"
	text   string // visible text; "" with no message item
	usage  usage
}

// compose decides the answer to p. forceIncomplete is the Incomplete
// fault: the text is cut in half and the answer marked incomplete.
func compose(seed int64, body []byte, p prompt, model string, forceIncomplete bool) answer {
	text := outputText(seed, p)
	u := usage{input: p.inputTokens}
	if u.input >= 4 && u64(digest(seed, "cached", body))&1 == 1 {
		u.cached = u.input / 4
	}
	if isReasoningModel(model) {
		u.reasoning = 16 + int64(u64(digest(seed, "reasoning", body))%48)
	}
	u.output = ceilDiv4(len(text)) + u.reasoning
	a := answer{status: "completed", text: text, usage: u}
	if forceIncomplete {
		a.status = "incomplete"
		a.text = text[:len(text)/2]
		if m := p.maxOutput; m != nil {
			a.usage.output = *m
			a.usage.reasoning = min(a.usage.reasoning, *m)
		}
		return a
	}
	if m := p.maxOutput; m != nil && u.output > *m {
		a.status = "incomplete"
		a.usage.output = *m
		a.usage.reasoning = min(u.reasoning, *m)
		visible := int(*m-a.usage.reasoning) * 4
		a.text = text[:min(len(text), visible)]
	}
	return a
}

// responseObject is the wire shape of a Response.
type responseObject struct {
	ID                 string          `json:"id"`
	Object             string          `json:"object"`
	CreatedAt          int64           `json:"created_at"`
	CompletedAt        *int64          `json:"completed_at"`
	Status             string          `json:"status"`
	Background         bool            `json:"background"`
	Error              any             `json:"error"`
	IncompleteDetails  any             `json:"incomplete_details"`
	Instructions       *string         `json:"instructions"`
	MaxOutputTokens    *int64          `json:"max_output_tokens"`
	Metadata           map[string]any  `json:"metadata"`
	Model              string          `json:"model"`
	Output             []any           `json:"output"`
	ParallelToolCalls  bool            `json:"parallel_tool_calls"`
	PreviousResponseID *string         `json:"previous_response_id"`
	Reasoning          any             `json:"reasoning"`
	ServiceTier        string          `json:"service_tier"`
	Store              bool            `json:"store"`
	Temperature        float64         `json:"temperature"`
	Text               json.RawMessage `json:"text"`
	ToolChoice         json.RawMessage `json:"tool_choice"`
	Tools              json.RawMessage `json:"tools"`
	TopP               float64         `json:"top_p"`
	Truncation         string          `json:"truncation"`
	Usage              any             `json:"usage"`
}

// encodeResponse builds the response object for a answered with model.
func encodeResponse(seed int64, body []byte, req *request, model, usageShape string, a answer, created, completed int64) []byte {
	r := responseObject{
		ID:                 "resp_" + hexID(digest(seed, "resp", body), 24),
		Object:             "response",
		CreatedAt:          created,
		Status:             a.status,
		Instructions:       req.Instructions,
		MaxOutputTokens:    req.MaxOutputTokens,
		Metadata:           map[string]any{},
		Model:              model,
		Output:             []any{},
		ParallelToolCalls:  true,
		PreviousResponseID: req.PreviousResponseID,
		ServiceTier:        "default",
		Store:              true,
		Temperature:        1,
		Text:               json.RawMessage(`{"format":{"type":"text"}}`),
		ToolChoice:         json.RawMessage(`"auto"`),
		Tools:              json.RawMessage(`[]`),
		TopP:               1,
		Truncation:         "disabled",
		Usage:              a.usage.shape(usageShape),
	}
	for k, v := range req.Metadata {
		r.Metadata[k] = v
	}
	if req.Background != nil {
		r.Background = *req.Background
	}
	if req.ParallelToolCalls != nil {
		r.ParallelToolCalls = *req.ParallelToolCalls
	}
	if req.Store != nil {
		r.Store = *req.Store
	}
	if req.Temperature != nil {
		r.Temperature = *req.Temperature
	}
	if req.TopP != nil {
		r.TopP = *req.TopP
	}
	if req.Truncation != nil {
		r.Truncation = *req.Truncation
	}
	if !isNull(req.Text) {
		r.Text = req.Text
	}
	if !isNull(req.ToolChoice) {
		r.ToolChoice = req.ToolChoice
	}
	if !isNull(req.Tools) {
		r.Tools = req.Tools
	}
	reasoning := isReasoningModel(model)
	if reasoning {
		r.Reasoning = map[string]any{"effort": "medium", "summary": nil}
		if !isNull(req.Reasoning) {
			r.Reasoning = req.Reasoning
		}
		r.Output = append(r.Output, map[string]any{
			"type":    "reasoning",
			"id":      "rs_" + hexID(digest(seed, "rs", body), 24),
			"summary": []any{},
		})
	}
	if a.status == "completed" {
		r.CompletedAt = &completed
	} else {
		r.IncompleteDetails = map[string]string{"reason": "max_output_tokens"}
	}
	if a.text != "" || a.status == "completed" {
		r.Output = append(r.Output, map[string]any{
			"id":     "msg_" + hexID(digest(seed, "msg", body), 24),
			"type":   "message",
			"role":   "assistant",
			"status": a.status,
			"content": []any{map[string]any{
				"type":        "output_text",
				"text":        a.text,
				"annotations": []any{},
				"logprobs":    []any{},
			}},
		})
	}
	b, _ := json.Marshal(r)
	return b
}
