// Package tokens counts tokens offline with OpenAI's o200k_base encoding
// (the GPT-4o, GPT-4.1, GPT-5 and o-series tokenizer) and estimates the input
// tokens of a /v1/responses request body, for pacing under a TPM limit and
// for pricing a job before it runs.
//
// The vocabulary is compiled into the binary (github.com/tiktoken-go/tokenizer),
// so nothing is downloaded at run time. Text counts are exact for o200k_base;
// request estimates are approximate, because the server wraps messages,
// schemas and tools in a format it does not publish (see RequestInputTokens).
package tokens

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/tiktoken-go/tokenizer/codec"
)

// Constants of the request estimate, after OpenAI's cookbook "How to count
// tokens with tiktoken" (num_tokens_from_messages for gpt-4o and later).
const (
	// TokensPerMessage is added for every message (the instructions and each
	// input message): the <|start|>role ... <|end|> framing. The role name
	// itself is counted as text on top, usually 1 token, which gives the
	// cookbook's 3–4 tokens of overhead per message.
	TokensPerMessage = 3

	// ReplyPriming is added once per request: every reply is primed with
	// <|start|>assistant<|message|>.
	ReplyPriming = 3

	// ImageTokensLow is the flat estimate for an input_image with detail
	// "low": the fixed base cost of an image for GPT-4o-class models.
	ImageTokensLow = 85

	// ImageTokensHigh is the flat estimate for any other input_image
	// (detail "high", "auto", "original" or absent): 85 + 4 tiles × 170, what
	// a 1024×1024 image costs a GPT-4o-class model at high detail. The true
	// cost depends on the image's size and the model, which an offline
	// estimate does not know.
	ImageTokensHigh = 765
)

// ErrRequest reports a request body that is not a JSON object of the
// /v1/responses shape.
var ErrRequest = errors.New("tokens: malformed request body")

// Counter counts o200k_base tokens. It is safe for concurrent use by
// multiple goroutines. Create one with New; the zero value is not usable.
type Counter struct {
	codec *codec.Codec // never mutated after New (error mode stays ErrorModeNone)
}

// New returns a Counter for the o200k_base encoding. The vocabulary is
// compiled into the binary; the first New in a process takes some
// milliseconds to build its table, later ones share it. It does no I/O; the
// error is for future encodings that might need some, and is always nil now.
func New() (*Counter, error) {
	return &Counter{codec: codec.NewO200kBase()}, nil
}

// Count returns the number of o200k_base tokens in text, as tiktoken's
// encode with special tokens treated as plain text: "<|endoftext|>" counts
// as the 7 tokens of its characters. Invalid UTF-8 is tokenized as raw
// bytes, without error.
func (c *Counter) Count(text string) int {
	n, err := c.codec.Count(text)
	if err != nil {
		// Only the library's strict UTF-8 mode returns an error, and the
		// Counter never enables it; count the bytes as a safe upper bound.
		return len(text)
	}
	return n
}

// request is the part of a CreateResponse body that costs input tokens.
type request struct {
	Instructions *string         `json:"instructions"`
	Input        json.RawMessage `json:"input"`
	Text         *struct {
		Format *struct {
			Schema json.RawMessage `json:"schema"`
		} `json:"format"`
	} `json:"text"`
	Tools json.RawMessage `json:"tools"`
}

// item is an element of the input array: a message or another item type.
type item struct {
	Type      string          `json:"type"`
	Role      string          `json:"role"`
	Content   json.RawMessage `json:"content"`
	Name      string          `json:"name"`      // function_call
	Arguments string          `json:"arguments"` // function_call
	Output    json.RawMessage `json:"output"`    // function_call_output
}

// part is an element of a message's content array.
type part struct {
	Type    string `json:"type"`
	Text    string `json:"text"`    // input_text, output_text
	Refusal string `json:"refusal"` // refusal
	Detail  string `json:"detail"`  // input_image
}

// RequestInputTokens estimates the input tokens a /v1/responses request body
// will be billed for, as the sum of:
//
//   - instructions, when non-empty, as a message: TokensPerMessage, its
//     role ("system") and its text;
//   - input as a string: one user message, TokensPerMessage, role and text;
//   - input as an array, per item: messages (type "message" or no type) cost
//     TokensPerMessage, role and content, where content is a string or parts:
//     input_text, output_text and refusal parts count their text,
//     input_image parts ImageTokensLow for detail "low" and ImageTokensHigh
//     otherwise, input_file and input_audio parts 0 (their size is not in the
//     body); function_call items cost TokensPerMessage, name and arguments,
//     function_call_output items TokensPerMessage and their output; any
//     other item (reasoning, item_reference, ...) TokensPerMessage and its
//     compact JSON text, a rough upper estimate;
//   - ReplyPriming, once;
//   - text.format.schema, as compact JSON text, when present (structured
//     outputs are billed as input);
//   - tools, as compact JSON text, when present.
//
// For text messages this is the cookbook's chat-format rule, which the
// cookbook reports as matching the prompt tokens of Chat Completions; it has
// not been checked against /v1/responses. Schemas and tools are rendered by
// the server in a format it does not publish, so their share is rougher.
// previous_response_id history is not in the body and is not counted.
//
// It returns an error wrapping ErrRequest if body is not a JSON object or a
// counted field has the wrong JSON type.
func (c *Counter) RequestInputTokens(body []byte) (int, error) {
	if !bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")) {
		return 0, fmt.Errorf("%w: not a JSON object", ErrRequest)
	}
	var req request
	if err := json.Unmarshal(body, &req); err != nil {
		return 0, fmt.Errorf("%w: %v", ErrRequest, err)
	}

	n := ReplyPriming
	if req.Instructions != nil && *req.Instructions != "" {
		n += c.message("system", *req.Instructions)
	}

	in, err := c.input(req.Input)
	if err != nil {
		return 0, err
	}
	n += in

	if req.Text != nil && req.Text.Format != nil && !isNull(req.Text.Format.Schema) {
		k, err := c.countJSON(req.Text.Format.Schema)
		if err != nil {
			return 0, fmt.Errorf("%w: text.format.schema: %v", ErrRequest, err)
		}
		n += k
	}
	if !isNull(req.Tools) {
		if bytes.TrimSpace(req.Tools)[0] != '[' {
			return 0, fmt.Errorf("%w: tools is not an array", ErrRequest)
		}
		k, err := c.countJSON(req.Tools)
		if err != nil {
			return 0, fmt.Errorf("%w: tools: %v", ErrRequest, err)
		}
		n += k
	}
	return n, nil
}

// message returns the tokens of one message with the given role and text.
func (c *Counter) message(role, text string) int {
	return TokensPerMessage + c.Count(role) + c.Count(text)
}

// input counts the input field: absent, a string or an array of items.
func (c *Counter) input(raw json.RawMessage) (int, error) {
	if isNull(raw) {
		return 0, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return c.message("user", s), nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return 0, fmt.Errorf("%w: input is neither a string nor an array", ErrRequest)
	}
	n := 0
	for i, raw := range items {
		k, err := c.item(raw)
		if err != nil {
			return 0, fmt.Errorf("%w: input[%d]: %v", ErrRequest, i, err)
		}
		n += k
	}
	return n, nil
}

// item counts one element of the input array.
func (c *Counter) item(raw json.RawMessage) (int, error) {
	var it item
	if err := json.Unmarshal(raw, &it); err != nil {
		return 0, err
	}
	switch it.Type {
	case "", "message":
		k, err := c.content(it.Content)
		if err != nil {
			return 0, err
		}
		return TokensPerMessage + c.Count(it.Role) + k, nil
	case "function_call":
		return TokensPerMessage + c.Count(it.Name) + c.Count(it.Arguments), nil
	case "function_call_output":
		var s string
		if err := json.Unmarshal(it.Output, &s); err == nil {
			return TokensPerMessage + c.Count(s), nil
		}
		k, err := c.countJSON(it.Output)
		return TokensPerMessage + k, err
	default:
		k, err := c.countJSON(raw)
		return TokensPerMessage + k, err
	}
}

// content counts a message's content: a string or an array of parts.
func (c *Counter) content(raw json.RawMessage) (int, error) {
	if isNull(raw) {
		return 0, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return c.Count(s), nil
	}
	var parts []part
	if err := json.Unmarshal(raw, &parts); err != nil {
		return 0, errors.New("content is neither a string nor an array of parts")
	}
	n := 0
	for _, p := range parts {
		switch p.Type {
		case "input_text", "output_text", "text":
			n += c.Count(p.Text)
		case "refusal":
			n += c.Count(p.Refusal)
		case "input_image":
			if p.Detail == "low" {
				n += ImageTokensLow
			} else {
				n += ImageTokensHigh
			}
		}
	}
	return n, nil
}

// countJSON counts the tokens of raw re-encoded as compact JSON, so that
// the indentation of a pretty-printed body does not count.
func (c *Counter) countJSON(raw json.RawMessage) (int, error) {
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return 0, err
	}
	return c.Count(buf.String()), nil
}

// isNull reports whether raw is absent or the JSON null.
func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}
