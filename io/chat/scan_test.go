package chat

import (
	"encoding/json"
	"reflect"
	"testing"
)

var scanCorpus = []string{
	`{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4.1-mini","choices":[{"index":0,"message":{"role":"assistant","content":"positive","refusal":null},"finish_reason":"stop"}],"usage":{"prompt_tokens":84,"completion_tokens":2,"total_tokens":86}}`,
	` { "model" : "m" , "choices" : [ { "message" : { "content" : [ {"type":"text","text":"a"} , {"type":"text","text":"\u00e9\"\n"} ] } , "finish_reason" : "length" } ] } `,
	`{"choices":[{"message":{"content":null,"refusal":"I can't"},"finish_reason":"stop"}]}`,
	`{"choices":[{"message":{"content":"x","refusal":""}}],"usage":{"prompt_tokens":5,"completion_tokens":2,"prompt_cache_hit_tokens":4,"prompt_tokens_details":{"cached_tokens":1},"completion_tokens_details":{"reasoning_tokens":1}}}`,
	`{"choices":[{"message":{"content":"x"},"Finish_Reason":"length"}]}`,
	`{"choices":[{"message":{"content":"x"},"finish_reason":"stop","finish_reason":"length"}]}`,
	`{"choices":[{"message":{"content":"x","Content":"y"}}]}`,
	`{"choices":[{"message":{"content":"x","content":"y"}}]}`,
	`{"choices":[null]}`,
	`{"choices":null}`,
	`{"choices":[]}`,
	`{"choices":[{"message":null}]}`,
	`{"choices":[{"message":{"refusal":5}}]}`,
	`{"choices":[{"message":{"content":"ok"}}],"model":7}`,
	`{"choices":[{"message":{"content":"ok"}}],"usage":{"prompt_tokens":2.5}}`,
	`{"choices":[{"message":{"content":"ok"}}],"usage":{"prompt_tokens":3.0,"total_tokens":null}}`,
	`{"choices":[{"message":{"content":"ok"}}]`,
	`{"choices":[{"message":{"content":"o` + "\xfe" + `k"}}]}`,
	`{"object":"chat.completion","choices":[{"message":{"content":"\ud83d\ude00 ok"}}]}`,
	`[]`,
	`"x"`,
}

func TestScanMatchesEncodingJSON(t *testing.T) {
	fast := 0
	for _, body := range scanCorpus {
		if checkScan(t, []byte(body)) {
			fast++
		}
	}
	if fast < 8 {
		t.Errorf("the fast path read %d answers of %d", fast, len(scanCorpus))
	}
	if _, ok := scan([]byte(scanCorpus[0])); !ok {
		t.Error("an ordinary answer fell back to encoding/json")
	}
}

func checkScan(t *testing.T, body []byte) bool {
	t.Helper()
	got, ok := scan(body)
	if !ok {
		return false
	}
	var want answer
	if err := json.Unmarshal(body, &want); err != nil {
		t.Fatalf("%s: fast path read an answer encoding/json refuses (%v)", body, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\nfast %+v\njson %+v", body, got, want)
	}
	return true
}

func FuzzScan(f *testing.F) {
	for _, body := range scanCorpus {
		f.Add([]byte(body))
	}
	f.Fuzz(func(t *testing.T, body []byte) { checkScan(t, body) })
}
