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
// (invalid JSON among it), which json.Unmarshal then decodes. It reads
// every byte once (jsonscan's walks in place).
func scan(body []byte) (a answer, ok bool) {
	end := jsonscan.FieldsAt(body, 0, 0, answerKeys, func(k, i int) int {
		switch k {
		case 2:
			var end int
			a.Usage, end = api.ScanUsageAt(body, i, 1)
			return end
		case 3:
			if body[i] == 'n' {
				return 0 // null leaves Choices nil
			}
			a.Choices = []choice{}
			return jsonscan.ArrayAt(body, i, 1, func(j int) int {
				ch, end := scanChoice(body, j)
				a.Choices = append(a.Choices, ch)
				return end
			})
		}
		return jsonscan.Value(body, i, 1, func(v []byte) (ok bool) {
			if k == 0 {
				a.Object, ok = scanString(v)
			} else {
				a.Model, ok = api.ModelString(v)
			}
			return ok
		})
	})
	return a, jsonscan.End(body, end) >= 0
}

// scanChoice reads the choice that starts at b[i] (an object; not null)
// and returns where it ends, or -1.
func scanChoice(b []byte, i int) (ch choice, end int) {
	end = jsonscan.FieldsAt(b, i, 2, choiceKeys, func(k, j int) int {
		if k == 0 {
			return jsonscan.Value(b, j, 3, func(v []byte) (ok bool) {
				ch.FinishReason, ok = scanString(v)
				return ok
			})
		}
		if b[j] == 'n' {
			return 0 // null leaves Message nil
		}
		m := &message{}
		ch.Message = m
		return jsonscan.FieldsAt(b, j, 3, messageKeys, func(f, v int) int {
			return jsonscan.Value(b, v, 4, func(mv []byte) bool {
				switch {
				case f == 0:
					m.Content = mv
				case !jsonscan.IsNull(mv):
					s, ok := jsonscan.String(mv)
					m.Refusal = &s
					return ok
				}
				return true
			})
		})
	})
	return ch, end
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
