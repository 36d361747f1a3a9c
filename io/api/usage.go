package api

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/llmbatch/llmbatch/io/jsonscan"
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

// ScanUsage reads a usage value (an object or null) as encoding/json
// would decode it into a *WireUsage, without reflection; ok is false when
// val holds anything the fast path does not read itself (then decode it
// with encoding/json). val must be valid JSON.
func ScanUsage(val []byte) (w *WireUsage, ok bool) {
	w, end := ScanUsageAt(val, 0, 0)
	return w, end >= 0
}

// ScanUsageAt is ScanUsage of the value that starts at b[i] (not after
// white space), at nesting depth depth, read in place as jsonscan.ObjectAt
// reads: it returns where the value ends, or -1 where ScanUsage's ok is
// false.
func ScanUsageAt(b []byte, i, depth int) (w *WireUsage, end int) {
	if i < len(b) && b[i] == 'n' {
		return nil, jsonscan.Value(b, i, depth, jsonscan.IsNull)
	}
	a := new(wireUsage)
	w = &a.WireUsage
	var seen uint16
	end = jsonscan.ObjectAt(b, i, depth, func(key []byte, start int) int {
		var bit uint16
		var field **count
		var plain *count
		var details *count // the one field of a details object
		var detailKey string
		switch string(key) {
		case "input_tokens":
			bit, field = 1<<0, &w.InputTokens
		case "output_tokens":
			bit, field = 1<<1, &w.OutputTokens
		case "prompt_tokens":
			bit, field = 1<<2, &w.PromptTokens
		case "completion_tokens":
			bit, field = 1<<3, &w.CompletionTokens
		case "total_tokens":
			bit, field = 1<<4, &w.TotalTokens
		case "prompt_cache_hit_tokens":
			bit, plain = 1<<5, &w.PromptCacheHitTokens
		case "input_tokens_details":
			bit, details, detailKey = 1<<6, &w.InputTokensDetails.CachedTokens, "cached_tokens"
		case "output_tokens_details":
			bit, details, detailKey = 1<<7, &w.OutputTokensDetails.ReasoningTokens, "reasoning_tokens"
		case "prompt_tokens_details":
			bit, details, detailKey = 1<<8, &w.PromptTokensDetails.CachedTokens, "cached_tokens"
		case "completion_tokens_details":
			bit, details, detailKey = 1<<9, &w.CompletionTokensDetails.ReasoningTokens, "reasoning_tokens"
		default:
			if jsonscan.Folds(key, usageKeys...) {
				return -1
			}
			return 0
		}
		if seen&bit != 0 {
			return -1
		}
		seen |= bit
		if details == nil || b[start] != '{' {
			return jsonscan.Value(b, start, depth+1, func(v []byte) bool {
				switch {
				case jsonscan.IsNull(v):
					return true
				case field != nil:
					c := &a.counts[a.used] // each pointer field is set once at most (seen)
					a.used++
					*field = c
					return scanCount(v, c)
				case plain != nil:
					return scanCount(v, plain)
				}
				return false // a details value that is neither an object nor null
			})
		}
		var once bool
		return jsonscan.ObjectAt(b, start, depth+1, func(k []byte, ds int) int {
			if string(k) != detailKey {
				if jsonscan.Folds(k, detailKey) {
					return -1
				}
				return 0
			}
			if once {
				return -1
			}
			once = true
			return jsonscan.Value(b, ds, depth+2, func(v []byte) bool { return scanCount(v, details) })
		})
	})
	if end < 0 {
		return nil, -1
	}
	return w, end
}

// wireUsage is a WireUsage with room for the counts its five pointer
// fields point to: ScanUsage allocates once, not once per count.
type wireUsage struct {
	WireUsage
	counts [5]count
	used   int
}

// usageKeys are WireUsage's JSON names.
var usageKeys = []string{"input_tokens", "output_tokens", "prompt_tokens", "completion_tokens", "total_tokens",
	"prompt_cache_hit_tokens", "input_tokens_details", "output_tokens_details", "prompt_tokens_details", "completion_tokens_details"}

// scanCount reads a number (or null) into c.
func scanCount(v []byte, c *count) bool {
	if len(v) == 0 || !(v[0] == '-' || v[0] >= '0' && v[0] <= '9' || jsonscan.IsNull(v)) {
		return false
	}
	return c.UnmarshalJSON(v) == nil
}
