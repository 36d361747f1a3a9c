// Package chat is the /v1/chat/completions API: a row's prompt becomes a
// user message (instructions a system message before it), and an answer's
// first choice becomes the row's output.
//
// An answer whose first choice stopped for "length" or "content_filter" is
// recorded as incomplete, and one whose message carries a refusal as
// refused, as a Responses answer with status "incomplete" is: the row is
// journalled with its usage and not retried.
package chat

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/llmbatch/llmbatch/io/api"
	"github.com/llmbatch/llmbatch/io/jsonscan"
	"github.com/llmbatch/llmbatch/io/tokens"
)

// API is the chat completions endpoint. Its zero value is ready to use.
type API struct{}

// Name implements api.API.
func (API) Name() string { return "chat" }

// Path implements api.API.
func (API) Path() string { return "/chat/completions" }

// OutputCap implements api.API: max_completion_tokens (the older
// max_tokens is read too, by Meter).
func (API) OutputCap() string { return "max_completion_tokens" }

// Fill implements api.API: instructions become a system message and the
// prompt a user message; a prompt that is an array is taken as the
// messages themselves (after the system message).
func (API) Fill(body map[string]any, prompt any, instructions *string) error {
	msgs := make([]any, 0, 2)
	if instructions != nil {
		msgs = append(msgs, map[string]any{"role": "system", "content": *instructions})
	}
	switch p := prompt.(type) {
	case []any:
		msgs = append(msgs, p...)
	case string:
		msgs = append(msgs, map[string]any{"role": "user", "content": p})
	default:
		return fmt.Errorf("chat: a prompt must be text or an array of messages, not %T", prompt)
	}
	body["messages"] = msgs
	return nil
}

// Meter implements api.API.
func (API) Meter(body []byte, c *tokens.Counter) api.Meter {
	var b struct {
		Model               string `json:"model"`
		MaxCompletionTokens *int64 `json:"max_completion_tokens"`
		MaxTokens           *int64 `json:"max_tokens"`
	}
	_ = json.Unmarshal(body, &b)
	m := api.Meter{Model: b.Model, MaxOutput: -1, InputTokens: int64(len(body) / 4)}
	switch {
	case b.MaxCompletionTokens != nil && *b.MaxCompletionTokens >= 0:
		m.MaxOutput = *b.MaxCompletionTokens
	case b.MaxTokens != nil && *b.MaxTokens >= 0:
		m.MaxOutput = *b.MaxTokens
	}
	if c != nil {
		if n, err := c.ChatInputTokens(body); err == nil {
			m.InputTokens = int64(n)
		}
	}
	return m
}

// answer is the part of a chat.completion object that is read.
type answer struct {
	Object  string         `json:"object"`
	Model   string         `json:"model"`
	Usage   *api.WireUsage `json:"usage"`
	Choices []choice       `json:"choices"`
}

type choice struct {
	FinishReason string   `json:"finish_reason"`
	Message      *message `json:"message"`
}

type message struct {
	Content json.RawMessage `json:"content"`
	Refusal *string         `json:"refusal"`
}

// Decode implements api.API.
func (API) Decode(body []byte) (api.Result, error) {
	a, ok := scan(body)
	if !ok {
		var slow answer // its own variable: only this path allocates it
		if err := json.Unmarshal(body, &slow); err != nil {
			return api.Partial(body), err
		}
		a = slow
	}
	r := api.Result{Model: a.Model, Status: "completed", Usage: a.Usage.Usage()}
	if len(a.Choices) == 0 || a.Choices[0].Message == nil {
		return r, errors.New("no choices[0].message: not a chat completion")
	}
	ch := a.Choices[0]
	r.OutputText = content(ch.Message.Content)
	switch {
	case ch.Message.Refusal != nil && *ch.Message.Refusal != "":
		r.Status = "refused"
		r.Failure = &api.Failure{Code: api.CodeRefused, Message: "the model refused: " + *ch.Message.Refusal}
	case ch.FinishReason == "length" || ch.FinishReason == "content_filter":
		r.Status = "incomplete"
		r.Failure = &api.Failure{Code: api.CodeIncomplete, Message: "completion incomplete: finish_reason " + ch.FinishReason}
	}
	return r, nil
}

// content reads a message's content: a string, null, or an array of text
// parts (joined).
func content(raw json.RawMessage) string {
	if s, ok := jsonscan.String(raw); ok {
		return s
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if json.Unmarshal(raw, &parts) != nil {
		return ""
	}
	for _, p := range parts {
		if p.Type == "text" || p.Type == "output_text" {
			s += p.Text
		}
	}
	return s
}
