package rows

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"

	"github.com/llmbatch/llmbatch/io/jsonscan"
)

// scanObject decodes b, one JSON object, as encoding/json decodes it into
// a map[string]any with UseNumber, without reflection; ok is false for
// anything it does not read itself (invalid JSON, a value that is not an
// object, an escaped key), which DecodeObject then decodes (and reports).
func scanObject(b []byte) (map[string]any, bool) {
	if !jsonscan.Valid(b) {
		return nil, false
	}
	// Valid JSON has only JSON white space around the value.
	v, ok := scanValue(bytes.TrimSpace(b))
	m, isMap := v.(map[string]any)
	return m, ok && isMap
}

// scanValue decodes one valid JSON value.
func scanValue(v []byte) (any, bool) {
	switch v[0] {
	case '"':
		return jsonscan.String(v)
	case '{':
		m := make(map[string]any)
		ok := jsonscan.Object(v, func(key, val []byte) bool {
			if !utf8.Valid(key) { // encoding/json replaces invalid bytes
				return false
			}
			x, ok := scanValue(val)
			m[string(key)] = x
			return ok
		})
		return m, ok
	case '[':
		a := make([]any, 0)
		ok := jsonscan.Array(v, func(val []byte) bool {
			x, ok := scanValue(val)
			a = append(a, x)
			return ok
		})
		return a, ok
	case 't':
		return true, true
	case 'f':
		return false, true
	case 'n':
		return nil, true
	case ' ', '\t', '\r', '\n':
		return nil, false
	}
	return json.Number(v), true
}
