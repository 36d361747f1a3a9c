package tokens_test

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/llmbatch/llmbatch/io/tokens"
)

// mustCounter returns a new Counter or fails the test.
func mustCounter(tb testing.TB) *tokens.Counter {
	tb.Helper()
	c, err := tokens.New()
	if err != nil {
		tb.Fatalf("New() error = %v", err)
	}
	return c
}

func TestCounter_Count(t *testing.T) {
	// Reference counts from OpenAI's tiktoken for o200k_base: the cookbook
	// "How to count tokens with tiktoken" prints the token ids of the first
	// five strings, and the library returns the same ids.
	tests := []struct {
		text string
		want int
	}{
		{text: "hello world", want: 2},                  // [24912 2375]
		{text: "tiktoken is great!", want: 6},           // [83 8251 2488 382 2212 0]
		{text: "antidisestablishmentarianism", want: 6}, // [493 129901 376 160388 21203 2367]
		{text: "2 + 2 = 4", want: 7},                    // [17 659 220 17 314 220 19]
		{text: "お誕生日おめでとう", want: 8},                    // [8930 9697 243 128225 8930 17693 4344 48669]
		{text: "", want: 0},
		{text: "hello  world", want: 3},  // [24912 220 2375], from the library's own tests
		{text: "<|endoftext|>", want: 7}, // special tokens count as plain text
		{text: "user", want: 1},
		{text: "system", want: 1},
		{text: "Label the sentiment: I loved it!", want: 8},
		{text: "You are a terse classifier.", want: 6},
		{text: "\xff\xfe", want: 1}, // invalid UTF-8 does not fail
	}
	c := mustCounter(t)
	for _, tt := range tests {
		if got := c.Count(tt.text); got != tt.want {
			t.Errorf("Count(%q) = %d, want %d", tt.text, got, tt.want)
		}
	}
}

func TestCounter_CountLong(t *testing.T) {
	c := mustCounter(t)
	// A long run of one character takes the library's heap merge path.
	if got := c.Count(strings.Repeat("a", 10_000)); got <= 0 || got > 10_000 {
		t.Errorf("Count(10,000 × a) = %d, want 1..10000", got)
	}
	// Counting is additive over pieces the pre-tokenizer splits anyway.
	one := c.Count("We know what we are, but know not what we may be.")
	if got, want := c.Count(strings.Repeat("We know what we are, but know not what we may be.\n", 100)), 100*(one+1); got > want || got < want-100 {
		t.Errorf("Count(100 lines) = %d, want about %d", got, want)
	}
}

func TestCounter_Concurrent(t *testing.T) {
	c := mustCounter(t)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range 200 {
				if got := c.Count("tiktoken is great!"); got != 6 {
					t.Errorf("Count() = %d, want 6", got)
					return
				}
				if _, err := c.RequestInputTokens([]byte(`{"input":"hello world"}`)); err != nil {
					t.Errorf("RequestInputTokens() error = %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
}

const schema = `{"type":"object","properties":{"label":{"type":"string","enum":["positive","negative"]}},"required":["label"],"additionalProperties":false}`

func TestCounter_RequestInputTokens(t *testing.T) {
	c := mustCounter(t)
	var (
		msg     = tokens.TokensPerMessage
		reply   = tokens.ReplyPriming
		user    = 1 // "user"
		system  = 1 // "system"
		hello   = 2 // "hello world"
		label   = 8 // "Label the sentiment: I loved it!"
		terse   = 6 // "You are a terse classifier."
		schemaN = c.Count(schema)
		toolsJS = `[{"type":"function","name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]},"strict":true}]`
		toolsN  = c.Count(toolsJS)
	)
	if schemaN != 31 {
		t.Fatalf("Count(schema) = %d, want 31", schemaN)
	}
	tests := []struct {
		name string
		body string
		want int
	}{
		{
			name: "StringInput",
			body: `{"model":"gpt-5-mini","input":"hello world"}`,
			want: reply + msg + user + hello, // 9
		},
		{
			name: "Instructions",
			body: `{"model":"gpt-5-mini","instructions":"You are a terse classifier.","input":"Label the sentiment: I loved it!"}`,
			want: reply + (msg + system + terse) + (msg + user + label), // 25
		},
		{
			name: "EmptyInstructions",
			body: `{"instructions":"","input":"hello world"}`,
			want: reply + msg + user + hello,
		},
		{
			name: "NullInstructionsAndInput",
			body: `{"instructions":null,"input":null}`,
			want: reply,
		},
		{
			name: "NoInput",
			body: `{"model":"gpt-5"}`,
			want: reply,
		},
		{
			name: "MessageItemsStringContent",
			body: `{"input":[
				{"role":"developer","content":"You are a terse classifier."},
				{"type":"message","role":"user","content":"Label the sentiment: I loved it!"}]}`,
			want: reply + (msg + 1 + terse) + (msg + user + label), // "developer" is 1 token
		},
		{
			name: "MessageItemsParts",
			body: `{"input":[{"role":"user","content":[
				{"type":"input_text","text":"Label the sentiment: I loved it!"},
				{"type":"input_text","text":"hello world"}]}]}`,
			want: reply + msg + user + label + hello,
		},
		{
			name: "Conversation",
			body: `{"input":[
				{"role":"user","content":"hello world"},
				{"type":"message","role":"assistant","content":[{"type":"output_text","text":"positive","annotations":[]}]},
				{"role":"user","content":[{"type":"input_text","text":"hello world"}]}]}`,
			want: reply + (msg + user + hello) + (msg + 1 + 1) + (msg + user + hello), // "assistant", "positive": 1 each
		},
		{
			name: "Images",
			body: `{"input":[{"role":"user","content":[
				{"type":"input_text","text":"hello world"},
				{"type":"input_image","image_url":"https://example.com/a.png","detail":"low"},
				{"type":"input_image","image_url":"https://example.com/b.png","detail":"high"},
				{"type":"input_image","file_id":"file-1","detail":"auto"},
				{"type":"input_image","image_url":"data:image/png;base64,AAAA"}]}]}`,
			want: reply + msg + user + hello + tokens.ImageTokensLow + 3*tokens.ImageTokensHigh,
		},
		{
			name: "FileCountsZero",
			body: `{"input":[{"role":"user","content":[{"type":"input_file","file_id":"file-1"},{"type":"input_text","text":"hello world"}]}]}`,
			want: reply + msg + user + hello,
		},
		{
			name: "Schema",
			body: `{"input":"hello world","text":{"format":{"type":"json_schema","name":"result","strict":true,"schema":` + schema + `}}}`,
			want: reply + msg + user + hello + schemaN, // 40
		},
		{
			name: "SchemaPrettyPrinted",
			body: `{"input":"hello world","text":{"format":{"type":"json_schema","name":"result","schema":{
				"type": "object",
				"properties": {"label": {"type": "string", "enum": ["positive", "negative"]}},
				"required": ["label"],
				"additionalProperties": false
			}}}}`,
			want: reply + msg + user + hello + schemaN,
		},
		{
			name: "TextFormatWithoutSchema",
			body: `{"input":"hello world","text":{"format":{"type":"json_object"},"verbosity":"low"}}`,
			want: reply + msg + user + hello,
		},
		{
			name: "Tools",
			body: `{"input":"hello world","tools":` + toolsJS + `}`,
			want: reply + msg + user + hello + toolsN,
		},
		{
			name: "EmptyTools",
			body: `{"input":"hello world","tools":[]}`,
			want: reply + msg + user + hello + 1, // "[]"
		},
		{
			name: "FunctionCallRoundTrip",
			body: `{"input":[
				{"role":"user","content":"hello world"},
				{"type":"function_call","call_id":"c1","name":"get_weather","arguments":"{\"city\":\"Paris\"}"},
				{"type":"function_call_output","call_id":"c1","output":"hello world"}]}`,
			want: reply + (msg + user + hello) + (msg + 2 + 5) + (msg + hello), // get_weather 2, {"city":"Paris"} 5
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.RequestInputTokens([]byte(tt.body))
			if err != nil {
				t.Fatalf("RequestInputTokens() error = %v", err)
			}
			if got != tt.want {
				t.Errorf("RequestInputTokens() = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestCounter_RequestInputTokensErrors(t *testing.T) {
	c := mustCounter(t)
	tests := []struct {
		name string
		body string
	}{
		{name: "Empty", body: ``},
		{name: "NotJSON", body: `input: hello`},
		{name: "Array", body: `[{"input":"x"}]`},
		{name: "Null", body: `null`},
		{name: "String", body: `"hello"`},
		{name: "Truncated", body: `{"input":"hello`},
		{name: "InputNumber", body: `{"input":42}`},
		{name: "InputObject", body: `{"input":{"role":"user"}}`},
		{name: "ItemNotObject", body: `{"input":["hello"]}`},
		{name: "ContentNumber", body: `{"input":[{"role":"user","content":7}]}`},
		{name: "InstructionsNumber", body: `{"instructions":1,"input":"x"}`},
		{name: "ToolsObject", body: `{"input":"x","tools":{"type":"function"}}`},
		{name: "FormatString", body: `{"input":"x","text":{"format":"json"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := c.RequestInputTokens([]byte(tt.body))
			if !errors.Is(err, tokens.ErrRequest) {
				t.Errorf("RequestInputTokens(%s) = %d, %v, want ErrRequest", tt.body, n, err)
			}
		})
	}
}
