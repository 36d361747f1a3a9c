package rows

import (
	"encoding/json"
	"unicode/utf8"

	"github.com/llmbatch/llmbatch/io/jsonscan"
)

// scanObject decodes b, one JSON object, as encoding/json decodes it into
// a map[string]any with UseNumber, without reflection; ok is false for
// anything it does not read itself (invalid JSON, a value that is not an
// object, an escaped key), which DecodeObject then decodes (and reports).
func scanObject(b []byte, keys *keyCache) (map[string]any, bool) {
	m := make(map[string]any)
	ok := jsonscan.WholeObject(b, func(key, val []byte) bool {
		return member(m, key, val, keys)
	})
	return m, ok
}

// member decodes one member of an object into m.
func member(m map[string]any, key, val []byte, keys *keyCache) bool {
	if !utf8.Valid(key) { // encoding/json replaces invalid bytes
		return false
	}
	x, ok := scanValue(val, keys)
	m[keys.get(key)] = x
	return ok
}

// keyCache holds the member names a reader has met, so that the columns
// every row repeats are not allocated again for each row. A nil
// *keyCache allocates every name.
type keyCache struct{ m map[string]string }

// maxCachedKeys bounds a keyCache: rows with ever new names (maps keyed by
// ids) are decoded all the same, their names allocated.
const maxCachedKeys = 512

func (c *keyCache) get(key []byte) string {
	if c == nil {
		return string(key)
	}
	if s, ok := c.m[string(key)]; ok {
		return s
	}
	s := string(key)
	if c.m == nil {
		c.m = map[string]string{}
	}
	if len(c.m) < maxCachedKeys {
		c.m[s] = s
	}
	return s
}

// scanValue decodes one valid JSON value.
func scanValue(v []byte, keys *keyCache) (any, bool) {
	switch v[0] {
	case '"':
		return jsonscan.String(v)
	case '{':
		m := make(map[string]any)
		ok := jsonscan.Object(v, func(key, val []byte) bool {
			return member(m, key, val, keys)
		})
		return m, ok
	case '[':
		a := make([]any, 0)
		ok := jsonscan.Array(v, func(val []byte) bool {
			x, ok := scanValue(val, keys)
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
