package chat

import (
	"encoding/json"
	"testing"

	"github.com/llmbatch/llmbatch/io/api"
	"github.com/llmbatch/llmbatch/io/tokens"
)

var _ api.API = API{}

func TestFillAndMeter(t *testing.T) {
	body := map[string]any{"model": "gpt-5-mini", "max_tokens": 50}
	sys := "Be brief."
	if err := (API{}).Fill(body, "Label: good", &sys); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(body)
	want := `{"max_tokens":50,"messages":[{"content":"Be brief.","role":"system"},{"content":"Label: good","role":"user"}],"model":"gpt-5-mini"}`
	if string(b) != want {
		t.Fatalf("body %s\nwant %s", b, want)
	}
	c, _ := tokens.New()
	m := (API{}).Meter(b, c)
	if m.Model != "gpt-5-mini" || m.MaxOutput != 50 || m.InputTokens < 10 || m.InputTokens > 30 {
		t.Fatalf("meter %+v", m)
	}
	if m := (API{}).Meter([]byte(`{"model":"m","max_completion_tokens":9,"max_tokens":50,"messages":[]}`), c); m.MaxOutput != 9 {
		t.Fatalf("max_completion_tokens should win: %+v", m)
	}
	if err := (API{}).Fill(map[string]any{}, 3.5, nil); err == nil {
		t.Fatal("a number prompt should be refused")
	}
}

func TestDecode(t *testing.T) {
	for _, c := range []struct {
		name, body string
		text, code string
		usage      api.Usage
		err        bool
	}{
		{"ok", `{"object":"chat.completion","model":"gpt-5-mini","choices":[{"index":0,"message":{"role":"assistant","content":"positive","refusal":null},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15,"prompt_tokens_details":{"cached_tokens":2},"completion_tokens_details":{"reasoning_tokens":1}}}`,
			"positive", "", u(12, 2, 3, 1, 15), false},
		{"length", `{"model":"m","choices":[{"message":{"content":"posi"},"finish_reason":"length"}],"usage":{"prompt_tokens":5,"completion_tokens":16}}`,
			"posi", api.CodeIncomplete, u(5, 0, 16, 0, 21), false},
		{"refusal", `{"model":"m","choices":[{"message":{"content":null,"refusal":"I can't."},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":4}}`,
			"", api.CodeRefused, u(5, 0, 4, 0, 9), false},
		{"parts", `{"model":"m","choices":[{"message":{"content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]},"finish_reason":"stop"}]}`,
			"ab", "", api.Usage{}, false},
		{"not chat", `{"model":"m","data":[],"usage":{"prompt_tokens":3}}`, "", "", u(3, 0, 0, 0, 3), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := (API{}).Decode([]byte(c.body))
			if (err != nil) != c.err {
				t.Fatalf("err %v", err)
			}
			if r.Usage != c.usage {
				t.Fatalf("usage %+v, want %+v", r.Usage, c.usage)
			}
			if err != nil {
				return
			}
			code := ""
			if r.Failure != nil {
				code = r.Failure.Code
			}
			if r.OutputText != c.text || code != c.code {
				t.Fatalf("got %q %q, want %q %q", r.OutputText, code, c.text, c.code)
			}
		})
	}
}

func u(in, cached, out, reasoning, total int64) api.Usage {
	return api.Usage{InputTokens: in, CachedInputTokens: cached, OutputTokens: out, ReasoningTokens: reasoning, TotalTokens: total}
}
