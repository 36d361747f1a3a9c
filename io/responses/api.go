package responses

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/llmbatch/llmbatch/io/api"
	"github.com/llmbatch/llmbatch/io/tokens"
)

// API is the /v1/responses API. Its zero value is ready to use.
type API struct{}

// Name implements api.API.
func (API) Name() string { return "responses" }

// Path implements api.API.
func (API) Path() string { return "/responses" }

// OutputCap implements api.API.
func (API) OutputCap() string { return "max_output_tokens" }

// Fill implements api.API: the prompt is the input (a string, or an array
// of input items as read from the row), instructions the instructions.
func (API) Fill(body map[string]any, prompt any, instructions *string) error {
	switch prompt.(type) {
	case string, []any:
	default:
		return fmt.Errorf("responses: a prompt must be text or an array of input items, not %T", prompt)
	}
	body["input"] = prompt
	if instructions != nil {
		body["instructions"] = *instructions
	}
	return nil
}

// Meter implements api.API.
func (API) Meter(body []byte, c *tokens.Counter) api.Meter {
	var b struct {
		Model           string `json:"model"`
		MaxOutputTokens *int64 `json:"max_output_tokens"`
	}
	_ = json.Unmarshal(body, &b)
	m := api.Meter{Model: b.Model, MaxOutput: -1, InputTokens: int64(len(body) / 4)}
	if b.MaxOutputTokens != nil && *b.MaxOutputTokens >= 0 {
		m.MaxOutput = *b.MaxOutputTokens
	}
	if c != nil {
		if n, err := c.RequestInputTokens(body); err == nil {
			m.InputTokens = int64(n)
		}
	}
	return m
}

// Decode implements api.API: a response object. Status "completed" (or
// none) completes the row; "incomplete" and "failed" are failures, the
// latter retryable for server_error and rate_limit_exceeded; any other
// status is unexpected. A completed response whose message carries a
// refusal part ({"type": "refusal", "refusal": "..."}, as structured
// output answers a request the model declines) and no output text is
// refused; refusal parts beside output text are left out of it, as the
// SDKs' output_text leaves them.
func (API) Decode(body []byte) (api.Result, error) {
	w, ok := scan(body)
	if !ok {
		var slow wire // its own variable: only this path allocates it
		if err := json.Unmarshal(body, &slow); err != nil {
			return api.Partial(body), err
		}
		w = slow
	}
	return w.result()
}

// result reads a decoded answer.
func (w *wire) result() (api.Result, error) {
	r := api.Result{Status: w.Status, Model: w.Model, Usage: w.Usage.Usage()}
	if w.Status == "" && w.Output == nil {
		return r, errors.New("no status and no output")
	}
	r.OutputText = outputText(w.Output)
	switch w.Status {
	case "completed", "":
		if msg, ok := refusal(w.Output); ok && r.OutputText == "" {
			r.Status = "refused"
			r.Failure = &api.Failure{Code: api.CodeRefused, Message: "the model refused: " + msg}
		}
	case "incomplete":
		f := &api.Failure{Code: api.CodeIncomplete, Message: "response incomplete"}
		if w.IncompleteDetails != nil && w.IncompleteDetails.Reason != "" {
			f.Message += ": " + w.IncompleteDetails.Reason
		}
		r.Failure = f
	case "failed":
		f := &api.Failure{Code: api.CodeFailed, Message: "response failed"}
		w.failure(f)
		f.Retryable = f.Code == "server_error" || f.Code == "rate_limit_exceeded"
		r.Failure = f
	default:
		r.Failure = &api.Failure{Code: api.CodeBadStatus, Message: fmt.Sprintf("response status %q", w.Status)}
	}
	return r, nil
}
