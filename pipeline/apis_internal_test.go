package pipeline

import (
	"fmt"
	"strings"
	"testing"

	"github.com/llmbatch/llmbatch/io/api"
)

// TestAPIsRejectInvalidJSON: a registered API decodes only valid JSON, so
// that the answer bodies the journal copies without scanning them again
// (results.Response.Checked) are JSON: bodies that read well up to a cut,
// trailing data or a bad token are errors, for Decode, DecodeStream and
// Unpack.
func TestAPIsRejectInvalidJSON(t *testing.T) {
	bodies := []string{
		`{"status":"completed","output":[],"model":"m"`,
		`{"status":"completed","output":[],"model":"m"} x`,
		`{"status":"completed","output":[],"model":"m"}{}`,
		`{"choices":[{"message":{"content":"hi"},"finish_reason":"stop"}],"model":"m",}`,
		`{"object":"list","data":[{"index":0,"embedding":"AAAAAA=="}],"model":"m"`,
		`{"object":"list","data":[{"index":0,"embedding":"AAAAAA=="}],"model":'m'}`,
		"{\"status\":\"completed\",\"output\":[],\"model\":\"a\nb\"}",
	}
	for _, a := range apis {
		if !registered(a) {
			t.Errorf("%s: not registered", a.Name())
		}
		for _, b := range bodies {
			if _, err := a.Decode([]byte(b)); err == nil {
				t.Errorf("%s: Decode(%q): no error", a.Name(), b)
			}
			if sd, ok := a.(api.StreamDecoder); ok {
				if _, body, ok := sd.DecodeStream([]byte("event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":" + b + "}\n\n")); ok {
					t.Errorf("%s: DecodeStream of %q: ok, body %s", a.Name(), b, body)
				}
			}
			if p, ok := a.(api.Packer); ok {
				if _, err := p.Unpack([]byte(b), []int64{1}); err == nil {
					t.Errorf("%s: Unpack(%q): no error", a.Name(), b)
				}
			}
		}
	}
	type other struct{ api.API }
	if registered(other{apis[0]}) {
		t.Error("an API of the caller's counts as registered")
	}
}

// TestPackBound: the packer counts a pack's tokens only when its bodies'
// bytes pass MaxPackTokens, which is exact only if no row's input tokens
// exceed its body's bytes, for every input a row may hold.
func TestPackBound(t *testing.T) {
	k, err := newPacker(&Config{Template: Template{PackSize: 4}}, LookupAPIMust(t, "embeddings"))
	if err != nil || k == nil {
		t.Fatalf("newPacker: %v, %v", k, err)
	}
	for _, body := range []string{
		`{"model":"m","input":"hello world"}`,
		`{"model":"m","input":"\u00e9\u00e9\u00e9 \ud83d\ude00\ud83d\ude00 \n\t\"\\ !!!???"}`,
		`{"model":"m","input":"` + strings.Repeat("日本語のテキスト", 50) + `"}`,
		`{"model":"m","input":"` + strings.Repeat("a1!", 200) + `"}`,
		`{"model":"m","input":[1,2,3,4,5,6,7,8,9]}`,
		`{"model":"m","input":[[1,2,3],[4,5],"abc def",7]}`,
		`{"model":"m","input":7}`,
		`{"model":"m","input":{"not":"text"}}`,
		`{"model":"m"}`,
		`not json`,
	} {
		r := &Request{body: []byte(body), api: k.p.(api.API)}
		if n := r.cost(k.counter).InputTokens; n > int64(len(body)) {
			t.Errorf("%s: %d input tokens, more than its %d bytes", body, n, len(body))
		}
	}
}

func LookupAPIMust(t *testing.T, name string) api.API {
	a, ok := LookupAPI(name)
	if !ok {
		t.Fatalf("no API %s", name)
	}
	return a
}

// TestPacker_MaxPackTokens: a pack closes before the row that would take
// its input tokens past MaxPackTokens, counted exactly: rows of 100k
// tokens in 200k bytes go two to a pack (their bytes would allow one),
// and rows under the cap in bytes are packed up to PackSize.
func TestPacker_MaxPackTokens(t *testing.T) {
	k, err := newPacker(&Config{Template: Template{PackSize: 4}}, LookupAPIMust(t, "embeddings"))
	if err != nil {
		t.Fatal(err)
	}
	big := `{"model":"m","input":"` + strings.Repeat(" a", 100_000) + `"}`
	small := `{"model":"m","input":"a short text"}`
	var packs []int
	add := func(body string, n int) {
		for range n {
			for _, p := range k.add(&Request{body: []byte(body), api: k.p.(api.API), model: "m"}) {
				if p.pack == nil {
					packs = append(packs, 1)
				} else {
					packs = append(packs, len(p.pack.rows))
					if w := p.pack.weightsOf(); len(w) != len(p.pack.rows) || w[0] <= 0 {
						t.Errorf("weights %v", w)
					}
				}
			}
		}
	}
	add(big, 5)
	add(small, 6)
	for _, p := range k.flush() {
		packs = append(packs, len(p.pack.rows))
	}
	if got, want := fmt.Sprint(packs), "[2 2 4 3]"; got != want {
		t.Errorf("packs of %s rows, want %s", got, want)
	}
}
