package pipeline

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/llmbatch/llmbatch/io/rows"
)

func encodeJSON(t *testing.T, v any) ([]byte, error) {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	err := enc.Encode(v)
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), err
}

// checkAppendBody: what appendBody writes is what encoding/json writes.
func checkAppendBody(t *testing.T, v any) bool {
	t.Helper()
	got, ok := appendBody(nil, v)
	if !ok {
		return false
	}
	want, err := encodeJSON(t, v)
	if err != nil {
		t.Fatalf("%#v: appendBody wrote %s, encoding/json fails: %v", v, got, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%#v:\nappendBody %s\njson       %s", v, got, want)
	}
	return true
}

var appendBodySeeds = []string{
	`{"model":"m","input":"très \"bien\" \u2028\u2029 \u0000 \u001f \b\f\n\r\t \\ / <&> é 😀","n":1.50,"e":-0,"x":1e3,"b":[true,false,null,[],{}],"o":{"z":1,"a":{"y":[1,"2"]}}}`,
	`{"messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}],"max_completion_tokens":64}`,
	`{"":"", "\u00e9":"\ud800", "k\"":"v"}`,
	`{"big":123456789012345678901234567890,"neg":-1.5E-7}`,
}

func TestAppendBody(t *testing.T) {
	for _, s := range appendBodySeeds {
		m, err := rows.DecodeObject([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		if !checkAppendBody(t, m) {
			t.Errorf("%s: appendBody handed the body back", s)
		}
	}
	// Strings as a row may hold them, invalid UTF-8 among them.
	checkAppendBody(t, map[string]any{"input": "a\xffb\xe2\x80c\u2029", "k\xfe": []any{"\x7f", nil}})
	// Values it does not write itself are handed back, to be encoded by
	// encoding/json (Parquet cells, numbers json would refuse).
	for _, v := range []any{int64(1), 1.5, map[string]any{"a": json.Number("01")}, []any{json.Number("")}, map[string]any{"t": []string{"x"}}} {
		if _, ok := appendBody(nil, v); ok {
			t.Errorf("%#v: appendBody wrote it", v)
		}
	}
}

func FuzzAppendBody(f *testing.F) {
	for _, s := range appendBodySeeds {
		f.Add([]byte(s), "")
	}
	f.Add([]byte(`{}`), "a\xffb\u2028")
	f.Fuzz(func(t *testing.T, js []byte, s string) {
		checkAppendBody(t, map[string]any{s: s, "s": []any{s}})
		m, err := rows.DecodeObject(js)
		if err != nil {
			return
		}
		checkAppendBody(t, m)
	})
}
