package responses

import "encoding/json"

// Usage is a normalised token count. Cached tokens are a subset of input
// tokens and reasoning tokens a subset of output tokens.
type Usage struct {
	InputTokens       int64 `json:"input_tokens"`
	CachedInputTokens int64 `json:"cached_input_tokens"`
	OutputTokens      int64 `json:"output_tokens"`
	ReasoningTokens   int64 `json:"reasoning_tokens"`
	TotalTokens       int64 `json:"total_tokens"`
}

// Add adds o to u.
func (u *Usage) Add(o Usage) {
	u.InputTokens += o.InputTokens
	u.CachedInputTokens += o.CachedInputTokens
	u.OutputTokens += o.OutputTokens
	u.ReasoningTokens += o.ReasoningTokens
	u.TotalTokens += o.TotalTokens
}

// wireUsage accepts both usage shapes.
type wireUsage struct {
	InputTokens        *int64 `json:"input_tokens"`
	OutputTokens       *int64 `json:"output_tokens"`
	InputTokensDetails struct {
		CachedTokens int64 `json:"cached_tokens"`
	} `json:"input_tokens_details"`
	OutputTokensDetails struct {
		ReasoningTokens int64 `json:"reasoning_tokens"`
	} `json:"output_tokens_details"`

	PromptTokens        *int64 `json:"prompt_tokens"`
	CompletionTokens    *int64 `json:"completion_tokens"`
	PromptTokensDetails struct {
		CachedTokens int64 `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
	CompletionTokensDetails struct {
		ReasoningTokens int64 `json:"reasoning_tokens"`
	} `json:"completion_tokens_details"`

	TotalTokens *int64 `json:"total_tokens"`
}

// ParseUsage normalises a usage object of either shape. A null or absent
// usage gives the zero Usage. TotalTokens is input+output when the answer
// does not state it.
func ParseUsage(raw json.RawMessage) (Usage, error) {
	var w wireUsage
	if len(raw) == 0 || string(raw) == "null" {
		return Usage{}, nil
	}
	if err := json.Unmarshal(raw, &w); err != nil {
		return Usage{}, err
	}
	var u Usage
	switch {
	case w.InputTokens != nil || w.OutputTokens != nil:
		u.InputTokens = deref(w.InputTokens)
		u.OutputTokens = deref(w.OutputTokens)
		u.CachedInputTokens = w.InputTokensDetails.CachedTokens
		u.ReasoningTokens = w.OutputTokensDetails.ReasoningTokens
	case w.PromptTokens != nil || w.CompletionTokens != nil:
		u.InputTokens = deref(w.PromptTokens)
		u.OutputTokens = deref(w.CompletionTokens)
		u.CachedInputTokens = w.PromptTokensDetails.CachedTokens
		u.ReasoningTokens = w.CompletionTokensDetails.ReasoningTokens
	}
	u.TotalTokens = u.InputTokens + u.OutputTokens
	if w.TotalTokens != nil && *w.TotalTokens > 0 {
		u.TotalTokens = *w.TotalTokens
	}
	return u, nil
}

func deref(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}
