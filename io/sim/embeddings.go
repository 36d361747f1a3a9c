package sim

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Limits of an embeddings request, as OpenAI's: more inputs, a longer input
// or more tokens in all are answered 400.
const (
	MaxEmbeddingInputs        = 2048    // inputs a request
	MaxEmbeddingInputTokens   = 8192    // estimated tokens an input
	MaxEmbeddingRequestTokens = 300_000 // estimated tokens a request
)

// EmbeddingDimensions is the default vector length of model: 3072 for
// text-embedding-3-large, 1536 for every other model.
func EmbeddingDimensions(model string) int {
	if model == "text-embedding-3-large" {
		return 3072
	}
	return 1536
}

// Embedding is the vector the simulator answers for text embedded with
// model at dims dimensions (dims <= 0: EmbeddingDimensions(model)). It is a
// function of (model, text, dims) alone: not of the seed, nor of the
// input's position in a request. It has unit length; as with OpenAI's
// text-embedding-3 models, a shorter vector is a prefix of the longer one,
// normalised again. A token-array input is embedded as the text of its
// compact JSON, e.g. Embedding(model, "[1,2,3]", dims).
func Embedding(model, text string, dims int) []float32 {
	if dims <= 0 {
		dims = EmbeddingDimensions(model)
	}
	return embedInto(make([]float32, dims), model, text)
}

// embedInto writes Embedding(model, text, len(dst)) into dst and returns
// it. The components are a fixed splitmix64 sequence seeded from the
// digest of (model, text), uniform in [-1, 1), divided by their norm: the
// sequence is generated twice, once for the norm and once for the values.
func embedInto(dst []float32, model, text string) []float32 {
	d := digest(0, "embedding", []byte(model), []byte(text))
	seed := binary.LittleEndian.Uint64(d[:8])
	var sum float64
	state := seed
	for range dst {
		x := splitmix(&state)
		sum += x * x
	}
	norm := math.Sqrt(sum)
	state = seed
	for i := range dst {
		dst[i] = float32(splitmix(&state) / norm)
	}
	return dst
}

// splitmix advances a splitmix64 state and maps its output to [-1, 1).
func splitmix(state *uint64) float64 {
	*state += 0x9e3779b97f4a7c15
	z := *state
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	z ^= z >> 31
	return float64(int64(z)) / (1 << 63)
}

// embedRequest is the part of an embeddings body the simulator reads.
type embedRequest struct {
	Model          *string         `json:"model"`
	Input          json.RawMessage `json:"input"`
	EncodingFormat *string         `json:"encoding_format"`
	Dimensions     *int            `json:"dimensions"`
	User           *string         `json:"user"`

	texts  []string // each input as the text it is embedded from
	tokens []int64  // each input's token count
}

// parseEmbeddings decodes and checks an embeddings body.
func parseEmbeddings(body []byte) (call, *apiError) {
	var req embedRequest
	if aerr := decodeObject(body, &req); aerr != nil {
		return nil, aerr
	}
	if req.Model == nil || *req.Model == "" {
		return nil, invalidRequest("Missing required parameter: 'model'.", "model")
	}
	if aerr := req.parseInput(); aerr != nil {
		return nil, aerr
	}
	if f := req.EncodingFormat; f != nil && *f != "float" && *f != "base64" {
		return nil, invalidRequest(fmt.Sprintf("Invalid value: '%s'. Supported values are: 'float' and 'base64'.", *f), "encoding_format")
	}
	if d := req.Dimensions; d != nil {
		model := *req.Model
		switch maxDims := EmbeddingDimensions(model); {
		case model == "text-embedding-ada-002":
			return nil, invalidRequest("This model does not support specifying dimensions.", "dimensions")
		case *d < 1 || *d > maxDims:
			return nil, invalidRequest(fmt.Sprintf("Invalid 'dimensions': expected a value in [1, %d] for %s, but got %d instead.", maxDims, model, *d), "dimensions")
		}
	}
	var total int64
	for i, n := range req.tokens {
		if n > MaxEmbeddingInputTokens {
			return nil, invalidRequest(fmt.Sprintf("Invalid 'input[%d]': this model's maximum context length is %d tokens, however you requested %d tokens.", i, MaxEmbeddingInputTokens, n), "input")
		}
		total += n
	}
	if total > MaxEmbeddingRequestTokens {
		e := invalidRequest(fmt.Sprintf("Requested %d tokens, max %d tokens per request", total, MaxEmbeddingRequestTokens), "")
		e.code = "max_tokens_per_request"
		return nil, e
	}
	return &req, nil
}

// parseInput reads input: a string, an array of strings, an array of
// token ids (one input) or an array of arrays of token ids.
func (req *embedRequest) parseInput() *apiError {
	const badType = "Invalid type for 'input': expected a string, an array of strings, an array of integers or an array of arrays of integers."
	switch firstByte(req.Input) {
	case 0, 'n':
		return invalidRequest("Missing required parameter: 'input'.", "input")
	case '"':
		var s string
		_ = json.Unmarshal(req.Input, &s) // a valid JSON string
		if s == "" {
			return invalidRequest("Invalid 'input': empty string. Each input must be a non-empty string or token array.", "input")
		}
		req.texts, req.tokens = []string{s}, []int64{ceilDiv4(len(s))}
		return nil
	case '[':
	default:
		return invalidRequest(badType, "input")
	}
	var items []json.RawMessage
	if err := json.Unmarshal(req.Input, &items); err != nil {
		return invalidRequest(badType, "input")
	}
	if len(items) == 0 {
		return invalidRequest("Invalid 'input': empty array. Expected an array with minimum length 1, but got an empty array instead.", "input")
	}
	if b := firstByte(items[0]); b != '"' && b != '[' {
		// One token array.
		text, n, ok := tokenArray(req.Input)
		if !ok {
			return invalidRequest(badType, "input")
		}
		req.texts, req.tokens = []string{text}, []int64{n}
		return nil
	}
	if len(items) > MaxEmbeddingInputs {
		return invalidRequest(fmt.Sprintf("Invalid 'input': maximum array length is %d, but got %d instead.", MaxEmbeddingInputs, len(items)), "input")
	}
	kind := firstByte(items[0])
	req.texts, req.tokens = make([]string, len(items)), make([]int64, len(items))
	for i, it := range items {
		p := "input[" + strconv.Itoa(i) + "]"
		if firstByte(it) != kind {
			return invalidRequest(fmt.Sprintf("Invalid type for '%s': every input must be of the same type as input[0].", p), p)
		}
		if kind == '"' {
			var s string
			if err := json.Unmarshal(it, &s); err != nil {
				return invalidRequest(fmt.Sprintf("Invalid type for '%s': expected a string.", p), p)
			}
			if s == "" {
				return invalidRequest(fmt.Sprintf("Invalid '%s': empty string. Each input must be a non-empty string or token array.", p), p)
			}
			req.texts[i], req.tokens[i] = s, ceilDiv4(len(s))
			continue
		}
		text, n, ok := tokenArray(it)
		switch {
		case !ok:
			return invalidRequest(fmt.Sprintf("Invalid type for '%s': expected an array of integers.", p), p)
		case n == 0:
			return invalidRequest(fmt.Sprintf("Invalid '%s': empty array. Each input must be a non-empty string or token array.", p), p)
		}
		req.texts[i], req.tokens[i] = text, n
	}
	return nil
}

// tokenArray reads an array of non-negative integer token ids; text is its
// compact JSON and n its length.
func tokenArray(raw json.RawMessage) (text string, n int64, ok bool) {
	var ids []int64
	if json.Unmarshal(raw, &ids) != nil {
		return "", 0, false
	}
	var b strings.Builder
	b.WriteByte('[')
	for i, id := range ids {
		if id < 0 {
			return "", 0, false
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(id, 10))
	}
	b.WriteByte(']')
	return b.String(), int64(len(ids)), true
}

func (req *embedRequest) modelName() string { return *req.Model }

func (req *embedRequest) cost() int64 {
	var c int64
	for _, n := range req.tokens {
		c += n
	}
	return c
}

// reply answers one vector per input, in input order unless
// Config.ShuffleEmbeddings; usage is the request's input tokens.
func (req *embedRequest) reply(cfg *Config, body []byte, model string, _ bool, _, _ int64) reply {
	dims := EmbeddingDimensions(model)
	if req.Dimensions != nil {
		dims = *req.Dimensions
	}
	b64 := req.EncodingFormat != nil && *req.EncodingFormat == "base64"
	order := make([]int, len(req.texts))
	for i := range order {
		order[i] = i
	}
	if cfg.ShuffleEmbeddings {
		// Fisher-Yates, drawn from the seed and the body.
		for i := len(order) - 1; i > 0; i-- {
			j := int(u64(digest(cfg.Seed, "shuffle", body, itob(i))) % uint64(i+1))
			order[i], order[j] = order[j], order[i]
		}
	}
	var buf bytes.Buffer
	perItem := 48 + 13*dims // a float is at most 13 bytes ("-0.0012345678,")
	if b64 {
		perItem = 48 + base64.StdEncoding.EncodedLen(4*dims)
	}
	buf.Grow(64 + len(order)*perItem)
	buf.WriteString(`{"object":"list","data":[`)
	vec := make([]float32, dims)
	raw := make([]byte, 0, 4*dims)
	for k, i := range order {
		if k > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString(`{"object":"embedding","index":`)
		buf.WriteString(strconv.Itoa(i))
		buf.WriteString(`,"embedding":`)
		embedInto(vec, model, req.texts[i])
		if b64 {
			raw = raw[:0]
			for _, f := range vec {
				raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(f))
			}
			buf.WriteByte('"')
			buf.Write(base64.StdEncoding.AppendEncode(buf.AvailableBuffer(), raw))
			buf.WriteByte('"')
		} else {
			buf.WriteByte('[')
			for j, f := range vec {
				if j > 0 {
					buf.WriteByte(',')
				}
				buf.Write(strconv.AppendFloat(buf.AvailableBuffer(), float64(f), 'g', -1, 32))
			}
			buf.WriteByte(']')
		}
		buf.WriteByte('}')
	}
	u := usage{input: req.cost()}
	buf.WriteString(`],"model":`)
	writeString(&buf, model)
	fmt.Fprintf(&buf, `,"usage":{"prompt_tokens":%d,"total_tokens":%d}}`, u.input, u.input)
	return reply{body: buf.Bytes(), completed: true, usage: u}
}
