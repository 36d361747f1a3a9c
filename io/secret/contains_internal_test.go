package secret

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// TestContainsIsBytesContains checks the search by one byte of the form
// (every one in turn) against bytes.Contains: forms and texts of a few
// letters, the form put at every offset, whole or cut short by one byte
// at either end.
func TestContainsIsBytesContains(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const letters = `sk-ABQZ"\ab`
	for range 20000 {
		f := make([]byte, 1+r.IntN(12))
		for i := range f {
			f[i] = letters[r.IntN(len(letters))]
		}
		text := make([]byte, r.IntN(40))
		for i := range text {
			text[i] = letters[r.IntN(len(letters))]
		}
		at := r.IntN(len(text) + 1)
		var piece []byte
		switch r.IntN(4) {
		case 0:
			piece = f
		case 1:
			piece = f[1:]
		case 2:
			piece = f[:len(f)-1]
		}
		b := append(append(append([]byte{}, text[:at]...), piece...), text[at:]...)
		want := bytes.Contains(b, f)
		for k := range f {
			if got := contains(b, f, k); got != want {
				t.Fatalf("contains(%q, %q, %d) = %v, bytes.Contains %v", b, f, k, got, want)
			}
		}
	}
}

// The anchor of a key is its rarest byte: an upper case letter, not the
// "s" it starts with.
func TestRedactor_Anchor(t *testing.T) {
	r := NewRedactor("sk-proj-abcdefQhij")
	if k := r.anchor[0]; r.forms[0][k] != 'Q' {
		t.Errorf("anchor %d (%q), want the Q", k, r.forms[0][k])
	}
}
