package responses

import (
	"encoding/json"
	"reflect"
	"testing"
)

// scanCorpus holds answers of the shapes servers send, and odd ones the
// fast path must either read exactly as encoding/json does or hand back.
var scanCorpus = []string{
	`{"id":"resp_1","object":"response","status":"completed","model":"gpt-4.1-mini","output":[{"type":"message","role":"assistant","content":[{"type":"output_text","text":"positive","annotations":[]}]}],"usage":{"input_tokens":84,"input_tokens_details":{"cached_tokens":0},"output_tokens":2,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":86}}`,
	` { "status" : "incomplete" , "incomplete_details" : { "reason" : "max_output_tokens" } , "output" : [ ] , "usage" : null } `,
	`{"status":"failed","error":{"code":"server_error","message":"boom"},"output":[]}`,
	`{"status":"failed","error":"plain text","output":null}`,
	`{"status":"completed","output":[{"type":"reasoning","summary":[]},{"type":"message","content":[{"type":"output_text","text":"a\"b\\c\u00e9\n"},{"type":"refusal","refusal":"no"},{"type":"output_text","text":"ünïcode ✓"}]}]}`,
	`{"Status":"completed","output":[]}`,
	`{"status":"completed","STATUS":"failed","output":[]}`,
	`{"status":"completed","status":"failed","output":[]}`,
	`{"status":"completed","output":[],"usage":{"input_tokens":3.0,"output_tokens":1e0,"total_tokens":4}}`,
	`{"status":"completed","output":[],"usage":{"input_tokens":"3"}}`,
	`{"status":"completed","output":[],"usage":{"input_tokens":-1}}`,
	`{"status":"completed","output":[],"usage":{"prompt_tokens":5,"completion_tokens":2,"prompt_cache_hit_tokens":4,"prompt_tokens_details":{"cached_tokens":1}}}`,
	`{"status":"completed","output":[],"usage":{"input_tokens_details":null,"output_tokens_details":{"reasoning_tokens":null}}}`,
	`{"status":"completed","output":[],"usage":{"input_tokens_details":{"cached_tokens":1},"input_tokens_details":{}}}`,
	`{"status":5,"output":[]}`,
	`{"status":null,"model":null,"output":[null]}`,
	`{"output":[{"type":"message","content":null}]}`,
	`{"output":[{"type":"message","content":[null,{"type":"output_text","text":"x"}]}]}`,
	`{"output":{}}`,
	`{"\u0073tatus":"completed","output":[]}`,
	`{"status":"completed","output":[],"incomplete_details":{"reason":"x","reason":"y"}}`,
	`{"status":"completed","output":[]`,
	`{"status":"completed","output":[]} x`,
	`[]`,
	`null`,
	``,
	`{"status":"compl` + "\xff" + `eted","output":[]}`,
	`{"model":"m","usage":{"input_tokens":10,"output_tokens":5},"output":[{"type":"message","content":[{"type":"output_text","text":"ok","Text":"other"}]}]}`,
	`{"status":"completed","output":[],"usage":[]}`,
}

// TestScanMatchesEncodingJSON: whatever the fast path reads, it reads as
// json.Unmarshal does.
func TestScanMatchesEncodingJSON(t *testing.T) {
	fast := 0
	for _, body := range scanCorpus {
		if checkScan(t, []byte(body)) {
			fast++
		}
	}
	if fast < 10 {
		t.Errorf("the fast path read %d answers of %d", fast, len(scanCorpus))
	}
	// An ordinary answer must take the fast path.
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
	var want wire
	if err := json.Unmarshal(body, &want); err != nil {
		t.Fatalf("%s: fast path read an answer encoding/json refuses (%v)", body, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\nfast %+v\njson %+v", body, got, want)
	}
	r1, e1 := got.result()
	r2, e2 := want.result()
	if !reflect.DeepEqual(r1, r2) || (e1 == nil) != (e2 == nil) {
		t.Fatalf("%s: results differ", body)
	}
	return true
}

func FuzzScan(f *testing.F) {
	for _, body := range scanCorpus {
		f.Add([]byte(body))
	}
	f.Fuzz(func(t *testing.T, body []byte) { checkScan(t, body) })
}
