package secret_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/llmbatch/llmbatch/io/secret"
)

func TestNewRedactor_ShortKeys(t *testing.T) {
	for _, key := range []string{"", "k", "x", "1", "gpt", "EMPTY", "dummy", "sk-1234"} {
		if r := secret.NewRedactor(key); r != nil {
			t.Errorf("NewRedactor(%q) = %v, want nil (shorter than %d bytes)", key, r, secret.MinKeyLen)
		}
	}
	var r *secret.Redactor
	b := []byte(`{"input_tokens":1}`)
	if got := r.JSON(b); &got[0] != &b[0] {
		t.Errorf("nil Redactor changed the text")
	}
}

func TestRedactor_JSON(t *testing.T) {
	long := "sk-proj-" + strings.Repeat("Ab3_", 39)
	tests := []struct {
		name, key, in string
	}{
		{"Raw", long, `{"echo":"` + long + `","n":1}`},
		{"Quote", `a"b\c-secret`, `{"echo":"a\"b\\c-secret"}`},
		{"HTML", `sk-<x>&y-secret`, `{"echo":"sk-\u003cx\u003e\u0026y-secret","b":"sk-<x>&y-secret"}`},
		{"HTMLUpper", `sk-<x>&y-secret`, `{"echo":"sk-\u003Cx\u003E\u0026y-secret"}`},
		{"Slash", `sk/abc/def`, `{"echo":"sk\/abc\/def"}`},
		{"Digits", `12345678`, `{"input_tokens":123456789,"echo":"12345678"}`},
		{"Punctuation", `x":"yyyyy`, `{"x":"yyyyy","echo":"x\":\"yyyyy"}`},
		{"Key", long, `{"` + long + `":true}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := secret.NewRedactor(tt.key)
			got := r.JSON([]byte(tt.in + "\n"))
			if !json.Valid(got) || !bytes.HasSuffix(got, []byte("\n")) {
				t.Fatalf("JSON() = %s: not one valid JSON line", got)
			}
			var v map[string]any
			json.Unmarshal(got, &v)
			if e, ok := v["echo"]; ok && e != secret.Mask {
				t.Errorf("echo = %v, want %s", e, secret.Mask)
			}
			// A number holding the digits, or JSON's own punctuation, is
			// not the key.
			if r.Contains(got) && tt.name != "Digits" && tt.name != "Punctuation" {
				t.Errorf("JSON() = %s still holds the key", got)
			}
			if tt.name == "Digits" && v["input_tokens"] != 123456789.0 {
				t.Errorf("a number was changed: %s", got)
			}
		})
	}
}

func TestRedactor_NoKeyNoAlloc(t *testing.T) {
	r := secret.NewRedactor(`sk-<x>&y-secret`)
	line := []byte(strings.Repeat(`{"output_text":"hello world","usage":{"input_tokens":12}}`, 50))
	n := testing.AllocsPerRun(100, func() { r.JSON(line) })
	if n != 0 {
		t.Errorf("JSON() of a line without the key: %v allocs, want 0", n)
	}
}

func TestWriter(t *testing.T) {
	var b bytes.Buffer
	w := &secret.Writer{W: &b, R: secret.NewRedactor("sk-secret-key")}
	if n, err := w.Write([]byte("error: key sk-secret-key rejected\n")); err != nil || n != 34 {
		t.Fatalf("Write() = %d, %v", n, err)
	}
	if got, want := b.String(), "error: key [redacted] rejected\n"; got != want {
		t.Errorf("wrote %q, want %q", got, want)
	}
}

func BenchmarkRedactor_Contains(b *testing.B) {
	red := secret.NewRedactor("sk-proj-" + strings.Repeat("Ab3x", 39))
	line := []byte(`{"custom_id":"row-7","index":7,"response":{"status_code":200,"request_id":"req_7","body":{"id":"resp_1","object":"response","status":"completed","model":"gpt-4.1-mini","output":[{"type":"message","role":"assistant","content":[{"type":"output_text","text":"` +
		strings.Repeat("The customer liked the product but found delivery slow. ", 8) + `","annotations":[]}]}],"usage":{"input_tokens":84,"output_tokens":2,"total_tokens":86}}},"output_text":"positive","usage":{"input_tokens":84,"output_tokens":2,"total_tokens":86},"model":"gpt-4.1-mini","attempts":1,"latency_ms":3}`)
	b.SetBytes(int64(len(line)))
	for range b.N {
		if red.Contains(line) {
			b.Fatal("found")
		}
	}
}
