package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
)

// request is the part of a CreateResponse body the simulator reads or echoes.
type request struct {
	Model              *string           `json:"model"`
	Input              json.RawMessage   `json:"input"`
	Instructions       *string           `json:"instructions"`
	MaxOutputTokens    *int64            `json:"max_output_tokens"`
	Temperature        *float64          `json:"temperature"`
	TopP               *float64          `json:"top_p"`
	Metadata           map[string]string `json:"metadata"`
	Text               json.RawMessage   `json:"text"`
	Tools              json.RawMessage   `json:"tools"`
	ToolChoice         json.RawMessage   `json:"tool_choice"`
	ParallelToolCalls  *bool             `json:"parallel_tool_calls"`
	Store              *bool             `json:"store"`
	Reasoning          json.RawMessage   `json:"reasoning"`
	ServiceTier        *string           `json:"service_tier"`
	Truncation         *string           `json:"truncation"`
	PreviousResponseID *string           `json:"previous_response_id"`
	Background         *bool             `json:"background"`

	format textFormat // decoded from Text
}

// textFormat is text.format of a request.
type textFormat struct {
	Type   string          `json:"type"`
	Name   string          `json:"name"`
	Schema json.RawMessage `json:"schema"`
}

// inputItem is one element of an array input.
type inputItem struct {
	Type      string          `json:"type"`
	Role      string          `json:"role"`
	Content   json.RawMessage `json:"content"`
	Output    json.RawMessage `json:"output"`
	Arguments string          `json:"arguments"`
}

// contentPart is one element of a message's content array.
type contentPart struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// isNull reports whether raw is absent or the JSON null.
func isNull(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || bytes.Equal(raw, []byte("null"))
}

// firstByte is raw's first non-space byte, or 0.
func firstByte(raw json.RawMessage) byte {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return 0
	}
	return raw[0]
}

// parseRequest decodes and checks a request body. A non-nil *apiError is
// the 400 answer.
func parseRequest(body []byte) (*request, *apiError) {
	var req request
	if aerr := decodeObject(body, &req); aerr != nil {
		return nil, aerr
	}
	if isNull(req.Input) {
		return nil, invalidRequest("Missing required parameter: 'input'.", "input")
	}
	switch firstByte(req.Input) {
	case '"', '[':
	default:
		return nil, invalidRequest("Invalid type for 'input': expected a string or an array of input items.", "input")
	}
	if firstByte(req.Input) == '[' {
		var items []json.RawMessage
		if err := json.Unmarshal(req.Input, &items); err != nil {
			return nil, invalidRequest("Invalid 'input': "+err.Error(), "input")
		}
		for i, it := range items {
			if firstByte(it) != '{' {
				p := fmt.Sprintf("input[%d]", i)
				return nil, invalidRequest(fmt.Sprintf("Invalid type for '%s': expected an input item object.", p), p)
			}
		}
	}
	if req.Background != nil && *req.Background && req.Store != nil && !*req.Store {
		return nil, invalidRequest("Background mode requires the response to be stored: 'store' must be true (its default) when 'background' is true.", "store")
	}
	if m := req.MaxOutputTokens; m != nil && *m < 1 {
		return nil, invalidRequest(fmt.Sprintf("Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 1, but got %d instead.", *m), "max_output_tokens")
	}
	if !isNull(req.Text) {
		var t struct {
			Format *textFormat `json:"format"`
		}
		if err := json.Unmarshal(req.Text, &t); err != nil {
			return nil, invalidRequest("Invalid 'text': "+err.Error(), "text")
		}
		if t.Format != nil {
			req.format = *t.Format
		}
		if req.format.Type == "json_schema" && isNull(req.format.Schema) {
			return nil, invalidRequest("Missing required parameter: 'text.format.schema'.", "text.format.schema")
		}
	}
	return &req, nil
}

// jsonKind names the JSON type that decodes into t.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int64:
		return "an integer"
	case reflect.Float64:
		return "a number"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Slice:
		return "an array"
	}
	return t.String()
}

// inputText sums the bytes of all text in the instructions and input, and
// counts messages: a string input is one message, each message item of an
// array input is one, and instructions are one more. Text of other items
// (function call arguments and outputs) counts as bytes only.
func (r *request) inputText() (textBytes, messages int) {
	if r.Instructions != nil {
		textBytes += len(*r.Instructions)
		messages++
	}
	if firstByte(r.Input) == '"' {
		var s string
		_ = json.Unmarshal(r.Input, &s) // checked by parseRequest
		return textBytes + len(s), messages + 1
	}
	var items []inputItem
	if err := json.Unmarshal(r.Input, &items); err != nil {
		// Items of unexpected types: count what decodes one by one.
		var raws []json.RawMessage
		_ = json.Unmarshal(r.Input, &raws)
		items = items[:0]
		for _, raw := range raws {
			var it inputItem
			if json.Unmarshal(raw, &it) == nil {
				items = append(items, it)
			}
		}
	}
	for _, it := range items {
		switch it.Type {
		case "", "message":
			messages++
			textBytes += contentBytes(it.Content)
		default:
			textBytes += len(it.Arguments) + contentBytes(it.Output)
		}
	}
	return textBytes, messages
}

// contentBytes is the length of a string, or of the text of each part of
// an array of content parts.
func contentBytes(raw json.RawMessage) int {
	switch firstByte(raw) {
	case '"':
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return len(s)
		}
	case '[':
		var parts []json.RawMessage
		if json.Unmarshal(raw, &parts) != nil {
			return 0
		}
		n := 0
		for _, p := range parts {
			var cp contentPart
			if json.Unmarshal(p, &cp) == nil {
				n += len(cp.Text)
			}
		}
		return n
	}
	return 0
}

// apiError is an OpenAI error answer.
type apiError struct {
	status  int
	message string
	typ     string
	param   string // "" is null
	code    string // "" is null
}

func invalidRequest(msg, param string) *apiError {
	return &apiError{status: http.StatusBadRequest, message: msg, typ: "invalid_request_error", param: param}
}

// body encodes e as {"error":{"message","type","param","code"}}.
func (e *apiError) body() []byte {
	nullable := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	b, _ := json.Marshal(struct {
		Error struct {
			Message string  `json:"message"`
			Type    string  `json:"type"`
			Param   *string `json:"param"`
			Code    *string `json:"code"`
		} `json:"error"`
	}{Error: struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    *string `json:"code"`
	}{e.message, e.typ, nullable(e.param), nullable(e.code)}})
	return b
}
