package embeddings_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/llmbatch/llmbatch/io/embeddings"
)

// BenchmarkUnpack splits an answer to a pack of 128 inputs (192
// dimensions each, in base64) into its rows' results.
func BenchmarkUnpack(b *testing.B) {
	const n = 128
	vec := `"` + strings.Repeat("AACAPwAAgD8AAIA/", 64) + `"`
	var body bytes.Buffer
	body.WriteString(`{"object":"list","data":[`)
	for i := range n {
		if i > 0 {
			body.WriteByte(',')
		}
		fmt.Fprintf(&body, `{"object":"embedding","index":%d,"embedding":%s}`, i, vec)
	}
	fmt.Fprintf(&body, `],"model":"text-embedding-3-small","usage":{"prompt_tokens":%d,"total_tokens":%d}}`, 80*n, 80*n)
	weights := make([]int64, n)
	for i := range weights {
		weights[i] = 80
	}
	b.ReportAllocs()
	b.SetBytes(int64(body.Len()))
	for b.Loop() {
		if _, err := (embeddings.API{}).Unpack(body.Bytes(), weights); err != nil {
			b.Fatal(err)
		}
	}
}
