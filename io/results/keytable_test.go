package results

import (
	"math/rand/v2"
	"testing"
)

func TestKeyTable_MatchesMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var kt keyTable
	want := map[uint64]Status{}
	hashes := make([]uint64, 0, 50000)
	for range 200000 {
		var h uint64
		if len(hashes) > 0 && rng.IntN(3) == 0 {
			h = hashes[rng.IntN(len(hashes))] // update a key already there
		} else {
			h = rng.Uint64() &^ statusBits
			hashes = append(hashes, h)
		}
		st := Status(1 + rng.IntN(3))
		if got, old := kt.put(h, st, 0), want[h]; got != old {
			t.Fatalf("put(%x) returned %v, want %v", h, got, old)
		}
		want[h] = st
	}
	if kt.len() != len(want) {
		t.Errorf("len() = %d, want %d", kt.len(), len(want))
	}
	for h, st := range want {
		if got := kt.get(h); got != st {
			t.Fatalf("get(%x) = %v, want %v", h, got, st)
		}
	}
	for range 10000 {
		h := rng.Uint64() &^ statusBits
		if _, ok := want[h]; !ok && kt.get(h) != Pending {
			t.Fatalf("get(%x) of an absent key = %v", h, kt.get(h))
		}
	}
	if fill := float64(kt.len()) / float64(len(kt.slots)); fill < 0.5 || fill > 0.8 {
		t.Errorf("table %.2f full, want between 0.5 and 0.8", fill)
	}
}

func TestKeyTable_EdgeHashes(t *testing.T) {
	var kt keyTable
	for i, h := range []uint64{0, 1, 3, 4, ^uint64(0), ^uint64(0) - 4, 1 << 63} {
		kt.put(h, Failed, 0)
		if got := kt.get(h); got != Failed {
			t.Errorf("%d: get(%x) = %v after put", i, h, got)
		}
	}
	// 0..3 share the upper 62 bits: they are one key, as documented.
	if got, want := kt.len(), 5; got != want {
		t.Errorf("len() = %d, want %d", got, want)
	}
}
