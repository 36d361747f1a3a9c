package chat_test

import (
	"testing"

	"github.com/llmbatch/llmbatch/io/chat"
)

// benchAnswer is a short labelling answer, as most bulk jobs get.
var benchAnswer = []byte(`{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4.1-mini","choices":[{"index":0,"message":{"role":"assistant","content":"positive","refusal":null},"finish_reason":"stop"}],"usage":{"prompt_tokens":84,"completion_tokens":2,"total_tokens":86}}`)

func BenchmarkDecode(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchAnswer)))
	for b.Loop() {
		if _, err := (chat.API{}).Decode(benchAnswer); err != nil {
			b.Fatal(err)
		}
	}
}
