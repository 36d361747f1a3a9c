package embeddings

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/llmbatch/llmbatch/io/api"
)

var (
	_ api.API    = API{}
	_ api.Packer = API{}
)

func b64(v ...float32) string {
	b := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
	}
	return base64.StdEncoding.EncodeToString(b)
}

func TestPackUnpackShuffled(t *testing.T) {
	var bodies [][]byte
	for i := range 3 {
		m := map[string]any{"model": "text-embedding-3-small", "dimensions": 2}
		if err := (API{}).Fill(m, fmt.Sprintf("row %d", i), nil); err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(m)
		bodies = append(bodies, b)
	}
	packed, err := (API{}).Pack(bodies)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"dimensions":2,"encoding_format":"base64","input":["row 0","row 1","row 2"],"model":"text-embedding-3-small"}`
	if string(packed) != want {
		t.Fatalf("packed %s\nwant %s", packed, want)
	}
	// Answer items out of order; one as floats.
	ans := fmt.Sprintf(`{"object":"list","model":"text-embedding-3-small","data":[
		{"object":"embedding","index":2,"embedding":%q},
		{"object":"embedding","index":0,"embedding":[0.5,-1]},
		{"object":"embedding","index":1,"embedding":%q}],
		"usage":{"prompt_tokens":10,"total_tokens":10}}`, b64(2, 2), b64(1, 1))
	rs, err := (API{}).Unpack([]byte(ans), []int64{1, 1, 2})
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for i, r := range rs {
		v, err := Vector(r.Body)
		if err != nil {
			t.Fatal(err)
		}
		wantV := [][]float32{{0.5, -1}, {1, 1}, {2, 2}}[i]
		if fmt.Sprint(v) != fmt.Sprint(wantV) {
			t.Fatalf("row %d vector %v, want %v", i, v, wantV)
		}
		if !json.Valid(r.Body) || strings.Contains(string(r.Body), "[0.5") {
			t.Fatalf("row body %s: want valid JSON with base64 vectors", r.Body)
		}
		sum += r.Usage.InputTokens
	}
	if sum != 10 || rs[2].Usage.InputTokens != 5 {
		t.Fatalf("usage split %d %d %d", rs[0].Usage.InputTokens, rs[1].Usage.InputTokens, rs[2].Usage.InputTokens)
	}
	for _, bad := range []string{
		`{"data":[{"index":0,"embedding":[1]},{"index":0,"embedding":[1]},{"index":1,"embedding":[1]}]}`,
		`{"data":[{"index":0,"embedding":[1]}]}`,
		`{"data":[{"index":0,"embedding":"!!"},{"index":1,"embedding":[1]},{"index":2,"embedding":[1]}]}`,
	} {
		if _, err := (API{}).Unpack([]byte(bad), []int64{1, 1, 1}); err == nil {
			t.Fatalf("Unpack(%s) should fail", bad)
		}
	}
}

func TestFillRefuses(t *testing.T) {
	s := "x"
	for _, c := range []struct {
		prompt any
		instr  *string
	}{{"", nil}, {[]any{"a"}, nil}, {"a", &s}} {
		if err := (API{}).Fill(map[string]any{}, c.prompt, c.instr); err == nil {
			t.Fatalf("Fill(%v, %v) should fail", c.prompt, c.instr)
		}
	}
}

func TestPlainBase64(t *testing.T) {
	for _, c := range []struct {
		raw  string
		want bool
	}{
		{`"` + b64(1, 2) + `"`, true},
		{`"` + b64(1) + `"`, true},
		{`""`, true},
		{`"AAA="`, false},       // 2 bytes: not a float32
		{`"AA=A"`, false},       // padding inside
		{`"AAAA\u0041"`, false}, // escapes go the slow way
		{`[1,2]`, false},
		{`"AAA"`, false},
	} {
		if got := plainBase64([]byte(c.raw)); got != c.want {
			t.Errorf("plainBase64(%s) = %v, want %v", c.raw, got, c.want)
		}
		if c.want {
			if _, err := compact([]byte(c.raw)); err != nil {
				t.Errorf("compact(%s): %v", c.raw, err)
			}
		}
	}
}

// scanCases are answers of the shapes servers send and of shapes scan must
// leave to encoding/json.
var scanCases = []string{
	`{"object":"list","data":[{"object":"embedding","index":0,"embedding":"AAAAAA=="}],"model":"m","usage":{"prompt_tokens":3,"total_tokens":3}}`,
	`{"data":[{"index":1,"embedding":[0.5,1]},{"index":0,"embedding":"AACAPw=="}],"model":"m","usage":null}`,
	` {"data" : [ {"index" : 0 , "embedding" : "AACAPw==" } ] } `,
	`{"data":[{"index":0,"embedding":null}]}`,
	`{"data":[{"index":0}]}`,
	`{"data":[{"index":null,"embedding":"AACAPw=="}]}`,
	`{"data":[{"index":1.0,"embedding":"AACAPw=="}]}`,
	`{"data":[{"index":-1,"embedding":"AACAPw=="}]}`,
	`{"data":[{"Index":0,"embedding":"AACAPw=="}]}`,
	`{"data":[{"index":0,"index":1,"embedding":"AACAPw=="}]}`,
	`{"Data":[{"index":0,"embedding":"AACAPw=="}]}`,
	`{"data":[],"data":[{"index":0,"embedding":"AACAPw=="}]}`,
	`{"data":null,"model":"m"}`,
	`{"data":{},"model":"m"}`,
	`{"data":[1]}`,
	`{"data":[{"index":0,"embedding":"AACAPw=="}],"model":7}`,
	`{"data":[{"index":0,"embedding":"AACAPw=="}],"model":"\u006d"}`,
	`{"data":[{"index":0,"embedding":"AACAPw=="}],"usage":{"prompt_tokens":"3"}}`,
	`{"data":[{"index":0,"embedding":"AACAPw=="}],"usage":{"prompt_tokens":3,"prompt_tokens_details":{"cached_tokens":1}}}`,
	`{"data":[{"index":0,"embedding":"AACAPw=="}],"object":null}`,
	`{"error":{"message":"x"}}`,
	`[]`,
	`{"data":[{"index":0,"embedding":"AACAPw=="}]`,
	`{"data":[{"index":99999999999999999999,"embedding":"AACAPw=="}]}`,
}

// slowDecode is decode as it was before scan: encoding/json alone.
func slowDecode(body []byte) (*answer, api.Usage, error) {
	var a answer
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, api.Usage{}, err
	}
	u, err := api.ParseUsage(a.Usage)
	if err != nil {
		return &a, u, err
	}
	if a.Data == nil {
		return &a, u, errors.New("no data")
	}
	return &a, u, nil
}

// checkScan fails when scan reads body otherwise than encoding/json does.
func checkScan(t *testing.T, body []byte) {
	a, w, ok := scan(body)
	if !ok {
		return // decode falls back to encoding/json
	}
	b, u, err := slowDecode(body)
	if b == nil {
		t.Fatalf("scan read %s, encoding/json fails: %v", body, err)
	}
	if a.Object != b.Object || a.Model != b.Model || w.Usage() != u || len(a.Data) != len(b.Data) || (a.Data == nil) != (b.Data == nil) {
		t.Fatalf("scan of %s: %+v %+v, encoding/json: %+v %+v", body, a, w.Usage(), b, u)
	}
	for i := range a.Data {
		if a.Data[i].Index != b.Data[i].Index || string(a.Data[i].Embedding) != string(b.Data[i].Embedding) {
			t.Fatalf("scan of %s: item %d %+v, encoding/json %+v", body, i, a.Data[i], b.Data[i])
		}
		if a.Data[i].plain != plainBase64(b.Data[i].Embedding) {
			t.Fatalf("scan of %s: item %d taken as plain base64: %v", body, i, a.Data[i].plain)
		}
	}
}

func TestScanIsEncodingJSON(t *testing.T) {
	scanned := 0
	for _, c := range scanCases {
		if _, _, ok := scan([]byte(c)); ok {
			scanned++
		}
		checkScan(t, []byte(c))
	}
	if scanned < 5 {
		t.Fatalf("scan read only %d of the cases: the fast path is not taken", scanned)
	}
	// A null embedding is an error, not an empty vector, on both paths.
	if _, err := (API{}).Decode([]byte(`{"data":[{"index":0,"embedding":null}]}`)); err == nil {
		t.Fatal("a null embedding was accepted")
	}
}

func FuzzScanIsEncodingJSON(f *testing.F) {
	for _, c := range scanCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, body []byte) { checkScan(t, body) })
}

func TestPackSpliceIsMarshal(t *testing.T) {
	// Bodies as llmbatch builds them (compact, sorted) pack by splicing
	// into exactly what the encoding/json path makes; bodies it cannot
	// splice (a key folded to "input", spaces) pack through it.
	bodies := [][]byte{
		[]byte(`{"encoding_format":"base64","input":"a \"quoted\" row","model":"m"}`),
		[]byte(`{"encoding_format":"base64","input":"b","model":"m"}`),
		[]byte(`{"encoding_format":"base64","input":[1,2,3],"model":"m"}`),
	}
	got, ok := splice(bodies)
	want := `{"encoding_format":"base64","input":["a \"quoted\" row","b",[1,2,3]],"model":"m"}`
	if !ok || string(got) != want {
		t.Fatalf("splice: %s %v\nwant %s", got, ok, want)
	}
	for _, odd := range [][]byte{[]byte(`{"Input":"x","model":"m"}`), []byte(`{"input":"x","input":"y","model":"m"}`), []byte(`{"model":"m"}`)} {
		if _, ok := splice([][]byte{bodies[0], odd}); ok {
			t.Fatalf("splice took %s", odd)
		}
	}
	got, err := (API{}).Pack([][]byte{bodies[0], []byte(`{"Input":"x","model":"m"}`)})
	if err != nil || !strings.Contains(string(got), `"input":["a \"quoted\" row","x"]`) {
		t.Fatalf("Pack fallback: %s %v", got, err)
	}
}

// FuzzPlainBase64: plainBase64 says yes exactly for a JSON string of
// padded standard base64, without escapes, of whole float32s.
func FuzzPlainBase64(f *testing.F) {
	for _, s := range []string{`"AAAAAA=="`, `"AACAPw=="`, `"AAAAAAAAAAA="`, `"A==="`, `"AB=C"`, `""`, `"ABCD"`, `"AAAA\n"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		want := false
		if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' {
			in := raw[1 : len(raw)-1]
			if !bytes.ContainsAny(in, "\r\n") { // the decoder skips line breaks; JSON would not hold them raw
				b, err := base64.StdEncoding.DecodeString(string(in))
				want = err == nil && len(b)%4 == 0
			}
		}
		if got := plainBase64(raw); got != want {
			t.Fatalf("plainBase64(%q) = %v, want %v", raw, got, want)
		}
	})
}
