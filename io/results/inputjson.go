package results

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// inputJSON returns the text NewExportRow writes in input_json for a
// record's input member v (an object): what encoding/json writes for the
// decoded columns (numbers as json.Number), with sorted keys and without
// HTML escapes; nil for an empty object. A journal written by llmbatch
// holds exactly that text already, so when v is in that canonical form
// (canonicalValue) it is taken as it is, a copy of its bytes; otherwise
// it is decoded and encoded again. ok is false when v is not a JSON
// object.
func inputJSON(v []byte) (text []byte, ok bool) {
	if len(v) == 0 || v[0] != '{' {
		return nil, false
	}
	if end, canon := canonicalValue(v, 0, 0); canon && end == len(v) {
		if len(v) == 2 { // {}
			return nil, true
		}
		return bytes.Clone(v), true
	}
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.UseNumber()
	var m map[string]any
	if dec.Decode(&m) != nil || dec.InputOffset() != int64(len(v)) {
		return nil, false
	}
	text, err := encodeInput(m)
	return text, err == nil
}

// encodeInput returns the input_json text of the input columns m: nil
// when there are none.
func encodeInput(m map[string]any) ([]byte, error) {
	if len(m) == 0 {
		return nil, nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// maxCanonicalDepth bounds canonicalValue's recursion; deeper values take
// the decoder.
const maxCanonicalDepth = 64

// canonicalValue reports whether the JSON value at b[i:] is valid and in
// the form encoding/json (without HTML escapes) gives a value decoded
// into any with UseNumber: no whitespace, object keys in strictly
// increasing order and without escapes, strings escaped as Go escapes
// them, numbers as written. It returns the index after the value. It errs
// on the side of false: a false value only costs a decode.
func canonicalValue(b []byte, i, depth int) (int, bool) {
	if i >= len(b) || depth > maxCanonicalDepth {
		return i, false
	}
	switch c := b[i]; {
	case c == '{':
		i++
		if i < len(b) && b[i] == '}' {
			return i + 1, true
		}
		var prev []byte
		for first := true; ; first = false {
			if i >= len(b) || b[i] != '"' {
				return i, false
			}
			start := i + 1
			end, ok := canonicalString(b, i)
			if !ok || bytes.IndexByte(b[start:end-1], '\\') >= 0 {
				return i, false
			}
			key := b[start : end-1]
			if !first && bytes.Compare(prev, key) >= 0 {
				return i, false
			}
			prev, i = key, end
			if i >= len(b) || b[i] != ':' {
				return i, false
			}
			if i, ok = canonicalValue(b, i+1, depth+1); !ok {
				return i, false
			}
			if i < len(b) && b[i] == ',' {
				i++
				continue
			}
			if i < len(b) && b[i] == '}' {
				return i + 1, true
			}
			return i, false
		}
	case c == '[':
		i++
		if i < len(b) && b[i] == ']' {
			return i + 1, true
		}
		for {
			var ok bool
			if i, ok = canonicalValue(b, i, depth+1); !ok {
				return i, false
			}
			if i < len(b) && b[i] == ',' {
				i++
				continue
			}
			if i < len(b) && b[i] == ']' {
				return i + 1, true
			}
			return i, false
		}
	case c == '"':
		return canonicalString(b, i)
	case c == '-' || c >= '0' && c <= '9':
		return number(b, i)
	case bytes.HasPrefix(b[i:], []byte("true")):
		return i + 4, true
	case bytes.HasPrefix(b[i:], []byte("false")):
		return i + 5, true
	case bytes.HasPrefix(b[i:], []byte("null")):
		return i + 4, true
	}
	return i, false
}

// canonicalString reports whether the string at b[i] (its opening quote)
// is valid and escaped as encoding/json escapes strings without HTML
// escapes, and returns the index after its closing quote.
func canonicalString(b []byte, i int) (int, bool) {
	i++
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			return i + 1, true
		case c < 0x20:
			return i, false
		case c == '\\':
			if i+1 >= len(b) {
				return i, false
			}
			switch b[i+1] {
			case '"', '\\', 'b', 'f', 'n', 'r', 't':
				i += 2
				continue
			case 'u':
				if i+6 > len(b) {
					return i, false
				}
				u := string(b[i+2 : i+6])
				if u == "2028" || u == "2029" {
					i += 6
					continue
				}
				if u[0] != '0' || u[1] != '0' || (u[2] != '0' && u[2] != '1') || !isLowerHex(u[3]) {
					return i, false
				}
				switch u[2:] {
				case "08", "09", "0a", "0c", "0d":
					return i, false
				}
				i += 6
				continue
			}
			return i, false
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
				return i, false
			}
			i += size
		}
	}
	return i, false
}

func isLowerHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' }

// number reports whether b[i:] starts with a JSON number and returns the
// index after it.
func number(b []byte, i int) (int, bool) {
	digits := func() int {
		n := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if b[i] == '-' {
		i++
	}
	if i < len(b) && b[i] == '0' {
		i++
	} else if digits() == 0 {
		return i, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			return i, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return i, false
		}
	}
	return i, true
}
