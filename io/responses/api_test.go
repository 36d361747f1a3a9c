package responses

import (
	"encoding/json"
	"testing"

	"github.com/llmbatch/llmbatch/io/api"
	"github.com/llmbatch/llmbatch/io/tokens"
)

var (
	_ api.API           = API{}
	_ api.Schemer       = API{}
	_ api.StreamDecoder = API{}
)

func TestDecode(t *testing.T) {
	for _, c := range []struct {
		name, body      string
		text, code, typ string
		retryable, err  bool
	}{
		{name: "completed", body: `{"object":"response","status":"completed","model":"m","output":[{"type":"reasoning"},{"type":"message","content":[{"type":"output_text","text":"po"},{"type":"output_text","text":"sitive"}]}],"usage":{"input_tokens":3,"output_tokens":2}}`, text: "positive"},
		{name: "refusal", body: `{"status":"completed","output":[{"type":"message","content":[{"type":"refusal","refusal":"I can't help with that."}]}],"usage":{"input_tokens":3,"output_tokens":2}}`, code: api.CodeRefused},
		{name: "refusal beside text", body: `{"status":"completed","output":[{"type":"message","content":[{"type":"output_text","text":"ok"},{"type":"refusal","refusal":"no"}]}]}`, text: "ok"},
		{name: "refusal, escaped (json path)", body: `{"status":"completed","output":[{"type":"message","content":[{"type":"refusal","refusal":"I can\u0027t"}]}]}`, code: api.CodeRefused},
		{name: "incomplete", body: `{"status":"incomplete","incomplete_details":{"reason":"max_output_tokens"},"output":[]}`, code: api.CodeIncomplete},
		{name: "failed server_error", body: `{"status":"failed","error":{"code":"server_error","type":"server","message":"boom"},"output":[]}`, code: "server_error", typ: "server", retryable: true},
		{name: "failed string error", body: `{"status":"failed","error":"the model crashed","output":[]}`, code: api.CodeFailed},
		{name: "other status", body: `{"status":"queued","output":[]}`, code: api.CodeBadStatus},
		{name: "not a response", body: `{"data":[]}`, err: true},
		{name: "bad usage", body: `{"status":"completed","output":[],"usage":{"input_tokens":1.5}}`, err: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := (API{}).Decode([]byte(c.body))
			if (err != nil) != c.err {
				t.Fatalf("err = %v", err)
			}
			if c.err {
				return
			}
			code, typ, retry := "", "", false
			if f := r.Failure; f != nil {
				code, typ, retry = f.Code, f.Type, f.Retryable
			}
			if r.OutputText != c.text || code != c.code || typ != c.typ || retry != c.retryable {
				t.Fatalf("got text %q code %q type %q retryable %v", r.OutputText, code, typ, retry)
			}
		})
	}
}

func TestFillMeterStream(t *testing.T) {
	body := map[string]any{"model": "gpt-5-mini", "max_output_tokens": 40}
	in := "sys"
	if err := (API{}).Fill(body, "hello", &in); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(body)
	c, _ := tokens.New()
	if m := (API{}).Meter(b, c); m.Model != "gpt-5-mini" || m.MaxOutput != 40 || m.InputTokens <= 0 {
		t.Fatalf("meter %+v of %s", m, b)
	}
	if m := (API{}).Meter([]byte(`{"model":"x","input":"hi"}`), nil); m.MaxOutput != -1 {
		t.Fatalf("no cap: %+v", m)
	}
	stream := "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"status\":\"in_progress\",\"output\":[]}}\n\n" +
		"event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"status\":\"completed\",\"model\":\"m\",\"output\":[],\"usage\":{\"input_tokens\":7,\"output_tokens\":1}}}\n\n"
	r, raw, ok := (API{}).DecodeStream([]byte(stream))
	if !ok || r.Usage.InputTokens != 7 || !json.Valid(raw) {
		t.Fatalf("stream: %+v %s %v", r, raw, ok)
	}
}
