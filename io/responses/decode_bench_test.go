package responses_test

import (
	"testing"

	"github.com/llmbatch/llmbatch/io/jsonscan"
	"github.com/llmbatch/llmbatch/io/responses"
)

// benchAnswer is a short labelling answer, as most bulk jobs get.
var benchAnswer = []byte(`{"id":"resp_1","object":"response","status":"completed","model":"gpt-4.1-mini","output":[{"type":"message","role":"assistant","content":[{"type":"output_text","text":"positive","annotations":[]}]}],"usage":{"input_tokens":84,"input_tokens_details":{"cached_tokens":0},"output_tokens":2,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":86}}`)

func BenchmarkDecode(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchAnswer)))
	for b.Loop() {
		if _, err := (responses.API{}).Decode(benchAnswer); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValid(b *testing.B) {
	b.SetBytes(int64(len(benchAnswer)))
	for b.Loop() {
		if !jsonscan.Valid(benchAnswer) {
			b.Fatal("invalid")
		}
	}
}
