// Package api is the seam between llmbatch's core and the endpoints it
// talks to. An API is one OpenAI-compatible endpoint (/v1/responses,
// /v1/chat/completions, /v1/embeddings): it owns its path, how a row's
// prompt goes into a request body, what a request will cost before it is
// sent, and how a 2xx answer decodes into one normalised Result. Everything
// else (HTTP transport, auth, status classification, retries, pacing, the
// journal) is shared and knows no API.
//
// Adding an API is one package implementing API and one line in the
// registry of package pipeline.
package api

import (
	"encoding/json"

	"github.com/llmbatch/llmbatch/io/tokens"
)

// API is one endpoint. Implementations are stateless values, safe for
// concurrent use.
type API interface {
	// Name is the endpoint's name on the command line (--endpoint).
	Name() string
	// Path is the request path below the base URL, e.g. "/responses".
	Path() string
	// OutputCap is the name of the body field that caps output tokens
	// ("max_output_tokens"), or "" for an API whose answers have no
	// output tokens.
	OutputCap() string
	// Fill puts a row's prompt into body, which holds the job's other
	// fields already: prompt is a string, or a JSON array read from the
	// row (messages, input items); instructions, when not nil, is the
	// rendered system text. An error is the row's.
	Fill(body map[string]any, prompt any, instructions *string) error
	// Meter says what body will cost before it is sent. It never fails:
	// what it cannot read it estimates high (see Meter).
	Meter(body []byte, c *tokens.Counter) Meter
	// Decode reads a 2xx answer's body. An error means the body is not
	// this API's answer object; Result then holds what could be read of
	// it (usage, model), since the answer was paid for.
	Decode(body []byte) (Result, error)
}

// Meter is a request's cost as known before it is sent.
type Meter struct {
	Model string
	// InputTokens estimates the input tokens billed (io/tokens); a body
	// the counter cannot read counts a token per 4 bytes.
	InputTokens int64
	// MaxOutput is the body's output cap, -1 when it sets none, 0 for an
	// API without output tokens.
	MaxOutput int64
}

// Result is an answer decoded into the form every API shares.
type Result struct {
	Status     string // the answer's own status ("completed", "incomplete", ...), informative
	Model      string
	OutputText string
	Usage      Usage
	// Body, when set, is the row's own answer body, journalled in place of
	// the whole answer: a packed request's share of it (see Packer).
	Body json.RawMessage
	// Failure, when not nil, says why the answer does not complete its
	// row (an incomplete or failed response, a refusal, a cut-off chat
	// completion).
	Failure *Failure
}

// Failure is why a decoded answer does not complete its row.
type Failure struct {
	Code    string
	Type    string // the server's error type, when it gave one
	Message string
	// Retryable is set when the same request may succeed later (a
	// response failed with server_error).
	Retryable bool
}

// Codes the APIs give to failures that carry none of their own.
const (
	CodeIncomplete  = "incomplete"      // output cut short (max tokens, content filter)
	CodeFailed      = "response_failed" // the server says it failed, without a code
	CodeRefused     = "refused"         // the model refused
	CodeBadStatus   = "unexpected_status"
	CodeNotResponse = "not_a_response" // valid JSON, but not the API's answer object
)

// Packer is implemented by an API that sends several rows in one request
// (embeddings). The rows packed together have bodies equal but for the
// packed field.
type Packer interface {
	// Pack joins the bodies of rows into one request body.
	Pack(bodies [][]byte) ([]byte, error)
	// Unpack splits a 2xx answer to a packed request into one Result per
	// row, in the order the rows were packed. weights are the rows'
	// shares (e.g. their input lengths): usage is split in proportion to
	// them, so that the rows' usages sum exactly to the request's.
	Unpack(body []byte, weights []int64) ([]Result, error)
}

// Partial reads what it can of an answer that is not the API's object:
// model and usage, since it was paid for.
func Partial(body []byte) Result {
	var u struct {
		Model string          `json:"model"`
		Usage json.RawMessage `json:"usage"`
	}
	var r Result
	if json.Unmarshal(body, &u) == nil {
		r.Model = u.Model
		r.Usage, _ = ParseUsage(u.Usage)
	}
	return r
}

// Split divides n into len(weights) parts in proportion to weights that
// sum exactly to n (largest remainder; equal parts when every weight is
// 0). Ties go to the earlier part.
func Split(n int64, weights []int64) []int64 {
	parts := make([]int64, len(weights))
	if len(weights) == 0 {
		return parts
	}
	var sum int64
	for _, w := range weights {
		sum += max(w, 0)
	}
	if sum == 0 {
		weights = make([]int64, len(parts))
		for i := range weights {
			weights[i] = 1
		}
		sum = int64(len(weights))
	}
	rem := make([]int64, len(parts))
	var given int64
	for i, w := range weights {
		w = max(w, 0)
		// n*w may overflow for huge n; split the product.
		q, r := n/sum, n%sum
		parts[i] = q*w + (r*w)/sum
		rem[i] = (r * w) % sum
		given += parts[i]
	}
	for left := n - given; left > 0; left-- {
		best := 0
		for i := range rem {
			if rem[i] > rem[best] {
				best = i
			}
		}
		parts[best]++
		rem[best] = -1
	}
	return parts
}

// StreamDecoder is implemented by an API that can read what a server-sent
// event stream answer says (an answer to a request with "stream": true,
// which llmbatch refuses but a server may send anyway): the Result of its
// terminal event and that event's object, ok false when none arrived.
type StreamDecoder interface {
	DecodeStream(raw []byte) (r Result, body json.RawMessage, ok bool)
}

// CodeString reads an error code that may be a string, a number or null
// (def when absent or empty).
func CodeString(raw json.RawMessage, def string) string {
	var s string
	if json.Unmarshal(raw, &s) == nil && s != "" {
		return s
	}
	if len(raw) > 0 && string(raw) != "null" && raw[0] != '"' {
		return string(raw)
	}
	return def
}
