package chat

import (
	"github.com/llmbatch/llmbatch/io/api"
	"github.com/llmbatch/llmbatch/io/jsonscan"
)

// The members scan reads, in the order of its cases.
var (
	answerKeys  = []string{"object", "model", "usage", "choices"}
	choiceKeys  = []string{"finish_reason", "message"}
	messageKeys = []string{"content", "refusal"}
)

// scan decodes body as json.Unmarshal would into an answer, without
// reflection, for the shapes answers have; ok is false for anything else
// (invalid JSON among it), which json.Unmarshal then decodes.
func scan(body []byte) (a answer, ok bool) {
	ok = jsonscan.Document(body, answerKeys, func(i int, v []byte) bool {
		var ok bool
		switch i {
		case 0:
			a.Object, ok = scanString(v)
		case 1:
			a.Model, ok = api.ModelString(v)
		case 2:
			a.Usage, ok = api.ScanUsage(v)
		case 3:
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
	ok = jsonscan.Fields(b, choiceKeys, func(i int, v []byte) bool {
		if i == 0 {
			var ok bool
			ch.FinishReason, ok = scanString(v)
			return ok
		}
		if jsonscan.IsNull(v) {
			return true
		}
		m := &message{}
		ch.Message = m
		return jsonscan.Fields(v, messageKeys, func(k int, mv []byte) bool {
			if k == 0 {
				m.Content = mv
				return true
			}
			if jsonscan.IsNull(mv) {
				return true
			}
			s, ok := jsonscan.String(mv)
			m.Refusal = &s
			return ok
		})
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
