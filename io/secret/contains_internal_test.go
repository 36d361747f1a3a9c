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

// A text full of the anchor byte (a base64 vector of zeros is all "A")
// is searched in linear time, and still found.
func TestContains_TextOfAnchors(t *testing.T) {
	f := []byte("sk-proj-Ab3xAb3xAb3x")
	text := bytes.Repeat([]byte("A"), 1<<16)
	if contains(text, f, 8) {
		t.Fatal("found the key in a text of A")
	}
	with := append(append(append([]byte{}, text...), f...), text...)
	if !contains(with, f, 8) {
		t.Fatal("missed the key after 64 KB of A")
	}
}

func BenchmarkContains_TextOfAnchors(b *testing.B) {
	f := []byte("sk-proj-Ab3xAb3xAb3x")
	text := bytes.Repeat([]byte("A"), 1024)
	b.SetBytes(int64(len(text)))
	for range b.N {
		if contains(text, f, 8) {
			b.Fatal("found")
		}
	}
}
