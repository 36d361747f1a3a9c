// Package jsonscan walks JSON text that is already known to be valid
// (json.Valid) without decoding it: the members of an object, the
// elements of an array, a string's value. It lets a hot decoder read the
// few fields it needs from an answer in one pass without reflection or
// allocating what it skips.
//
// A walker that meets anything it does not handle itself (an escaped
// object key, a duplicate or case-folded key, a value of an unexpected
// type) returns false, and its caller falls back to encoding/json, so the
// result is always encoding/json's.
package jsonscan

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// Object calls fn with each member of the object b (a key without its
// quotes, and the value's text). It returns false when b is not an
// object, a key holds an escape, or fn returns false. b must be valid JSON.
func Object(b []byte, fn func(key, val []byte) bool) bool {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return true
	}
	for i < len(b) {
		if b[i] != '"' {
			return false
		}
		end := stringEnd(b, i)
		key := b[i+1 : end-1]
		if bytes.IndexByte(key, '\\') >= 0 {
			return false
		}
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return false
		}
		i = skipSpace(b, i+1)
		vend := valueEnd(b, i)
		if vend < 0 || !fn(key, b[i:vend]) {
			return false
		}
		i = skipSpace(b, vend)
		if i >= len(b) {
			return false
		}
		if b[i] == '}' {
			return true
		}
		if b[i] != ',' {
			return false
		}
		i = skipSpace(b, i+1)
	}
	return false
}

// Array calls fn with the text of each element of the array b. It returns
// false when b is not an array or fn returns false. b must be valid JSON.
func Array(b []byte, fn func(val []byte) bool) bool {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '[' {
		return false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return true
	}
	for i < len(b) {
		vend := valueEnd(b, i)
		if vend < 0 || !fn(b[i:vend]) {
			return false
		}
		i = skipSpace(b, vend)
		if i >= len(b) {
			return false
		}
		if b[i] == ']' {
			return true
		}
		if b[i] != ',' {
			return false
		}
		i = skipSpace(b, i+1)
	}
	return false
}

// String returns the value of the JSON string val; ok is false when val is
// not a string.
func String(val []byte) (s string, ok bool) {
	if len(val) < 2 || val[0] != '"' {
		return "", false
	}
	in := val[1 : len(val)-1]
	// Escapes, and invalid UTF-8 that encoding/json replaces: its own
	// decoder says what they mean.
	if bytes.IndexByte(in, '\\') < 0 && utf8.Valid(in) {
		return string(in), true
	}
	if json.Unmarshal(val, &s) != nil {
		return "", false
	}
	return s, true
}

// IsNull reports whether val is the literal null.
func IsNull(val []byte) bool { return string(val) == "null" }

// Folds reports whether key equals one of names but for case, as
// encoding/json would match it to a field of that name while an exact
// comparison does not.
func Folds(key []byte, names ...string) bool {
	for _, n := range names {
		if bytes.EqualFold(key, []byte(n)) {
			return true
		}
	}
	return false
}

func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\r', '\n':
			i++
		default:
			return i
		}
	}
	return i
}

// stringEnd returns the index just after the string that starts at b[i].
func stringEnd(b []byte, i int) int {
	for j := i + 1; j < len(b); {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return len(b)
		}
		j += k
		// The quote is escaped when an odd number of backslashes precede it.
		n := 0
		for p := j - 1; p > i && b[p] == '\\'; p-- {
			n++
		}
		if n%2 == 0 {
			return j + 1
		}
		j++
	}
	return len(b)
}

// valueEnd returns the index just after the value that starts at b[i], or
// -1.
func valueEnd(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); {
			switch b[j] {
			case '"':
				j = stringEnd(b, j)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
			j++
		}
		return -1
	}
	// A number or a literal: up to the next delimiter.
	j := i
	for j < len(b) {
		switch b[j] {
		case ',', '}', ']', ' ', '\t', '\r', '\n':
			return j
		}
		j++
	}
	return j
}
