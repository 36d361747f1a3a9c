// Package jsonscan checks and walks JSON text without decoding it, and
// writes JSON strings as encoding/json does (AppendString). Valid checks a
// whole text in one pass (as json.Valid does); Object and Array walk the
// members of an object and the elements of an array; Fields walks the
// members of known names and Member finds one; Document and WholeObject
// walk a whole text and check it in the same pass; String reads a
// string's value. ObjectAt, FieldsAt and ArrayAt walk a value where it
// sits in a larger text, their fn reading each nested value itself (with
// them again, Skip or Value) and returning where it ends, so that a
// decoder of nested answers reads each byte once; End checks that only
// white space follows. It lets a hot decoder read the few fields it needs
// from an answer without reflection or allocating what it skips.
//
// Object, Array, Fields and Member check every key and value they walk,
// but not what follows the closing bracket: callers check a whole text
// with Valid first, or walk it with Document or WholeObject. A walker
// that meets anything it does not handle itself (an escaped object key, a
// duplicate or case-folded key, a value of an unexpected type) returns
// false, and its caller falls back to encoding/json, so the result is
// always encoding/json's.
package jsonscan

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Object calls fn with each member of the object b (a key without its
// quotes, and the value's text). It returns false when b is not an
// object, a key holds an escape, or fn returns false. b must be valid JSON.
func Object(b []byte, fn func(key, val []byte) bool) bool {
	return object(b, func(key []byte, start, end int) bool { return fn(key, b[start:end]) }) >= 0
}

// Fields calls fn with each member of the object b whose name is one of
// names (at most 64): the name's index in names and the member's value.
// Other members are skipped. It returns false where encoding/json would
// read b otherwise than this walk does (a name twice: encoding/json keeps
// the last; a key that matches a name but for case: encoding/json folds
// case), when b is not an object or a key holds an escape, and when fn
// returns false. b must be valid JSON.
func Fields(b []byte, names []string, fn func(i int, val []byte) bool) bool {
	return fields(b, names, fn) >= 0
}

// Document is Fields over a whole JSON text that also checks, in the same
// pass, that b is valid JSON (as Valid does): a decoder of a document
// needs no Valid first. b may be any bytes.
func Document(b []byte, names []string, fn func(i int, val []byte) bool) bool {
	end := fields(b, names, fn)
	return end >= 0 && skipSpace(b, end) == len(b)
}

// WholeObject is Object over a whole JSON text that also checks, in the
// same pass, that b is valid JSON (as Valid does): a decoder of a
// document needs no Valid first. b may be any bytes.
func WholeObject(b []byte, fn func(key, val []byte) bool) bool {
	end := object(b, func(key []byte, start, end int) bool { return fn(key, b[start:end]) })
	return end >= 0 && skipSpace(b, end) == len(b)
}

// fields is Fields returning object's end.
func fields(b []byte, names []string, fn func(i int, val []byte) bool) int {
	return FieldsAt(b, 0, 0, names, func(k, start int) int {
		return Value(b, start, 1, func(v []byte) bool { return fn(k, v) })
	})
}

// ObjectAt, FieldsAt and ArrayAt walk a value in place, where it starts
// in a larger text, reading each part of it once: their fn is given
// where a member's or element's value starts and returns where it ends,
// having read it itself (with ObjectAt, FieldsAt, ArrayAt or Skip, at the
// value's depth, one more than its container's), or 0 to have it skipped,
// or -1 to stop the walk. A decoder of nested answers then reads each
// byte once instead of once per level. Each returns the index just
// after the value it walked, or -1 when fn stopped it or the text is not
// what it walks; what it passes over it checks as Valid does, nesting
// depth included (depth is the walked value's: 0 for a whole text's).
// A start given to fn is always within b.

// ObjectAt walks the object that starts at b[i] (after white space),
// calling fn with each member's key (without its quotes; a key holding
// an escape stops the walk) and where its value starts.
func ObjectAt(b []byte, i, depth int, fn func(key []byte, start int) int) int {
	i = skipSpace(b, i)
	if i >= len(b) || b[i] != '{' || depth >= maxDepth {
		return -1
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1
	}
	for i < len(b) {
		if b[i] != '"' {
			return -1
		}
		end := stringEnd(b, i)
		if end < 0 {
			return -1
		}
		key := b[i+1 : end-1]
		if bytes.IndexByte(key, '\\') >= 0 {
			return -1
		}
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return -1
		}
		if i = skipSpace(b, i+1); i >= len(b) {
			return -1
		}
		vend := fn(key, i)
		if vend == 0 {
			vend = valueEndDepth(b, i, depth+1)
		}
		if vend < 0 {
			return -1
		}
		i = skipSpace(b, vend)
		if i >= len(b) {
			return -1
		}
		if b[i] == '}' {
			return i + 1
		}
		if b[i] != ',' {
			return -1
		}
		i = skipSpace(b, i+1)
	}
	return -1
}

// FieldsAt is ObjectAt calling fn only for the members whose name is one
// of names (at most 64), with the name's index; it stops where Fields
// returns false (a name twice, a key that matches a name but for case).
func FieldsAt(b []byte, i, depth int, names []string, fn func(k, start int) int) int {
	var seen uint64
	return ObjectAt(b, i, depth, func(key []byte, start int) int {
		for k, n := range names {
			if string(key) == n {
				if seen&(1<<k) != 0 {
					return -1
				}
				seen |= 1 << k
				return fn(k, start)
			}
		}
		if Folds(key, names...) {
			return -1
		}
		return 0
	})
}

// ArrayAt walks the array that starts at b[i] (after white space),
// calling fn with where each element starts.
func ArrayAt(b []byte, i, depth int, fn func(start int) int) int {
	i = skipSpace(b, i)
	if i >= len(b) || b[i] != '[' || depth >= maxDepth {
		return -1
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1
	}
	for i < len(b) {
		vend := fn(i)
		if vend == 0 {
			vend = valueEndDepth(b, i, depth+1)
		}
		if vend < 0 {
			return -1
		}
		i = skipSpace(b, vend)
		if i >= len(b) {
			return -1
		}
		if b[i] == ']' {
			return i + 1
		}
		if b[i] != ',' {
			return -1
		}
		i = skipSpace(b, i+1)
	}
	return -1
}

// Skip returns the index just after the value that starts at b[i] (not
// after white space), at nesting depth depth, checked as Valid checks
// it; -1 when there is none.
func Skip(b []byte, i, depth int) int { return valueEndDepth(b, i, depth) }

// Value is Skip that hands the value's text to read: the fn of a walk in
// place that reads a scalar. It returns -1 when read returns false.
func Value(b []byte, i, depth int, read func(v []byte) bool) int {
	end := valueEndDepth(b, i, depth)
	if end < 0 || !read(b[i:end]) {
		return -1
	}
	return end
}

// End returns the index of b's end when only white space follows b[i:],
// else -1: a walk of a whole text ends with it.
func End(b []byte, i int) int {
	if i < 0 || skipSpace(b, i) != len(b) {
		return -1
	}
	return len(b)
}

// Member returns where the value of b's member name starts and ends in b.
// ok is false when b is not an object, has no member name or more than
// one, or has a key that encoding/json would match to name but for case
// or escapes (the member encoding/json would read is then not plain to
// see). b must be valid JSON.
func Member(b []byte, name string) (start, end int, ok bool) {
	start = -1
	walked := object(b, func(key []byte, s, e int) bool {
		switch {
		case string(key) == name:
			if start >= 0 {
				return false
			}
			start, end = s, e
			return true
		default:
			return !Folds(key, name)
		}
	})
	if walked < 0 || start < 0 {
		return 0, 0, false
	}
	return start, end, true
}

// object is Object giving each value's start and end in b. It returns the
// index just after the object's closing brace, or -1. Every key and value
// it passes is checked as Valid checks it (values at depth 1), so an
// object it walks whole is valid JSON.
func object(b []byte, fn func(key []byte, start, end int) bool) int {
	return ObjectAt(b, 0, 0, func(key []byte, start int) int {
		end := valueEndDepth(b, start, 1)
		if end < 0 || !fn(key, start, end) {
			return -1
		}
		return end
	})
}

// Array calls fn with the text of each element of the array b. It returns
// false when b is not an array or fn returns false. b must be valid JSON.
func Array(b []byte, fn func(val []byte) bool) bool {
	return ArrayAt(b, 0, 0, func(start int) int { return Value(b, start, 1, fn) }) >= 0
}

// String returns the value of the JSON string val; ok is false when val is
// not a string.
func String(val []byte) (s string, ok bool) {
	if len(val) < 2 || val[0] != '"' {
		return "", false
	}
	in := val[1 : len(val)-1]
	if val[len(val)-1] == '"' { // else white space follows: encoding/json's
		if bytes.IndexByte(in, '\\') < 0 && utf8.Valid(in) {
			return string(in), true
		}
		// Escapes (text written by Python's json.dumps has one for every
		// character past ASCII), or invalid UTF-8 that encoding/json
		// replaces.
		if s, ok := unquote(in); ok {
			return s, true
		}
	}
	if json.Unmarshal(val, &s) != nil {
		return "", false
	}
	return s, true
}

// unquote is encoding/json's unquoteBytes (Go's decode.go) for the text
// between a string's quotes: escapes decoded, a surrogate that is not
// half of a pair and invalid UTF-8 replaced by U+FFFD. ok is false where
// encoding/json would refuse the string (a bad escape, a quote or a
// control character).
func unquote(s []byte) (string, bool) {
	var b strings.Builder
	b.Grow(len(s))
	for r := 0; r < len(s); {
		switch c := s[r]; {
		case c == '\\':
			r++
			if r >= len(s) {
				return "", false
			}
			switch s[r] {
			case '"', '\\', '/':
				b.WriteByte(s[r])
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'u':
				rr := getu4(s[r-1:])
				if rr < 0 {
					return "", false
				}
				r += 5
				if utf16.IsSurrogate(rr) {
					if dec := utf16.DecodeRune(rr, getu4(s[r:])); dec != unicode.ReplacementChar {
						b.WriteRune(dec) // a valid pair
						r += 6
						continue
					}
					rr = unicode.ReplacementChar
				}
				b.WriteRune(rr)
				continue
			default:
				return "", false
			}
			r++
		case c == '"', c < ' ':
			return "", false
		case c < utf8.RuneSelf:
			// A run of plain ASCII at once.
			j := r + 1
			for j < len(s) && s[j] >= ' ' && s[j] < utf8.RuneSelf && s[j] != '\\' && s[j] != '"' {
				j++
			}
			b.Write(s[r:j])
			r = j
		default:
			rr, size := utf8.DecodeRune(s[r:])
			b.WriteRune(rr) // RuneError for an invalid byte, as encoding/json writes it
			r += size
		}
	}
	return b.String(), true
}

// getu4 reads the \uXXXX escape at the start of s, or returns -1.
func getu4(s []byte) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range s[2:6] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
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

// Valid reports whether b is one JSON value with only white space around
// it, as json.Valid does (nesting deeper than encoding/json's 10000 levels
// included), checking every byte in one pass.
func Valid(b []byte) bool {
	i := valueEnd(b, skipSpace(b, 0))
	return i >= 0 && skipSpace(b, i) == len(b)
}

// maxDepth is encoding/json's limit on nesting.
const maxDepth = 10000

// stringEnd returns the index just after the string that starts at b[i],
// or -1 when it is not a valid JSON string.
func stringEnd(b []byte, i int) int {
	j := i + 1
	// Eight bytes at a time while none of them ends the string, starts
	// an escape or is a control character (the long strings of an
	// answer, base64 vectors above all, are mostly such runs).
	for ; j+8 <= len(b); j += 8 {
		if special(binary.LittleEndian.Uint64(b[j:])) {
			break
		}
	}
	for ; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return j + 1
		case c == '\\':
			j++
			if j >= len(b) {
				return -1
			}
			switch b[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if j+4 >= len(b) {
					return -1
				}
				for _, h := range b[j+1 : j+5] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return -1
					}
				}
				j += 4
			default:
				return -1
			}
		case c < 0x20:
			return -1
		}
	}
	return -1
}

// special reports whether one of the eight bytes of x is '"', '\\' or
// below 0x20. These are the bit tricks "has a zero byte" (of x xor the
// byte) and "has a byte less than n": each is non-zero only when such a
// byte is there, so a run of plain bytes is never taken for the end of a
// string, and the byte loop decides every word that has one.
func special(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	q := x ^ (ones * '"')
	bs := x ^ (ones * '\\')
	return ((q-ones)&^q|(bs-ones)&^bs|(x-ones*0x20)&^x)&highs != 0
}

// valueEnd returns the index just after the value that starts at b[i], or
// -1 when it is not a valid JSON value.
func valueEnd(b []byte, i int) int {
	return valueEndDepth(b, i, 0)
}

func valueEndDepth(b []byte, i, depth int) int {
	if i >= len(b) {
		return -1
	}
	switch c := b[i]; c {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		if depth >= maxDepth {
			return -1
		}
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == closer {
			return i + 1
		}
		for {
			if c == '{' {
				if i >= len(b) || b[i] != '"' {
					return -1
				}
				if i = stringEnd(b, i); i < 0 {
					return -1
				}
				i = skipSpace(b, i)
				if i >= len(b) || b[i] != ':' {
					return -1
				}
				i = skipSpace(b, i+1)
			}
			if i = valueEndDepth(b, i, depth+1); i < 0 {
				return -1
			}
			i = skipSpace(b, i)
			if i >= len(b) {
				return -1
			}
			if b[i] == closer {
				return i + 1
			}
			if b[i] != ',' {
				return -1
			}
			i = skipSpace(b, i+1)
		}
	case 't':
		return literalEnd(b, i, "true")
	case 'f':
		return literalEnd(b, i, "false")
	case 'n':
		return literalEnd(b, i, "null")
	}
	return numberEnd(b, i)
}

func literalEnd(b []byte, i int, lit string) int {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return -1
	}
	return i + len(lit)
}

// numberEnd returns the index just after the number that starts at b[i]
// (-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?), or -1.
func numberEnd(b []byte, i int) int {
	j := i
	if j < len(b) && b[j] == '-' {
		j++
	}
	switch {
	case j < len(b) && b[j] == '0':
		j++
	case j < len(b) && '1' <= b[j] && b[j] <= '9':
		j = digits(b, j)
	default:
		return -1
	}
	if j < len(b) && b[j] == '.' {
		if k := digits(b, j+1); k > j+1 {
			j = k
		} else {
			return -1
		}
	}
	if j < len(b) && (b[j] == 'e' || b[j] == 'E') {
		j++
		if j < len(b) && (b[j] == '+' || b[j] == '-') {
			j++
		}
		k := digits(b, j)
		if k == j {
			return -1
		}
		j = k
	}
	return j
}

func digits(b []byte, j int) int {
	for j < len(b) && '0' <= b[j] && b[j] <= '9' {
		j++
	}
	return j
}
