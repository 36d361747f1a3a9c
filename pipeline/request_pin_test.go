package pipeline

import (
	"testing"

	"github.com/llmbatch/llmbatch/io/chat"
	"github.com/llmbatch/llmbatch/io/embeddings"
	"github.com/llmbatch/llmbatch/io/responses"
)

// TestBuilder_BodiesPinned pins request bodies and their hashes byte for
// byte: a journal records each request's sha256 and a resume compares
// them, so a body built differently for the same row and flags would send
// the row again. Any change to how bodies are built must keep these.
func TestBuilder_BodiesPinned(t *testing.T) {
	base := []byte(`{"temperature":0.20,"top_p":1,"text":{"format":{"type":"json_schema","name":"x","schema":{"type":"object","properties":{"b":{"type":"string"},"a":{"enum":["<x>","&"]}}}}},"metadata":{"z":"1","a":"2"},"store":false,"tools":[],"input":"overwritten","messages":"overwritten","max_output_tokens":64,"reasoning":null}`)
	tests := []struct {
		name string
		cfg  Config
		row  string
		body string
		sha  string
	}{
		{"ResponsesTemplate", Config{Template: Template{Model: "gpt-4.1-mini", Prompt: "Review: {{.text}} <{{.n}}> & {{json .o}}", Instructions: "Label <pos|neg> & \u2028 \x01 {{.id}}", Body: base}},
			`{"id":"r1","text":"très \"bien\" \u2028\u2029 \u0000 \\ / é 😀","n":1.50,"o":{"b":[1,2.0,null],"a":"<&>"}}`,
			"{\"input\":\"Review: très \\\"bien\\\" \\u2028\\u2029 \\u0000 \\\\ / é 😀 <1.50> & {\\\"a\\\":\\\"\\\\u003c\\\\u0026\\\\u003e\\\",\\\"b\\\":[1,2.0,null]}\",\"instructions\":\"Label <pos|neg> & \\u2028 \\u0001 r1\",\"max_output_tokens\":64,\"messages\":\"overwritten\",\"metadata\":{\"a\":\"2\",\"z\":\"1\"},\"model\":\"gpt-4.1-mini\",\"reasoning\":null,\"store\":false,\"temperature\":0.20,\"text\":{\"format\":{\"name\":\"x\",\"schema\":{\"properties\":{\"a\":{\"enum\":[\"<x>\",\"&\"]},\"b\":{\"type\":\"string\"}},\"type\":\"object\"},\"type\":\"json_schema\"}},\"tools\":[],\"top_p\":1}",
			"f04bb167be43cb1ed837fc7d35d28e6b66190825c2b8c646919a45decf25fd59"},
		{"ResponsesColumnArray", Config{Template: Template{Model: "m", PromptColumn: "items", ModelColumn: "mc", KeepColumns: []string{"id"}, Body: []byte(`{"model":"from-body","b":1e3,"a":-0}`)}},
			`{"id":7,"mc":"gpt-5-nano","items":[{"role":"user","content":[{"type":"input_text","text":"<hi>"}]},{"role":"assistant","content":"ok"}]}`,
			"{\"a\":-0,\"b\":1e3,\"input\":[{\"content\":[{\"text\":\"<hi>\",\"type\":\"input_text\"}],\"role\":\"user\"},{\"content\":\"ok\",\"role\":\"assistant\"}],\"model\":\"gpt-5-nano\"}",
			"06195b89ad406ff2452fb2574c29d606e73a04fd4c4d73ecba4696c1738ae948"},
		{"ChatTemplate", Config{Template: Template{Model: "gpt-4.1-mini", API: chat.API{}, Prompt: "{{.text}}", Instructions: "sys & <b>", Body: base}},
			`{"text":"hello\tworld\n"}`, "{\"input\":\"overwritten\",\"max_output_tokens\":64,\"messages\":[{\"content\":\"sys & <b>\",\"role\":\"system\"},{\"content\":\"hello\\tworld\\n\",\"role\":\"user\"}],\"metadata\":{\"a\":\"2\",\"z\":\"1\"},\"model\":\"gpt-4.1-mini\",\"reasoning\":null,\"store\":false,\"temperature\":0.20,\"text\":{\"format\":{\"name\":\"x\",\"schema\":{\"properties\":{\"a\":{\"enum\":[\"<x>\",\"&\"]},\"b\":{\"type\":\"string\"}},\"type\":\"object\"},\"type\":\"json_schema\"}},\"tools\":[],\"top_p\":1}",
			"c5d061321cf9943b4538348d87829913e0d706e6248e6adb9b722472141fb2d8"},
		{"ChatMessages", Config{Template: Template{Model: "m", API: chat.API{}, PromptColumn: "m", Body: []byte(`{"max_completion_tokens":5,"response_format":{"type":"json_object"}}`)}},
			`{"m":[{"role":"user","content":"x","name":"u"}]}`, "{\"max_completion_tokens\":5,\"messages\":[{\"content\":\"x\",\"name\":\"u\",\"role\":\"user\"}],\"model\":\"m\",\"response_format\":{\"type\":\"json_object\"}}",
			"581091436638c4f2fb530b3075a74efe75e8ecd9f5a65a23106f3ab7c10fe16f"},
		{"Embeddings", Config{Template: Template{Model: "text-embedding-3-small", API: embeddings.API{}, Body: []byte(`{"dimensions":256}`)}},
			`{"text":"a <b> & c"}`, "{\"dimensions\":256,\"encoding_format\":\"base64\",\"input\":\"a <b> & c\",\"model\":\"text-embedding-3-small\"}",
			"e5d64079fe671f66f0be28ebeaa9e693fb8266c457feb21a722dab47adf960c2"},
		{"ResponsesDefault", Config{Template: Template{Model: "m", API: responses.API{}}}, `{"prompt":"p","input":"i"}`, "{\"input\":\"p\",\"model\":\"m\"}",
			"be4b55d131a965907511a2c8d86efece97077c630a60540b6d0506fdb6b14629"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := newBuilder(&tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			for range 2 { // the builder's buffers are reused: the second build must be the same
				row := mustRow(t, 3, tt.row)
				req, err := b.build(&row)
				if err != nil {
					t.Fatal(err)
				}
				if string(req.body) != tt.body || req.sha != tt.sha {
					t.Errorf("body %s\nsha %s\nwant %s\nsha %s", req.body, req.sha, tt.body, tt.sha)
				}
			}
		})
	}
}
