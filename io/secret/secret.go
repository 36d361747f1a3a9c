// Package secret keeps an API key out of what llmbatch writes: the journal,
// the summary, error messages and log lines. It is applied at those sinks
// only; answers are parsed exactly as received.
//
// Only a key of at least MinKeyLen bytes is redacted. Shorter keys (the
// placeholders local servers document: "x", "EMPTY", "dummy", "sk-1234")
// are not secrets, and replacing them would corrupt unrelated text: "x"
// occurs in nearly every answer. A key is looked for in every form it
// takes in JSON text: as is, JSON-escaped (`"` and `\` and control
// characters), and HTML-escaped JSON (`<`, `>`, `&` as \u003c, \u003e,
// \u0026, in lower- and upper-case hex), as encoding/json, Python's json
// and JavaScript's JSON.stringify write it.
package secret

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
)

// MinKeyLen is the length, in bytes, from which a key is redacted. Real API
// keys are far longer (OpenAI's 51 to 164 bytes, gateways' 20 to 64); the
// placeholder keys of local servers are shorter.
const MinKeyLen = 8

// Mask replaces every occurrence of the key.
const Mask = "[redacted]"

// Redactor replaces the forms of one key. A nil *Redactor redacts nothing,
// so callers need not check; NewRedactor returns nil for a key shorter
// than MinKeyLen. A Redactor is immutable and safe for concurrent use.
type Redactor struct {
	forms  [][]byte // distinct forms of the key, longest first
	sforms []string
	anchor []int // for each form, the offset of its rarest byte (rarity)
}

// NewRedactor returns a Redactor of key, or nil when key is shorter than
// MinKeyLen.
func NewRedactor(key string) *Redactor {
	if len(key) < MinKeyLen {
		return nil
	}
	r := &Redactor{}
	add := func(f string) {
		for _, g := range r.sforms {
			if g == f {
				return
			}
		}
		r.sforms = append(r.sforms, f)
	}
	add(key)
	for _, html := range []bool{false, true} {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(html)
		_ = enc.Encode(key) // a string always encodes
		f := strings.TrimSuffix(b.String(), "\n")
		f = f[1 : len(f)-1] // drop the quotes
		add(f)
		add(upperHex(f))
		add(strings.ReplaceAll(f, "/", `\/`)) // PHP's json_encode
	}
	// Longest first, so that a form containing another is replaced whole.
	for i := 1; i < len(r.sforms); i++ {
		for j := i; j > 0 && len(r.sforms[j]) > len(r.sforms[j-1]); j-- {
			r.sforms[j], r.sforms[j-1] = r.sforms[j-1], r.sforms[j]
		}
	}
	for _, f := range r.sforms {
		r.forms = append(r.forms, []byte(f))
		k := 0
		for i := range len(f) {
			if rarity(f[i]) > rarity(f[k]) {
				k = i
			}
		}
		r.anchor = append(r.anchor, k)
	}
	return r
}

// common lists the bytes of English text and JSON from the most frequent
// on (roughly); rarity ranks a byte by it, bytes not listed (upper case
// letters but a few, most punctuation, non-ASCII) rarest of all.
const common = ` etaoinsrhldcu"mfpgwyb,:.vk_-{}x0123456789jqzTSAICMPOBRNEDHLFWGUKVYJQXZ`

func rarity(c byte) int {
	if i := strings.IndexByte(common, c); i >= 0 {
		return i
	}
	return len(common)
}

// contains reports whether b holds form f, whose rarest byte is at f[k]:
// the byte search (bytes.IndexByte, which reads many bytes at a time)
// looks for that byte, where a text has few; bytes.Contains looks for the
// first, often an "s" of "sk-". A text full of that byte after all (a
// base64 vector of zeros is all "A") would make it compare at every
// byte: after more misses than one per 16 bytes read, the rest is left
// to bytes.Index, linear whatever the text (as bytes.Index itself gives
// up on its first byte).
func contains(b, f []byte, k int) bool {
	misses := 0
	for i := 0; i+len(f) <= len(b); {
		j := bytes.IndexByte(b[i+k:len(b)-len(f)+k+1], f[k])
		if j < 0 {
			return false
		}
		if bytes.Equal(b[i+j:i+j+len(f)], f) {
			return true
		}
		i += j + 1
		if misses++; misses > 4+i/16 {
			return bytes.Index(b[i:], f) >= 0
		}
	}
	return false
}

// upperHex writes the hex digits of \uXXXX escapes in upper case.
func upperHex(s string) string {
	if !strings.Contains(s, `\u`) {
		return s
	}
	b := []byte(s)
	for i := 0; i+1 < len(b); i++ {
		if b[i] == '\\' && b[i+1] == 'u' && i+6 <= len(b) {
			for k := i + 2; k < i+6; k++ {
				if b[k] >= 'a' && b[k] <= 'f' {
					b[k] -= 'a' - 'A'
				}
			}
			i += 5
		} else if b[i] == '\\' {
			i++ // skip the escaped character
		}
	}
	return string(b)
}

// Contains reports whether b holds any form of the key. It does not
// allocate.
func (r *Redactor) Contains(b []byte) bool {
	if r == nil {
		return false
	}
	for i, f := range r.forms {
		if contains(b, f, r.anchor[i]) {
			return true
		}
	}
	return false
}

// Bytes returns b with every form of the key replaced by Mask, in a new
// slice; b is not modified. When b holds none, it returns b itself, with
// no allocation.
func (r *Redactor) Bytes(b []byte) []byte {
	if !r.Contains(b) {
		return b
	}
	for _, f := range r.forms {
		if bytes.Contains(b, f) {
			b = bytes.ReplaceAll(b, f, []byte(Mask))
		}
	}
	return b
}

// String is Bytes for a string.
func (r *Redactor) String(s string) string {
	if r == nil {
		return s
	}
	for _, f := range r.sforms {
		if strings.Contains(s, f) {
			s = strings.ReplaceAll(s, f, Mask)
		}
	}
	return s
}

// JSON returns the JSON text b with every form of the key replaced, still
// valid JSON. When b holds none, it returns b itself, with no allocation.
// The key is replaced in strings (and object keys) only: a key made of
// digits that a number happens to contain is left alone, and so is a key
// that matches JSON's own punctuation. A trailing newline is kept. If b is
// not valid JSON, it is redacted as plain text.
func (r *Redactor) JSON(b []byte) []byte {
	if !r.Contains(b) {
		return b
	}
	out := r.Bytes(b)
	if json.Valid(out) || !json.Valid(b) {
		return out
	}
	// Rare: a replacement cut through JSON syntax. Rewrite token by token,
	// redacting decoded strings, in the original order.
	safe, err := r.tokens(b)
	if err != nil {
		return out
	}
	return safe
}

// tokens re-encodes the JSON text b token by token, with the key replaced
// inside every string. Numbers are kept as written.
func (r *Redactor) tokens(b []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out bytes.Buffer
	out.Grow(len(b))
	type frame struct {
		obj bool
		n   int // values (or keys and values) written in this container
	}
	var stack []frame
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			out.WriteByte(byte(d))
			continue
		}
		if n := len(stack); n > 0 {
			f := &stack[n-1]
			switch {
			case f.obj && f.n%2 == 1:
				out.WriteByte(':')
			case f.n > 0:
				out.WriteByte(',')
			}
			f.n++
		}
		switch v := tok.(type) {
		case json.Delim:
			out.WriteByte(byte(v))
			stack = append(stack, frame{obj: v == '{'})
		case string:
			s, _ := json.Marshal(r.String(v))
			out.Write(s)
		case json.Number:
			out.WriteString(string(v))
		case bool:
			if v {
				out.WriteString("true")
			} else {
				out.WriteString("false")
			}
		case nil:
			out.WriteString("null")
		}
	}
	if bytes.HasSuffix(b, []byte("\n")) {
		out.WriteByte('\n')
	}
	return out.Bytes(), nil
}

// Writer redacts what is written through it. Each Write is redacted on
// its own: a key split over two writes is not found, which is why sinks
// write whole lines (slog handlers, fmt.Fprintf of a message).
type Writer struct {
	W io.Writer
	R *Redactor
}

// Write writes p, redacted, to w.W. It reports len(p) written when the
// redacted text was written whole.
func (w *Writer) Write(p []byte) (int, error) {
	if !w.R.Contains(p) {
		return w.W.Write(p)
	}
	if _, err := w.W.Write(w.R.Bytes(p)); err != nil {
		return 0, err
	}
	return len(p), nil
}
