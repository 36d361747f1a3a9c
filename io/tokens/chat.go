package tokens

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// chatRequest is the part of a /v1/chat/completions body that costs input
// tokens.
type chatRequest struct {
	Messages       []json.RawMessage `json:"messages"`
	ResponseFormat *struct {
		JSONSchema *struct {
			Schema json.RawMessage `json:"schema"`
		} `json:"json_schema"`
	} `json:"response_format"`
	Tools json.RawMessage `json:"tools"`
}

// ChatInputTokens estimates the prompt tokens of a /v1/chat/completions
// request body by the rule of RequestInputTokens: each message costs
// TokensPerMessage, its role and its content (a string or parts: text,
// refusal and image parts as in RequestInputTokens); ReplyPriming once;
// response_format.json_schema.schema and tools as compact JSON text.
//
// It returns an error wrapping ErrRequest if body is not a JSON object or a
// counted field has the wrong JSON type.
func (c *Counter) ChatInputTokens(body []byte) (int, error) {
	if !bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")) {
		return 0, fmt.Errorf("%w: not a JSON object", ErrRequest)
	}
	var req chatRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return 0, fmt.Errorf("%w: %v", ErrRequest, err)
	}
	n := ReplyPriming
	for i, raw := range req.Messages {
		var m struct {
			Role    string          `json:"role"`
			Content json.RawMessage `json:"content"`
		}
		if err := json.Unmarshal(raw, &m); err != nil {
			return 0, fmt.Errorf("%w: messages[%d]: %v", ErrRequest, i, err)
		}
		k, err := c.content(m.Content)
		if err != nil {
			return 0, fmt.Errorf("%w: messages[%d]: %v", ErrRequest, i, err)
		}
		n += TokensPerMessage + c.Count(m.Role) + k
	}
	if f := req.ResponseFormat; f != nil && f.JSONSchema != nil && !isNull(f.JSONSchema.Schema) {
		k, err := c.countJSON(f.JSONSchema.Schema)
		if err != nil {
			return 0, fmt.Errorf("%w: response_format.json_schema.schema: %v", ErrRequest, err)
		}
		n += k
	}
	if !isNull(req.Tools) {
		k, err := c.countJSON(req.Tools)
		if err != nil {
			return 0, fmt.Errorf("%w: tools: %v", ErrRequest, err)
		}
		n += k
	}
	return n, nil
}

// EmbeddingInputTokens counts the tokens of a /v1/embeddings request body's
// input: a string, an array of strings, or pre-tokenized arrays of token
// ids (counted by their length). Embeddings add no per-message overhead.
//
// It returns an error wrapping ErrRequest if body is not a JSON object or
// input has another shape.
func (c *Counter) EmbeddingInputTokens(body []byte) (int, error) {
	var req struct {
		Input json.RawMessage `json:"input"`
	}
	if !bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")) {
		return 0, fmt.Errorf("%w: not a JSON object", ErrRequest)
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return 0, fmt.Errorf("%w: %v", ErrRequest, err)
	}
	return c.EmbeddingInput(req.Input)
}

// EmbeddingInput counts one embeddings input value (see
// EmbeddingInputTokens).
func (c *Counter) EmbeddingInput(raw json.RawMessage) (int, error) {
	if isNull(raw) {
		return 0, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return c.Count(s), nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return 0, fmt.Errorf("%w: input is neither a string nor an array", ErrRequest)
	}
	n := 0
	for i, it := range items {
		if json.Unmarshal(it, &s) == nil {
			n += c.Count(s)
			continue
		}
		var ids []json.RawMessage
		if err := json.Unmarshal(it, &ids); err == nil {
			n += len(ids)
			continue
		}
		var id json.Number
		if json.Unmarshal(it, &id) == nil {
			n++ // one token id of a single pre-tokenized input
			continue
		}
		return 0, fmt.Errorf("%w: input[%d] is neither text nor token ids", ErrRequest, i)
	}
	return n, nil
}
