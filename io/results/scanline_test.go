package results

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

var scanLineSeeds = []string{
	`{"custom_id":"a","index":3,"response":{"status_code":200,"request_id":"r","body":{"x":["}",{"y":"\"]"}]}},"error":null,"output_text":"hi \"there\"","usage":{"input_tokens":1,"cached_input_tokens":0,"output_tokens":2,"reasoning_tokens":0,"total_tokens":3},"model":"gpt-5-mini","attempts":1,"latency_ms":812,"request_sha256":"ab","input":{"text":"t"}}`,
	`{"custom_id":"b","index":0,"job":{"fingerprint":"f","parts":{"model":"m"}},"response":null,"error":{"code":"x","message":"m","status_code":400,"retryable":false},"output_text":"","usage":{"input_tokens":0},"attempts":8,"latency_ms":0}`,
	` { "custom_id" : "c" , "index" : -1 , "usage" : null , "model" : null , "error" : { "retryable" : true } } `,
	`{"custom_id":"d\u00e9","index":1}`,
	`{"custom_id":"é","index":1}`,
	`{"Custom_ID":"e","index":1}`,
	`{"custom_id":"f","custom_id":"g"}`,
	`{"custom_id":"h","index":1.0}`,
	`{"custom_id":"i","index":1e2}`,
	`{"custom_id":"j","usage":{"input_tokens":1,"input_tokens":2}}`,
	`{"custom_id":"k","extra":[1,2,{"a":[true,false,null]}],"more":-0.5e3}`,
	`{"custom_id":null}`,
	`{"index":1}`,
	`{}`,
	`[]`,
	`{"custom_id":"l","response":{"body":"unterminated}`,
	`{"custom_id":"m","attempts":99999999999999999999}`,
	"{\"custom_id\":\"n\xff\"}",
	`{"custom_id":"o","index":01}`,
	`{"custom_id":"p","response":{"status_code":200,"request_id":"r\u0041","body":null},"output_text":"tab\there \ud83d\ude00","rate_limited":2,"time":"2026-01-02T10:00:05.123Z","request_sha256":"ab","input":{"n":12345678901234567890,"f":1.50,"s":[1,{"x":null}]}}`,
	`{"custom_id":"q","response":{"Body":{}},"input":null,"time":null,"rate_limited":null,"output_text":null}`,
	`{"custom_id":"r","response":{"body":[1,2],"body":3},"input":{"a":1},"input":{"b":2}}`,
	`{"custom_id":"s","Output_Text":"x","TIME":"2026-01-02T10:00:05Z","input":"not an object","response":{}}`,
	`{"custom_id":"t","time":"2026-13-02T10:00:05Z","output_text":"\ud800","response":{"status_code":1.5}}`,
	"{\"custom_id\":\"u\",\"output_text\":\"bad \xff byte\\n\",\"response\":{\"status_code\":200,\"x\":[\"]\"],\"body\":{\"object\":\"list\"}}}",
	`{"custom_id":"v","input":{"a":"x<y>&z \u003c \/ \u00e9 \u0001 \u001f \u0008 \b\f\n\r\t\"\\ \u2028 \u2029","b":[1.50,-0,1E400,{"z":null,"a":true}],"c":{}},"response":{"body":{"data":[],"object":"list"}}}`,
	`{"custom_id":"w","input":{"b":1,"a":2}}`,
	`{"custom_id":"x","input":{"a":1,"a":2}}`,
	`{"custom_id":"y","input":{ "a" : [ 1 , 2 ] }}`,
	"{\"custom_id\":\"z\",\"input\":{\"s\":\"raw \u2028 sep\",\"t\":\"\\ud83d\\ude00\",\"k\\u0041\":1}}",
	`{"custom_id":"z1","input":{}}`,
	`{"custom_id":"z2","input":{"a":{"b":{"c":[[[]]]}},"n":01}}`,
	`{"custom_id":"z3","cuſtom_id":"z4","ſtatus":1,"outpuſ_text":"x","reſponse":{"ſtatus_code":1}}`,
	`{"custom_id":"z5","index":1,"ınput":{"a":1},"\u017ftatus":2,"custom\u005fid":"z6"}`,
	`{"custom_id":"z7","index":1,"response":{"body":{"id":"x","status":"completed"}},"CUSTOM_ID":"z8"}`,
	`{"custom_id":"z9","input":{"custom_id":"n"},"cu\u0053tom_i\u0044":"z10"}`,
	`{"custom_id":"z11","a":"custom_i\u0064","b":"\"","cuſtom_id" : "z12"}`,
	`{"custom_id":"z13","output_text":"he said \"hi\"","custom_id":null}`,
	`{"custom_id":"z14","x":"` + strings.Repeat("d", 60) + `","Custom_Id":"z15"}`,
	`{"custom_id":"z16","x":"\u0022custom_id","y":1}`,
	`{"custom_id":"z17","cu\u0053tom_i\u0044":"z18"}`,
}

// FuzzScanLine checks the fast line decoder against encoding/json: on a
// line that both accept they fill the same Record, and neither panics.
func FuzzScanLine(f *testing.F) {
	for _, s := range scanLineSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		var slow, fast Record
		slowErr := decodeScan(line, &slow)
		var ls lineScanner
		fastErr := ls.decode(line, &fast)
		if fastErr != nil && fastErr != errSlowPath {
			t.Fatalf("fast decoder returned %v, want nil or errSlowPath", fastErr)
		}
		if slowErr == nil && fastErr == nil && !reflect.DeepEqual(slow, fast) {
			s, _ := json.Marshal(slow)
			g, _ := json.Marshal(fast)
			t.Fatalf("line %q:\nencoding/json: %s\nfast:          %s", line, s, g)
		}
		// ReadAll's first pass: the key quickKey reads is the one the
		// full decoders read, on every line they accept.
		if key, ok := quickKey(line); ok && slowErr == nil && string(key) != slow.CustomID {
			t.Fatalf("line %q: quickKey read %q, encoding/json %q", line, key, slow.CustomID)
		}
		scanOK := slowErr == nil || fastErr == nil
		// ReadAll's modes: its fast path against its full decoder.
		for _, want := range []Fields{0, FieldOutputText, FieldInput | FieldResponse, AllFields, ExportFields, AllFields | ExportFields} {
			var slow, fast Record
			slowErr := decodeRead(line, &slow, want)
			ls := lineScanner{want: want | fieldMeta}
			fastErr := ls.decode(line, &fast)
			if fastErr != nil && fastErr != errSlowPath {
				t.Fatalf("fast decoder (want %b) returned %v, want nil or errSlowPath", want, fastErr)
			}
			if slowErr == nil && fastErr == nil && !reflect.DeepEqual(slow, fast) {
				s, _ := json.Marshal(slow)
				g, _ := json.Marshal(fast)
				t.Fatalf("line %q, want %b:\nencoding/json: %s\nfast:          %s", line, want, s, g)
			}
			// A line ReadAll's second pass takes is one Scan takes: the
			// first pass (keyPass) leaves that check to it.
			if (slowErr == nil || fastErr == nil) && !scanOK {
				t.Fatalf("line %q, want %b: ReadAll's decoders take a line Scan's refuse", line, want)
			}
			if key, ok := quickKey(line); ok && slowErr == nil && string(key) != slow.CustomID {
				t.Fatalf("line %q, want %b: quickKey read %q, encoding/json %q", line, want, key, slow.CustomID)
			}
		}
	})
}

func TestScanLine_FastPathTakesJournalLines(t *testing.T) {
	for i, s := range scanLineSeeds[:3] {
		var rec Record
		var ls lineScanner
		if err := ls.decode([]byte(s), &rec); err != nil {
			t.Errorf("seed %d: fast decoder refused a journal line: %v", i, err)
		}
		ls.want = AllFields | fieldMeta
		if err := ls.decode([]byte(s), &rec); err != nil {
			t.Errorf("seed %d: fast decoder reading every member refused a journal line: %v", i, err)
		}
	}
	// Lines the fast path reads although their strings have escapes.
	for _, i := range []int{0, 19} {
		var rec Record
		ls := lineScanner{want: AllFields | fieldMeta}
		if err := ls.decode([]byte(scanLineSeeds[i]), &rec); err != nil {
			t.Errorf("seed %d: fast decoder reading every member refused it: %v", i, err)
		}
	}
}

// TestInputJSON_JournalTextIsTakenAsItIs checks that the input columns as
// a Journal writes them are in canonical form (so export copies them
// instead of decoding them), and that other forms give the text
// encoding/json gives.
func TestInputJSON_JournalTextIsTakenAsItIs(t *testing.T) {
	in := map[string]any{"text": "He said \"hi\" <b>\n\ttab \x01 é 😀 \u2028", "n": json.Number("12345678901234567890"),
		"f": json.Number("1.50"), "list": []any{json.Number("1"), nil, true, map[string]any{"z": "", "a": false}}, "empty": map[string]any{}}
	journal, err := encodeInput(in)
	if err != nil {
		t.Fatal(err)
	}
	if end, ok := canonicalValue(journal, 0, 0); !ok || end != len(journal) {
		t.Errorf("canonicalValue(%s) = %d, %v; want the whole text canonical", journal, end, ok)
	}
	for _, v := range []string{string(journal), `{"b":1,"a":2}`, `{ "a" : 1 }`, `{"a":"\u003c\/"}`, `{"a":"\u00e9"}`,
		`{"a":"\u0008"}`, `{"a":"\ud83d\ude00"}`, `{"a":"` + "\u2028" + `"}`, `{"k\u0041":1}`, `{"a":1E400,"b":-0.0e-1}`} {
		dec := json.NewDecoder(strings.NewReader(v))
		dec.UseNumber()
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
		want, _ := encodeInput(m)
		got, ok := inputJSON([]byte(v))
		if !ok || string(got) != string(want) {
			t.Errorf("inputJSON(%s) = %s, %v; want %s", v, got, ok, want)
		}
	}
	if got, ok := inputJSON([]byte(`{}`)); !ok || got != nil {
		t.Errorf("inputJSON({}) = %q, %v; want nil, true", got, ok)
	}
	for _, v := range []string{`[]`, `{"a":}`, `{"a":1,}`, `{"a":01}`, `{"a":"\x"}`, `{"a" 1}`} {
		if got, ok := inputJSON([]byte(v)); ok {
			t.Errorf("inputJSON(%s) = %s, true; want not ok", v, got)
		}
	}
}

// TestPlainStringEveryOffset puts each byte that stops plainString's
// eight-byte loop (a control character, a backslash, UTF-8 valid or not)
// at every offset of strings up to 40 bytes, and checks plainString
// against a byte loop.
func TestPlainStringEveryOffset(t *testing.T) {
	byteLoop := func(s []byte) bool {
		for _, c := range s {
			if c < 0x20 || c == '\\' {
				return false
			}
		}
		return utf8.Valid(s)
	}
	for n := range 41 {
		for at := range n {
			for _, c := range []string{"\x00", "\x1f", "\\", "\x7f", "é", "\xff", "\xc3", "€"} {
				s := []byte(strings.Repeat("a", at) + c + strings.Repeat("b", max(0, n-at-1)))
				p := lineScanner{b: append(append([]byte(`"`), s...), '"')}
				got, err := p.plainString()
				if want := byteLoop(s); (err == nil) != want || err == nil && string(got) != string(s) {
					t.Fatalf("plainString(%q) = %q, %v; want ok %v", s, got, err, want)
				}
			}
		}
	}
}

// TestQuoteOrBackslashEveryOffset checks the eight-byte search against a
// byte loop, with quotes, backslashes and bytes next to them (0x21,
// 0x5b, 0xa2, 0xdc: one bit away) at every pair of offsets.
func TestQuoteOrBackslashEveryOffset(t *testing.T) {
	const fill = "\x21\x5b\xa2\xdc\x00x"
	for n := range 34 {
		for a := range n {
			for b := a; b < n; b++ {
				for _, c := range []byte{'"', '\\', '#', ']'} {
					s := []byte(strings.Repeat(fill, 6)[:n])
					s[a] = c
					s[b] = '"'
					for from := range min(n, 3) {
						want := -1
						for i := from; i < len(s); i++ {
							if s[i] == '"' || s[i] == '\\' {
								want = i
								break
							}
						}
						if got := quoteOrBackslash(s, from); got != want {
							t.Fatalf("quoteOrBackslash(%q, %d) = %d, want %d", s, from, got, want)
						}
					}
				}
			}
		}
	}
}
