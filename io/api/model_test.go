package api

import (
	"testing"

	"github.com/llmbatch/llmbatch/io/jsonscan"
)

// ModelString reads what jsonscan.String reads (null as ""), whatever the
// name read before: escaped, invalid UTF-8 or other names in between.
func TestModelString(t *testing.T) {
	texts := []string{`"gpt-4.1-mini"`, `"gpt-4.1-mini"`, `"gpt\u002d4.1-mini"`, `"gpt-4.1-mini"`, "\"gpt\xff\"", "\"gpt\xff\"", `"gpt"`,
		`null`, `"o3"`, `"o3"`, `"a\"b"`, `"a\\b"`, `"a\b"`, `""`, `""`, `"x`, `5`}
	for round := range 2 {
		for _, text := range texts {
			got, gotOK := ModelString([]byte(text))
			want, wantOK := jsonscan.String([]byte(text))
			if text == "null" {
				want, wantOK = "", true
			}
			if got != want || gotOK != wantOK {
				t.Errorf("round %d: ModelString(%s) = %q, %v; want %q, %v", round, text, got, gotOK, want, wantOK)
			}
		}
	}
	name := []byte(`"gpt-4.1-mini"`)
	ModelString(name)
	if n := testing.AllocsPerRun(100, func() { ModelString(name) }); n != 0 {
		t.Errorf("the name read last costs %v allocations", n)
	}
}
