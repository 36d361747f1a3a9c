package pipeline

import (
	"encoding/json"
	"slices"

	"github.com/llmbatch/llmbatch/io/jsonscan"
)

// appendBody appends v as encoding/json's Encoder with SetEscapeHTML(false)
// writes it (without the newline), for the values a request body is made
// of: maps with string keys (sorted), []any, strings, json.Number, bool and
// nil. ok is false for any other value, or a number encoding/json would
// refuse, and then the caller encodes the body with encoding/json: the
// bytes are the same either way, since request hashes are journalled and a
// resume compares them (TestBuilder_BodiesPinned, FuzzAppendBody).
func appendBody(dst []byte, v any) ([]byte, bool) {
	switch v := v.(type) {
	case nil:
		return append(dst, "null"...), true
	case string:
		return jsonscan.AppendString(dst, v), true
	case bool:
		if v {
			return append(dst, "true"...), true
		}
		return append(dst, "false"...), true
	case json.Number:
		if !validNumber(string(v)) {
			return dst, false
		}
		return append(dst, v...), true
	case []any:
		if v == nil {
			return append(dst, "null"...), true
		}
		dst = append(dst, '[')
		for i, e := range v {
			if i > 0 {
				dst = append(dst, ',')
			}
			var ok bool
			if dst, ok = appendBody(dst, e); !ok {
				return dst, false
			}
		}
		return append(dst, ']'), true
	case map[string]any:
		if v == nil {
			return append(dst, "null"...), true
		}
		var small [8]string
		keys := small[:0]
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = jsonscan.AppendString(dst, k)
			dst = append(dst, ':')
			var ok bool
			if dst, ok = appendBody(dst, v[k]); !ok {
				return dst, false
			}
		}
		return append(dst, '}'), true
	}
	return dst, false
}

// validNumber reports whether s is a JSON number as encoding/json writes
// a json.Number: exactly, with nothing around it.
func validNumber(s string) bool {
	if s == "" || !(s[0] == '-' || s[0] >= '0' && s[0] <= '9') || s[len(s)-1] < '0' || s[len(s)-1] > '9' {
		return false
	}
	return json.Valid([]byte(s))
}
