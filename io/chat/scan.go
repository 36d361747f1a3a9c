package chat

import (
	"github.com/llmbatch/llmbatch/io/api"
	"github.com/llmbatch/llmbatch/io/jsonscan"
)

// scan decodes body as json.Unmarshal would into an answer, without
// reflection, for the shapes answers have; ok is false for anything else
// (invalid JSON among it), which json.Unmarshal then decodes.
func scan(body []byte) (a answer, ok bool) {
	if !jsonscan.Valid(body) {
		return a, false
	}
	var seen uint8
	ok = jsonscan.Object(body, func(key, v []byte) bool {
		var bit uint8
		switch string(key) {
		case "object":
			bit = 1 << 0
		case "model":
			bit = 1 << 1
		case "usage":
			bit = 1 << 2
		case "choices":
			bit = 1 << 3
		default:
			return !jsonscan.Folds(key, "object", "model", "usage", "choices")
		}
		if seen&bit != 0 {
			return false
		}
		seen |= bit
		var ok bool
		switch bit {
		case 1 << 0:
			a.Object, ok = scanString(v)
		case 1 << 1:
			a.Model, ok = scanString(v)
		case 1 << 2:
			a.Usage, ok = api.ScanUsage(v)
		case 1 << 3:
			if jsonscan.IsNull(v) {
				return true
			}
			a.Choices = []choice{}
			return jsonscan.Array(v, func(c []byte) bool {
				ch, ok := scanChoice(c)
				a.Choices = append(a.Choices, ch)
				return ok
			})
		}
		return ok
	})
	return a, ok
}

// scanChoice reads a choice (an object; not null).
func scanChoice(b []byte) (ch choice, ok bool) {
	var seen uint8
	ok = jsonscan.Object(b, func(key, v []byte) bool {
		switch string(key) {
		case "finish_reason":
			if seen&1 != 0 {
				return false
			}
			seen |= 1
			var ok bool
			ch.FinishReason, ok = scanString(v)
			return ok
		case "message":
			if seen&2 != 0 {
				return false
			}
			seen |= 2
			if jsonscan.IsNull(v) {
				return true
			}
			m := &message{}
			ch.Message = m
			var mseen uint8
			return jsonscan.Object(v, func(k, mv []byte) bool {
				switch string(k) {
				case "content":
					if mseen&1 != 0 {
						return false
					}
					mseen |= 1
					m.Content = mv
					return true
				case "refusal":
					if mseen&2 != 0 {
						return false
					}
					mseen |= 2
					if jsonscan.IsNull(mv) {
						return true
					}
					s, ok := jsonscan.String(mv)
					m.Refusal = &s
					return ok
				}
				return !jsonscan.Folds(k, "content", "refusal")
			})
		}
		return !jsonscan.Folds(key, "finish_reason", "message")
	})
	return ch, ok
}

// scanString reads a string or null (as ""); the values every answer
// repeats are not allocated.
func scanString(v []byte) (string, bool) {
	switch string(v) {
	case "null":
		return "", true
	case `"chat.completion"`:
		return "chat.completion", true
	case `"stop"`:
		return "stop", true
	case `"length"`:
		return "length", true
	case `"tool_calls"`:
		return "tool_calls", true
	case `"content_filter"`:
		return "content_filter", true
	}
	return jsonscan.String(v)
}
