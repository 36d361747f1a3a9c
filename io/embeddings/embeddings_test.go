package embeddings

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
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
