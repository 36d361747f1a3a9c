package httpapi

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/llmbatch/llmbatch/io/responses"
)

// pieces reads data in random pieces, the last one with io.EOF when
// eofWithData is set (as some readers do).
type pieces struct {
	data        []byte
	r           *rand.Rand
	eofWithData bool
}

func (p *pieces) Read(b []byte) (int, error) {
	if len(p.data) == 0 {
		return 0, io.EOF
	}
	n := copy(b, p.data[:min(len(p.data), 1+p.r.IntN(70_000))])
	p.data = p.data[n:]
	if len(p.data) == 0 && p.eofWithData {
		return n, io.EOF
	}
	return n, nil
}

// readBody of a body of unknown length around the scratch buffer's size
// and the limit: the body whole when it fits, tooLarge when it does not,
// and a read error passed on.
func TestReadBody_UnknownLength(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, size := range []int{0, 1, 1000, scratchSize - 1, scratchSize, scratchSize + 1, 2*scratchSize + 7, 6*scratchSize + 3} {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(r.IntN(256))
		}
		for _, max := range []int64{int64(size) - 1, int64(size), int64(size) + 1, 1 << 30} {
			if max < 1 {
				continue
			}
			for _, eofWithData := range []bool{false, true} {
				raw, tooLarge, err := readBody(&pieces{data: data, r: r, eofWithData: eofWithData}, -1, max)
				if wantLarge := int64(size) > max; tooLarge != wantLarge || err != nil || !wantLarge && !bytes.Equal(raw, data) {
					t.Fatalf("size %d, max %d: %d bytes, tooLarge %v, err %v; want the body, tooLarge %v", size, max, len(raw), tooLarge, err, wantLarge)
				}
				if !tooLarge && cap(raw) > len(raw)+len(raw)/8+32 { // beyond the allocator's size classes
					t.Errorf("size %d: the body keeps %d bytes of capacity beyond its %d", size, cap(raw)-len(raw), len(raw))
				}
			}
		}
	}
	broken := errors.New("connection reset")
	for _, size := range []int{10, scratchSize + 10} {
		_, _, err := readBody(io.MultiReader(bytes.NewReader(make([]byte, size)), &failing{broken}), -1, 1<<30)
		if !errors.Is(err, broken) {
			t.Errorf("size %d then a read error: err %v, want it", size, err)
		}
	}
}

type failing struct{ err error }

func (f *failing) Read([]byte) (int, error) { return 0, f.err }

// Answers gzipped by the server (Go asks for gzip and unzips, so their
// length is unknown): a whole one is read as sent, small or past the
// scratch buffer; a broken one is a retryable error, not a panic or an
// answer.
func TestSend_GzippedAnswers(t *testing.T) {
	small := []byte(`{"object":"response","status":"completed","output":[],"usage":{"input_tokens":1,"output_tokens":2}}`)
	large := []byte(`{"object":"response","status":"completed","output":[],"pad":"` + strings.Repeat("z", 3*scratchSize) + `","usage":{"input_tokens":1,"output_tokens":2}}`)
	for _, tt := range []struct {
		name   string
		body   []byte
		broken bool
	}{{"Small", small, false}, {"Large", large, false}, {"Broken", small, true}} {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Accept-Encoding") != "gzip" {
					t.Errorf("Accept-Encoding %q, want Go's own gzip", r.Header.Get("Accept-Encoding"))
				}
				w.Header().Set("Content-Encoding", "gzip")
				w.Header().Set("Content-Type", "application/json")
				if tt.broken {
					w.Write([]byte("\x1f\x8b\x08\x00 this is not deflate data"))
					return
				}
				zw := gzip.NewWriter(w)
				zw.Write(tt.body)
				zw.Close()
			}))
			defer srv.Close()
			c := &Client{BaseURL: srv.URL + "/v1", APIKey: "sk-gzip-test-1234"}
			ans, err := c.Send(context.Background(), "/responses", []byte(`{}`), responses.API{})
			if tt.broken {
				var e *Error
				if !errors.As(err, &e) || e.Class != Retryable {
					t.Fatalf("Send() = %v, want a retryable error", err)
				}
				return
			}
			if err != nil || !bytes.Equal(ans.Body, tt.body) {
				t.Fatalf("Send() = %d bytes, %v; want the %d bytes sent", len(ans.Body), err, len(tt.body))
			}
		})
	}
}

// A fine answer costs no allocation for telling it is no redirect error.
func TestAsRedirect_NilFree(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { asRedirect(nil) }); n != 0 {
		t.Errorf("asRedirect(nil) allocates %v times", n)
	}
	re := &RedirectError{StatusCode: 307}
	if got := asRedirect(fmt.Errorf("x: %w", re)); got != re {
		t.Errorf("asRedirect(wrapped) = %v", got)
	}
}
