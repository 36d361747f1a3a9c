// Package embeddings is the /v1/embeddings API. A row's prompt text is the
// input; rows are packed several to a request (api.Packer) and each row
// gets its own record with its own vector.
//
// Requests ask for encoding_format "base64" unless the job's body says
// otherwise, as the official SDKs do: it is about a quarter of the size of
// decimal floats on the wire and in the journal. A row's journalled body is
// its share of the answer: {"object":"list","data":[its item, index 0],
// "model":...,"usage":its share}. Usage is per request; Unpack splits it
// over the packed rows in proportion to weights the caller gives (llmbatch
// gives each row's input length), largest remainder, so that the rows'
// usages sum exactly to what the request reported.
package embeddings

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/llmbatch/llmbatch/io/api"
	"github.com/llmbatch/llmbatch/io/jsonscan"
	"github.com/llmbatch/llmbatch/io/tokens"
)

// API is the embeddings endpoint. Its zero value is ready to use.
type API struct{}

// Name implements api.API.
func (API) Name() string { return "embeddings" }

// Path implements api.API.
func (API) Path() string { return "/embeddings" }

// OutputCap implements api.API: embeddings have no output tokens.
func (API) OutputCap() string { return "" }

// Fill implements api.API: the prompt, which must be text, is the input.
// Instructions have no place in an embeddings request.
func (API) Fill(body map[string]any, prompt any, instructions *string) error {
	if instructions != nil {
		return errors.New("embeddings: a request has no instructions")
	}
	s, ok := prompt.(string)
	if !ok {
		return fmt.Errorf("embeddings: the input must be text, not %T", prompt)
	}
	if s == "" {
		return errors.New("embeddings: the input is empty")
	}
	body["input"] = s
	if _, ok := body["encoding_format"]; !ok {
		body["encoding_format"] = "base64"
	}
	return nil
}

// Meter implements api.API.
func (API) Meter(body []byte, c *tokens.Counter) api.Meter {
	var b struct {
		Model string `json:"model"`
	}
	_ = json.Unmarshal(body, &b)
	m := api.Meter{Model: b.Model, InputTokens: int64(len(body) / 4)}
	if c != nil {
		if n, err := c.EmbeddingInputTokens(body); err == nil {
			m.InputTokens = int64(n)
		}
	}
	return m
}

// item is one element of an answer's data.
type item struct {
	Index     int             `json:"index"`
	Embedding json.RawMessage `json:"embedding"`
	plain     bool            // Embedding is known to be plainBase64
}

type answer struct {
	Object string          `json:"object"`
	Model  string          `json:"model"`
	Data   []item          `json:"data"`
	Usage  json.RawMessage `json:"usage"`
}

func decode(body []byte) (*answer, api.Usage, error) {
	if a, w, ok := scan(body); ok {
		if a.Data == nil {
			return a, w.Usage(), errors.New("no data: not an embeddings answer")
		}
		return a, w.Usage(), nil
	}
	var a answer
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, api.Usage{}, err
	}
	u, err := api.ParseUsage(a.Usage)
	if err != nil {
		return &a, u, fmt.Errorf("usage is not readable: %w", err)
	}
	if a.Data == nil {
		return &a, u, errors.New("no data: not an embeddings answer")
	}
	return &a, u, nil
}

// scan is decode's json.Unmarshal for the common answer, read in place
// with jsonscan (each byte once, checked as it is walked) and no
// reflection: ok is false for anything it does not read exactly as
// encoding/json would (a duplicate or case-folded key, an index that is
// not a plain integer, a field of another type), and decode then takes
// encoding/json's word.
func scan(body []byte) (*answer, *api.WireUsage, bool) {
	a := new(answer)
	var w *api.WireUsage
	end := jsonscan.FieldsAt(body, 0, 0, answerKeys, func(k, i int) int {
		if body[i] == 'n' {
			return 0 // null (or invalid, which the walk refuses): encoding/json leaves the field as it is
		}
		switch k {
		case 2:
			a.Data = make([]item, 0, 16)
			return jsonscan.ArrayAt(body, i, 1, func(j int) int {
				it, end := scanItem(body, j)
				a.Data = append(a.Data, it)
				return end
			})
		case 3:
			var end int
			w, end = api.ScanUsageAt(body, i, 1)
			if end > 0 {
				a.Usage = body[i:end]
			}
			return end
		}
		return jsonscan.Value(body, i, 1, func(v []byte) (ok bool) {
			if k == 0 {
				a.Object, ok = jsonscan.String(v)
			} else {
				a.Model, ok = jsonscan.String(v)
			}
			return ok
		})
	})
	return a, w, jsonscan.End(body, end) >= 0
}

// The members scan and scanItem read, in the order of their cases.
var (
	answerKeys = []string{"object", "model", "data", "usage"}
	itemKeys   = []string{"index", "embedding"}
)

// scanItem reads the element of an answer's data that starts at b[i] as
// encoding/json reads it into an item, and returns where it ends, or -1.
func scanItem(b []byte, i int) (it item, end int) {
	end = jsonscan.FieldsAt(b, i, 2, itemKeys, func(k, j int) int {
		if k == 1 {
			if end := plainBase64At(b, j); end > 0 {
				it.Embedding, it.plain = b[j:end], true
				return end
			}
		}
		return jsonscan.Value(b, j, 3, func(v []byte) bool {
			switch {
			case k == 1:
				it.Embedding = v // null too, as encoding/json keeps it in a RawMessage
			case !jsonscan.IsNull(v):
				n, err := strconv.Atoi(string(v))
				it.Index = n
				return err == nil
			}
			return true
		})
	})
	return it, end
}

// Decode implements api.API for an answer to one row.
func (e API) Decode(body []byte) (api.Result, error) {
	rs, err := e.Unpack(body, []int64{1})
	if err != nil {
		return api.Partial(body), err
	}
	return rs[0], nil
}

// Pack implements api.Packer: the bodies' inputs, in order, become one
// input array; the other fields are the first body's.
func (API) Pack(bodies [][]byte) ([]byte, error) {
	if len(bodies) == 0 {
		return nil, errors.New("embeddings: nothing to pack")
	}
	if out, ok := splice(bodies); ok {
		return out, nil
	}
	var first map[string]json.RawMessage
	if err := json.Unmarshal(bodies[0], &first); err != nil {
		return nil, err
	}
	inputs := make([]json.RawMessage, len(bodies))
	for i, b := range bodies {
		var in struct {
			Input json.RawMessage `json:"input"`
		}
		if err := json.Unmarshal(b, &in); err != nil {
			return nil, err
		}
		if len(in.Input) == 0 {
			return nil, fmt.Errorf("embeddings: packed body %d has no input", i)
		}
		inputs[i] = in.Input
	}
	arr, err := json.Marshal(inputs)
	if err != nil {
		return nil, err
	}
	first["input"] = arr
	return json.Marshal(first)
}

// splice is Pack for bodies that hold their input plainly (one member
// named exactly "input", compact, as llmbatch builds them): the first
// body with its input replaced by the array of every body's input, the
// bytes copied once, nothing decoded. The members keep the first body's
// order, which encoding/json's map order (the fallback's) need not be.
func splice(bodies [][]byte) ([]byte, bool) {
	first := bodies[0]
	if !jsonscan.Valid(first) {
		return nil, false
	}
	s0, e0, ok := jsonscan.Member(first, "input")
	if !ok {
		return nil, false
	}
	n := len(first) - (e0 - s0) + 1
	spans := make([][2]int, len(bodies))
	spans[0] = [2]int{s0, e0}
	for i, b := range bodies {
		if i > 0 {
			if !jsonscan.Valid(b) {
				return nil, false
			}
			s, e, ok := jsonscan.Member(b, "input")
			if !ok {
				return nil, false
			}
			spans[i] = [2]int{s, e}
		}
		n += spans[i][1] - spans[i][0] + 1
	}
	out := make([]byte, 0, n)
	out = append(out, first[:s0]...)
	for i, b := range bodies {
		if i == 0 {
			out = append(out, '[')
		} else {
			out = append(out, ',')
		}
		out = append(out, b[spans[i][0]:spans[i][1]]...)
	}
	out = append(out, ']')
	out = append(out, first[e0:]...)
	return out, true
}

// Unpack implements api.Packer. Each answer item goes to the row its index
// names, whatever the order of data; a missing, repeated or out-of-range
// index is an error (the answer cannot be matched to its rows).
func (API) Unpack(body []byte, weights []int64) ([]api.Result, error) {
	a, u, err := decode(body)
	if err != nil {
		return nil, err
	}
	n := len(weights)
	if len(a.Data) != n {
		return nil, fmt.Errorf("embeddings: %d vectors for %d inputs", len(a.Data), n)
	}
	vecs := make([][]byte, n)
	for _, it := range a.Data {
		if it.Index < 0 || it.Index >= n || vecs[it.Index] != nil {
			return nil, fmt.Errorf("embeddings: answer item index %d is out of range or repeated", it.Index)
		}
		v, err := it.Embedding, error(nil)
		if !it.plain {
			v, err = compact(v)
		}
		if err != nil {
			return nil, fmt.Errorf("embeddings: data item %d: %w", it.Index, err)
		}
		vecs[it.Index] = v
	}
	in := api.Split(u.InputTokens, weights)
	cached := api.Split(u.CachedInputTokens, weights)
	total := api.Split(u.TotalTokens, weights)
	// The rows' bodies are cut from one buffer.
	size := 0
	for _, v := range vecs {
		size += len(v) + len(a.Model) + rowBodyBytes
	}
	buf := make([]byte, 0, size)
	rs := make([]api.Result, n)
	for i := range rs {
		share := api.Usage{InputTokens: in[i], CachedInputTokens: cached[i], TotalTokens: total[i]}
		start := len(buf)
		buf = appendRowBody(buf, a.Model, vecs[i], share)
		rs[i] = api.Result{Status: "completed", Model: a.Model, Usage: share, Body: buf[start:len(buf):len(buf)]}
	}
	return rs, nil
}

// rowBodyBytes bounds what a row's body holds besides its vector and
// model.
const rowBodyBytes = 160

// appendRowBody appends a row's share of an answer, as a one-item
// embeddings list.
func appendRowBody(b []byte, model string, vec []byte, u api.Usage) []byte {
	b = append(b, `{"object":"list","data":[{"object":"embedding","index":0,"embedding":`...)
	b = append(b, vec...)
	b = append(b, `}],"model":`...)
	b = jsonscan.AppendString(b, model)
	b = append(b, `,"usage":{"prompt_tokens":`...)
	b = strconv.AppendInt(b, u.InputTokens, 10)
	b = append(b, `,"total_tokens":`...)
	b = strconv.AppendInt(b, u.TotalTokens, 10)
	return append(b, "}}"...)
}

// compact checks an embedding (a base64 string or an array of numbers)
// and returns it as JSON: base64 strings as they came, arrays re-encoded
// as base64 of little-endian float32s.
func compact(raw json.RawMessage) ([]byte, error) {
	if plainBase64(raw) {
		return raw, nil
	}
	if len(raw) == 0 || jsonscan.IsNull(raw) {
		return nil, errors.New("embedding is missing or null")
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil || len(b)%4 != 0 {
			return nil, errors.New("embedding is not base64 of float32s")
		}
		return raw, nil
	}
	var fs []float64
	if err := json.Unmarshal(raw, &fs); err != nil {
		return nil, errors.New("embedding is neither base64 nor an array of numbers")
	}
	buf := make([]byte, 4*len(fs))
	for i, f := range fs {
		binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(float32(f)))
	}
	return json.Marshal(base64.StdEncoding.EncodeToString(buf))
}

// Vector reads the vector of a row's journalled body (as Unpack writes
// it) or of any embeddings answer's first item.
func Vector(body []byte) ([]float32, error) {
	a, _, err := decode(body)
	if err != nil {
		return nil, err
	}
	if len(a.Data) == 0 {
		return nil, errors.New("embeddings: no vector")
	}
	return Decode32(a.Data[0].Embedding)
}

// Decode32 reads an embedding given as base64 of little-endian float32s or
// as an array of numbers.
func Decode32(raw json.RawMessage) ([]float32, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil || len(b)%4 != 0 {
			return nil, errors.New("embedding is not base64 of float32s")
		}
		v := make([]float32, len(b)/4)
		for i := range v {
			v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
		return v, nil
	}
	var v []float32
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, errors.New("embedding is neither base64 nor an array of numbers")
	}
	return v, nil
}

// plainBase64 reports whether raw is a JSON string of standard base64
// (no escapes, padded) whose bytes are a whole number of float32s: the
// common case, checked without decoding.
func plainBase64(raw []byte) bool {
	return len(raw) > 0 && plainBase64At(raw, 0) == len(raw)
}

// plainBase64At returns the index just after the JSON string that starts
// at b[i] when it is one plainBase64 accepts, else -1: finding where a
// vector ends and checking it is one pass over its bytes.
func plainBase64At(b []byte, i int) int {
	if i >= len(b) || b[i] != '"' {
		return -1
	}
	j := i + 1
	// Eight bytes at a time, one branch for the eight: vectors are
	// kilobytes of base64.
	for ; j+8 <= len(b); j += 8 {
		if notBase64[b[j]]|notBase64[b[j+1]]|notBase64[b[j+2]]|notBase64[b[j+3]]|
			notBase64[b[j+4]]|notBase64[b[j+5]]|notBase64[b[j+6]]|notBase64[b[j+7]] != 0 {
			break
		}
	}
	for j < len(b) && notBase64[b[j]] == 0 {
		j++
	}
	pad := 0
	for j < len(b) && b[j] == '=' && pad < 2 {
		j++
		pad++
	}
	n := j - (i + 1)
	if j >= len(b) || b[j] != '"' || n%4 != 0 || (n/4*3-pad)%4 != 0 {
		return -1
	}
	return j + 1
}

// notBase64 is 1 for every byte but the characters of standard base64
// (its padding among the 1s).
var notBase64 = func() (t [256]byte) {
	for c := range t {
		t[c] = 1
	}
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") {
		t[c] = 0
	}
	return t
}()
