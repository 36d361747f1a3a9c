package jsonscan

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestObjectAndArray(t *testing.T) {
	var keys, vals []string
	ok := Object([]byte(` { "a" : "x\\" , "b\"":1}`), func(k, v []byte) bool {
		keys, vals = append(keys, string(k)), append(vals, string(v))
		return true
	})
	if ok { // an escaped key hands the object back
		t.Errorf("escaped key read: %q %q", keys, vals)
	}
	keys, vals = nil, nil
	ok = Object([]byte(`{"a":"x\\\\\"y\\","b":[1,{"c":"]}"}],"d":-1.5e3 ,"e":null}`), func(k, v []byte) bool {
		keys, vals = append(keys, string(k)), append(vals, string(v))
		return true
	})
	if !ok || !slices.Equal(keys, []string{"a", "b", "d", "e"}) ||
		!slices.Equal(vals, []string{`"x\\\\\"y\\"`, `[1,{"c":"]}"}]`, `-1.5e3`, `null`}) {
		t.Errorf("Object = %v %q %q", ok, keys, vals)
	}
	if s, ok := String([]byte(`"x\\\\\"y\\"`)); !ok || s != `x\\"y\` {
		t.Errorf("String = %q %v", s, ok)
	}
	var n int
	if !Array([]byte(`[ ]`), func([]byte) bool { n++; return true }) || n != 0 {
		t.Error("empty array")
	}
	if Object([]byte(`[]`), func(k, v []byte) bool { return true }) || Array([]byte(`{}`), func([]byte) bool { return true }) {
		t.Error("wrong kind read")
	}
}

var validSeeds = []string{
	`{"a":[1,-0.5e+3,true,false,null,"x\"\\\/\b\f\n\r\t\u00e9"],"b":{}}`, ` [ ] `, `0`, `-`, `01`, `1.`, `1e`, `.5`, `"\x"`, `"\u12"`,
	"\"\x01\"", `{"a" 1}`, `{"a":1,}`, `[1,]`, `tru`, `nul`, `{"a":1}}`, `"` + "\xff" + `"`, ``, ` `, `[1 2]`, `{,}`, `1 1`,
}

// TestValidIsJSONValid: Valid says what json.Valid says.
func TestValidIsJSONValid(t *testing.T) {
	for _, s := range validSeeds {
		if got, want := Valid([]byte(s)), json.Valid([]byte(s)); got != want {
			t.Errorf("Valid(%q) = %v, json.Valid %v", s, got, want)
		}
	}
	deep := func(n int) []byte {
		return []byte(strings.Repeat("[", n) + strings.Repeat("]", n))
	}
	for _, n := range []int{10000, 10001} {
		if got, want := Valid(deep(n)), json.Valid(deep(n)); got != want {
			t.Errorf("nesting %d: Valid %v, json.Valid %v", n, got, want)
		}
	}
}

func FuzzValid(f *testing.F) {
	for _, s := range validSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := Valid(b), json.Valid(b); got != want {
			t.Fatalf("Valid(%q) = %v, json.Valid %v", b, got, want)
		}
	})
}

func TestSpecialIsByteLoop(t *testing.T) {
	ref := func(x uint64) bool {
		for range 8 {
			c := byte(x)
			if c == '"' || c == '\\' || c < 0x20 {
				return true
			}
			x >>= 8
		}
		return false
	}
	r := rand.New(rand.NewPCG(1, 2))
	edge := []byte{0, 0x1f, 0x20, 0x21, '"', '#', '[', '\\', ']', 0x7f, 0x80, 0x9f, 0xa0, 0xa2, 0xdc, 0xff}
	for i := range 2_000_000 {
		var x uint64
		for k := range 8 {
			c := byte(r.Uint32())
			if i%2 == 0 {
				c = edge[r.IntN(len(edge))]
			}
			x |= uint64(c) << (8 * k)
		}
		if special(x) != ref(x) {
			t.Fatalf("special(%#016x) = %v", x, special(x))
		}
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "a\"b\\c\n\t\x01", "é\u2028\u2029<&>", "\xff\xfe bad"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var b strings.Builder
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		if got, want := string(AppendString(nil, s)), strings.TrimSuffix(b.String(), "\n"); got != want {
			t.Fatalf("AppendString(%q) = %s, encoding/json %s", s, got, want)
		}
	})
}

func TestFields(t *testing.T) {
	names := []string{"a", "bb"}
	cases := []struct {
		in   string
		ok   bool
		seen string
	}{
		{`{"a":1,"x":[{"a":2}],"bb":"y"}`, true, `0=1 1="y" `},
		{`{}`, true, ``},
		{`{"x":1}`, true, ``},
		{`{"a":1,"a":2}`, false, `0=1 `}, // encoding/json keeps the last
		{`{"A":1}`, false, ``},           // encoding/json folds case
		{`{"Bb":1,"a":2}`, false, ``},    // folded, before a known one
		{`{"\u0061":1}`, false, ``},      // an escaped key
		{`[1]`, false, ``},
	}
	for _, c := range cases {
		var seen strings.Builder
		ok := Fields([]byte(c.in), names, func(i int, v []byte) bool {
			seen.WriteString(strconv.Itoa(i) + "=" + string(v) + " ")
			return true
		})
		if ok != c.ok || seen.String() != c.seen {
			t.Errorf("Fields(%s) = %v, saw %q; want %v, %q", c.in, ok, seen.String(), c.ok, c.seen)
		}
	}
	if Fields([]byte(`{"a":1}`), names, func(int, []byte) bool { return false }) {
		t.Error("Fields went on after fn said no")
	}
}

// FuzzDocument: a text Document walks whole is valid JSON, and a valid
// object with plain keys and no repeated or folded known names is walked
// whole.
func FuzzDocument(f *testing.F) {
	for _, s := range []string{`{"a":1,"bb":[1,{"a":"x"}]}`, `{"a":1} x`, `{"a":1}`, ` {} `, `{"a":[}`, `{"a":"\u00"}`, `{"x":1e}`} {
		f.Add([]byte(s))
	}
	names := []string{"a", "bb"}
	f.Fuzz(func(t *testing.T, b []byte) {
		ok := Document(b, names, func(int, []byte) bool { return true })
		if ok && !json.Valid(b) {
			t.Fatalf("Document walked %q, which is not JSON", b)
		}
		if !ok && json.Valid(b) {
			var m map[string]json.RawMessage
			if json.Unmarshal(b, &m) != nil {
				return // not an object
			}
			plain := Object(b, func(key, _ []byte) bool { return true })
			folded := false
			for k := range m {
				if Folds([]byte(k), names...) && k != "a" && k != "bb" {
					folded = true
				}
			}
			if plain && !folded && !bytes.Contains(b, []byte(`"a":`)) && !bytes.Contains(b, []byte(`"bb":`)) {
				t.Fatalf("Document refused the valid object %q", b)
			}
		}
	})
}

// TestAppendStringEveryOffset puts each kind of byte that is not copied
// as it is at every offset of strings longer than the eight-byte steps.
func TestAppendStringEveryOffset(t *testing.T) {
	for _, odd := range []string{"\"", "\\", "\n", "\x01", "\x1f", "é", "\u2028", "\xff", "😀"} {
		for n := 0; n < 40; n++ {
			for at := 0; at <= n; at++ {
				s := strings.Repeat("a", at) + odd + strings.Repeat("b", n-at)
				var b strings.Builder
				enc := json.NewEncoder(&b)
				enc.SetEscapeHTML(false)
				enc.Encode(s)
				if got, want := string(AppendString(nil, s)), strings.TrimSuffix(b.String(), "\n"); got != want {
					t.Fatalf("AppendString(%q) = %s, encoding/json %s", s, got, want)
				}
			}
		}
	}
}

// walkAt walks the value at b[i] in place with ObjectAt and ArrayAt,
// every container level by a walk of its own (as a nested decoder reads
// an answer), and returns its end.
func walkAt(b []byte, i, depth int) int {
	i = skipSpace(b, i)
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '{':
		return ObjectAt(b, i, depth, func(_ []byte, start int) int { return walkAt(b, start, depth+1) })
	case '[':
		return ArrayAt(b, i, depth, func(start int) int { return walkAt(b, start, depth+1) })
	}
	return Skip(b, i, depth)
}

// TestWalkAtIsJSONValid: a text walked whole in place, each level by its
// own walk, is accepted exactly when json.Valid accepts it, nesting
// limit included; a walk that skips values (fn returns 0) agrees too.
func TestWalkAtIsJSONValid(t *testing.T) {
	seeds := slices.Clone(validSeeds)
	for _, n := range []int{9999, 10000, 10001} {
		seeds = append(seeds, strings.Repeat(`{"a":[`, n/2)+strings.Repeat(`]}`, n/2), strings.Repeat("[", n)+strings.Repeat("]", n),
			`{"x":`+strings.Repeat("[", n-1)+strings.Repeat("]", n-1)+`}`, strings.Repeat("[", n)+`{}`+strings.Repeat("]", n),
			strings.Repeat("[", n)+`{"a":1}`+strings.Repeat("]", n))
	}
	for _, s := range seeds {
		checkWalkAt(t, []byte(s))
	}
}

func checkWalkAt(t *testing.T, b []byte) {
	t.Helper()
	want := json.Valid(b)
	if got := End(b, walkAt(b, 0, 0)) >= 0; got != want {
		t.Errorf("walkAt(%.40q): %v, json.Valid %v", b, got, want)
	}
	i := skipSpace(b, 0)
	var skipped int
	switch {
	case i < len(b) && b[i] == '{':
		skipped = ObjectAt(b, i, 0, func([]byte, int) int { return 0 })
	case i < len(b) && b[i] == '[':
		skipped = ArrayAt(b, i, 0, func(int) int { return 0 })
	default:
		return
	}
	if got := End(b, skipped) >= 0; got != want {
		t.Errorf("skipping walk of %.40q: %v, json.Valid %v", b, got, want)
	}
}

func FuzzWalkAt(f *testing.F) {
	for _, s := range validSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkWalkAt(t, b) })
}

var stringSeeds = []string{
	`"plain"`, `""`, `"a \"quoted\" word"`, `"back\\slash\/and\b\f\n\r\t"`, `"caf\u00e9 \u00E9t\u00e9"`,
	`"\ud83d\ude00 smile"`, `"lone \ud83d high"`, `"lone \ude00 low"`, `"pair then lone \ud83d\ude00\ud83d"`,
	`"\ud83d\u0041"`, `"\u0000 nul"`, "\"raw \xff byte\"", "\"raw \xed\xa0\x80 surrogate\"", `"日本語 and \u65e5"`,
	"\"mixed \xc3\xa9 and \\u00e9\"", `"\\u00e9 is not an escape"`,
}

// TestStringIsEncodingJSON: String reads every string as json.Unmarshal
// does, escapes, surrogates and invalid UTF-8 among them.
func TestStringIsEncodingJSON(t *testing.T) {
	for _, s := range stringSeeds {
		checkString(t, []byte(s))
	}
}

func checkString(t *testing.T, b []byte) {
	t.Helper()
	if !json.Valid(b) || len(b) < 2 || b[0] != '"' {
		return
	}
	var want string
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatalf("%q: %v", b, err)
	}
	if got, ok := String(b); !ok || got != want {
		t.Fatalf("String(%q) = %q, %v; encoding/json %q", b, got, ok, want)
	}
}

func FuzzString(f *testing.F) {
	for _, s := range stringSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkString(t, b) })
}
