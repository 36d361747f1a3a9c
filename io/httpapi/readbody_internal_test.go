package httpapi

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
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
