package api

import (
	"encoding/json"
	"fmt"
	"math"
)

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

// count is a token count as sent: an integer, or a number with a zero
// fraction ("3.0") as some gateways write it.
type count int64

func (c *count) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	// Fast path: a plain integer, as nearly every server writes it.
	var n int64
	plain := len(b) > 0 && len(b) <= 16
	for _, d := range b {
		if d < '0' || d > '9' {
			plain = false
			break
		}
		n = n*10 + int64(d-'0')
	}
	if plain && n <= 1<<53 {
		*c = count(n)
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	if f < 0 || f > 1<<53 || f != math.Trunc(f) {
		return fmt.Errorf("token count %s is not a whole number", b)
	}
	*c = count(f)
	return nil
}

// WireUsage is a usage object as sent, in either shape. An API decodes it
// in the same pass as the rest of its answer and calls Usage.
type WireUsage struct {
	InputTokens        *count `json:"input_tokens"`
	OutputTokens       *count `json:"output_tokens"`
	InputTokensDetails struct {
		CachedTokens count `json:"cached_tokens"`
	} `json:"input_tokens_details"`
	OutputTokensDetails struct {
		ReasoningTokens count `json:"reasoning_tokens"`
	} `json:"output_tokens_details"`

	PromptTokens        *count `json:"prompt_tokens"`
	CompletionTokens    *count `json:"completion_tokens"`
	PromptTokensDetails struct {
		CachedTokens count `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
	CompletionTokensDetails struct {
		ReasoningTokens count `json:"reasoning_tokens"`
	} `json:"completion_tokens_details"`
	// DeepSeek's name for cached prompt tokens.
	PromptCacheHitTokens count `json:"prompt_cache_hit_tokens"`

	TotalTokens *count `json:"total_tokens"`
}

// ParseUsage normalises a usage object of either shape (with DeepSeek's
// prompt_cache_hit_tokens read as cached input). A null or absent
// usage gives the zero Usage. TotalTokens is input+output when the answer
// does not state it.
func ParseUsage(raw json.RawMessage) (Usage, error) {
	var w WireUsage
	if len(raw) == 0 || string(raw) == "null" {
		return Usage{}, nil
	}
	if err := json.Unmarshal(raw, &w); err != nil {
		return Usage{}, err
	}
	return w.Usage(), nil
}

// Usage normalises w (see ParseUsage); a nil w is the zero Usage.
func (w *WireUsage) Usage() Usage {
	var u Usage
	if w == nil {
		return u
	}
	switch {
	case w.InputTokens != nil || w.OutputTokens != nil:
		u.InputTokens = deref(w.InputTokens)
		u.OutputTokens = deref(w.OutputTokens)
		u.CachedInputTokens = int64(w.InputTokensDetails.CachedTokens)
		u.ReasoningTokens = int64(w.OutputTokensDetails.ReasoningTokens)
	case w.PromptTokens != nil || w.CompletionTokens != nil:
		u.InputTokens = deref(w.PromptTokens)
		u.OutputTokens = deref(w.CompletionTokens)
		u.CachedInputTokens = int64(max(w.PromptTokensDetails.CachedTokens, w.PromptCacheHitTokens))
		u.ReasoningTokens = int64(w.CompletionTokensDetails.ReasoningTokens)
	}
	u.TotalTokens = u.InputTokens + u.OutputTokens
	if w.TotalTokens != nil && *w.TotalTokens > 0 {
		u.TotalTokens = int64(*w.TotalTokens)
	}
	return u
}

func deref(p *count) int64 {
	if p == nil {
		return 0
	}
	return int64(*p)
}
