package sim

import (
	"encoding/json"
	"errors"
	"fmt"
)

// maxChoices is the largest n a chat completion request may ask for.
const maxChoices = 128

// chatRequest is the part of a chat completion body the simulator reads.
type chatRequest struct {
	Model               *string         `json:"model"`
	Messages            json.RawMessage `json:"messages"`
	MaxCompletionTokens *int64          `json:"max_completion_tokens"`
	MaxTokens           *int64          `json:"max_tokens"`
	ResponseFormat      json.RawMessage `json:"response_format"`
	Temperature         *float64        `json:"temperature"`
	TopP                *float64        `json:"top_p"`
	N                   *int            `json:"n"`
	ServiceTier         *string         `json:"service_tier"`

	format    textFormat
	textBytes int // bytes of message text
	messages  int
}

// chatMessage is one element of messages.
type chatMessage struct {
	Role    *string         `json:"role"`
	Content json.RawMessage `json:"content"`
}

// chatRoles are the message roles the API accepts.
var chatRoles = map[string]bool{"system": true, "developer": true, "user": true, "assistant": true, "tool": true, "function": true}

// parseChat decodes and checks a chat completion body.
func parseChat(body []byte) (call, *apiError) {
	var req chatRequest
	if aerr := decodeObject(body, &req); aerr != nil {
		return nil, aerr
	}
	if req.Model == nil || *req.Model == "" {
		return nil, invalidRequest("Missing required parameter: 'model'.", "model")
	}
	if isNull(req.Messages) {
		return nil, invalidRequest("Missing required parameter: 'messages'.", "messages")
	}
	var msgs []json.RawMessage
	if firstByte(req.Messages) != '[' || json.Unmarshal(req.Messages, &msgs) != nil {
		return nil, invalidRequest("Invalid type for 'messages': expected an array of objects.", "messages")
	}
	if len(msgs) == 0 {
		return nil, invalidRequest("Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.", "messages")
	}
	for i, raw := range msgs {
		p := fmt.Sprintf("messages[%d]", i)
		var m chatMessage
		if firstByte(raw) != '{' || json.Unmarshal(raw, &m) != nil {
			return nil, invalidRequest(fmt.Sprintf("Invalid type for '%s': expected an object.", p), p)
		}
		switch {
		case m.Role == nil:
			return nil, invalidRequest(fmt.Sprintf("Missing required parameter: '%s.role'.", p), p+".role")
		case !chatRoles[*m.Role]:
			return nil, invalidRequest(fmt.Sprintf("Invalid value: '%s'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'.", *m.Role), p+".role")
		}
		switch firstByte(m.Content) {
		case '"', '[':
		case 0, 'n':
			if *m.Role != "assistant" {
				return nil, invalidRequest(fmt.Sprintf("Missing required parameter: '%s.content'.", p), p+".content")
			}
		default:
			return nil, invalidRequest(fmt.Sprintf("Invalid type for '%s.content': expected one of a string or array of objects.", p), p+".content")
		}
		req.messages++
		req.textBytes += contentBytes(m.Content)
	}
	for _, f := range []struct {
		name string
		v    *int64
	}{{"max_completion_tokens", req.MaxCompletionTokens}, {"max_tokens", req.MaxTokens}} {
		if f.v != nil && *f.v < 1 {
			return nil, invalidRequest(fmt.Sprintf("Invalid '%s': integer below minimum value. Expected a value >= 1, but got %d instead.", f.name, *f.v), f.name)
		}
	}
	if n := req.N; n != nil && (*n < 1 || *n > maxChoices) {
		return nil, invalidRequest(fmt.Sprintf("Invalid 'n': expected a value in [1, %d], but got %d instead.", maxChoices, *n), "n")
	}
	if aerr := req.parseFormat(); aerr != nil {
		return nil, aerr
	}
	return &req, nil
}

// parseFormat reads response_format into req.format.
func (req *chatRequest) parseFormat() *apiError {
	if isNull(req.ResponseFormat) {
		return nil
	}
	var f struct {
		Type       *string `json:"type"`
		JSONSchema *struct {
			Name   *string         `json:"name"`
			Schema json.RawMessage `json:"schema"`
			Strict *bool           `json:"strict"`
		} `json:"json_schema"`
	}
	if firstByte(req.ResponseFormat) != '{' || json.Unmarshal(req.ResponseFormat, &f) != nil {
		return invalidRequest("Invalid type for 'response_format': expected an object with a 'type'.", "response_format")
	}
	if f.Type == nil {
		return invalidRequest("Missing required parameter: 'response_format.type'.", "response_format.type")
	}
	switch *f.Type {
	case "text", "json_object":
	case "json_schema":
		switch {
		case f.JSONSchema == nil:
			return invalidRequest("Missing required parameter: 'response_format.json_schema'.", "response_format.json_schema")
		case f.JSONSchema.Name == nil || *f.JSONSchema.Name == "":
			return invalidRequest("Missing required parameter: 'response_format.json_schema.name'.", "response_format.json_schema.name")
		}
		req.format.Name = *f.JSONSchema.Name
		req.format.Schema = f.JSONSchema.Schema
	default:
		return invalidRequest(fmt.Sprintf("Invalid value: '%s'. Supported values are: 'json_object', 'json_schema', and 'text'.", *f.Type), "response_format.type")
	}
	req.format.Type = *f.Type
	return nil
}

// decodeObject decodes a JSON object body into v, with the Responses
// handler's 400s for a body that is not JSON, not an object, or has a field
// of the wrong type.
func decodeObject(body []byte, v any) *apiError {
	if !json.Valid(body) {
		return invalidRequest("We could not parse the JSON body of your request. The API expects a JSON object as the request body.", "")
	}
	if firstByte(body) != '{' {
		return invalidRequest("The request body must be a JSON object.", "")
	}
	if err := json.Unmarshal(body, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return invalidRequest(fmt.Sprintf("Invalid type for '%s': expected %s, but got %s.", te.Field, jsonKind(te.Type), te.Value), te.Field)
		}
		return invalidRequest("Invalid request body: "+err.Error(), "")
	}
	return nil
}

func (req *chatRequest) modelName() string { return *req.Model }

// maxOutput is max_completion_tokens, or the older max_tokens.
func (req *chatRequest) maxOutput() *int64 {
	if req.MaxCompletionTokens != nil {
		return req.MaxCompletionTokens
	}
	return req.MaxTokens
}

// choices is n, default 1.
func (req *chatRequest) choices() int {
	if req.N == nil {
		return 1
	}
	return *req.N
}

func (req *chatRequest) prompt() prompt {
	return prompt{input: req.Messages, format: req.format, inputTokens: textTokens(req.textBytes, req.messages), maxOutput: req.maxOutput()}
}

func (req *chatRequest) cost() int64 {
	c := textTokens(req.textBytes, req.messages)
	if m := req.maxOutput(); m != nil {
		c += *m * int64(req.choices())
	}
	return c
}

// chatCompletion is the wire shape of a chat completion.
type chatCompletion struct {
	ID                string       `json:"id"`
	Object            string       `json:"object"`
	Created           int64        `json:"created"`
	Model             string       `json:"model"`
	Choices           []chatChoice `json:"choices"`
	Usage             any          `json:"usage"`
	ServiceTier       string       `json:"service_tier"`
	SystemFingerprint string       `json:"system_fingerprint"`
}

type chatChoice struct {
	Index        int             `json:"index"`
	Message      chatAnswer      `json:"message"`
	Logprobs     json.RawMessage `json:"logprobs"`
	FinishReason string          `json:"finish_reason"`
}

type chatAnswer struct {
	Role        string  `json:"role"`
	Content     string  `json:"content"`
	Refusal     *string `json:"refusal"`
	Annotations []any   `json:"annotations"`
}

// reply answers with n identical choices; an incomplete answer (the
// Incomplete fault, or an output cap below the answer's length) has
// finish_reason "length". Usage counts every choice's output.
func (req *chatRequest) reply(cfg *Config, body []byte, model string, incomplete bool, created, _ int64) reply {
	a := compose(cfg.Seed, body, req.prompt(), model, incomplete)
	finish := "stop"
	if a.status != "completed" {
		finish = "length"
	}
	n := req.choices()
	a.usage.output *= int64(n)
	a.usage.reasoning *= int64(n)
	cc := chatCompletion{
		ID:                "chatcmpl-" + hexID(digest(cfg.Seed, "chatcmpl", body), 16),
		Object:            "chat.completion",
		Created:           created,
		Model:             model,
		Choices:           make([]chatChoice, n),
		Usage:             a.usage.shape(chatUsageShape(cfg.Usage)),
		ServiceTier:       "default",
		SystemFingerprint: "fp_" + hexID(digest(cfg.Seed, "fingerprint", []byte(model)), 5),
	}
	if req.ServiceTier != nil && *req.ServiceTier != "" && *req.ServiceTier != "auto" {
		cc.ServiceTier = *req.ServiceTier
	}
	for i := range cc.Choices {
		cc.Choices[i] = chatChoice{
			Index:        i,
			Message:      chatAnswer{Role: "assistant", Content: a.text, Annotations: []any{}},
			Logprobs:     json.RawMessage("null"),
			FinishReason: finish,
		}
	}
	b, _ := json.Marshal(cc)
	return reply{body: b, completed: finish == "stop", usage: a.usage}
}

// chatUsageShape is the usage shape of chat completions for Config.Usage:
// the Chat Completions shape, or DeepSeek's variant of it.
func chatUsageShape(usage string) string {
	if usage == UsageDeepSeek {
		return UsageDeepSeek
	}
	return UsageChat
}
