package results

import "math/bits"

// keyTable maps 64-bit key hashes to a Status in 8 bytes a key: an
// open-addressing table of uint64 slots (linear probing) holding the hash's
// upper 62 bits with the Status (1..3, never Pending) in the low two bits,
// so 0 marks an empty slot. The table grows by half when it is 80% full,
// so it is between 53% and 80% full: 10 to 15 bytes per key. Slot indexes
// come from the hash's high bits by multiplication (Lemire's reduction),
// so the table's length needs not be a power of two.
//
// Two keys whose hashes agree in their upper 62 bits share a slot: the
// later one's record decides the state of both. With n keys the chance
// that any two do is about n²/2⁶³: 1·10⁻⁵ at ten million keys.
//
// The zero value is an empty table. It is not safe for concurrent use.
type keyTable struct {
	slots []uint64
	n     int
}

const (
	keyTableMinLen = 64
	statusBits     = 3 // mask of the Status bits in a slot
)

// get returns h's Status, Pending if h is absent.
func (t *keyTable) get(h uint64) Status {
	if len(t.slots) == 0 {
		return Pending
	}
	tag := h &^ statusBits
	i, _ := bits.Mul64(tag, uint64(len(t.slots)))
	for {
		s := t.slots[i]
		if s == 0 {
			return Pending
		}
		if s&^statusBits == tag {
			return Status(s & statusBits)
		}
		if i++; i == uint64(len(t.slots)) {
			i = 0
		}
	}
}

// put sets h's Status to st (not Pending) and returns the previous one.
func (t *keyTable) put(h uint64, st Status) Status {
	if (t.n+1)*5 > len(t.slots)*4 {
		t.grow()
	}
	tag := h &^ statusBits
	i, _ := bits.Mul64(tag, uint64(len(t.slots)))
	for {
		s := t.slots[i]
		if s == 0 {
			t.slots[i] = tag | uint64(st)
			t.n++
			return Pending
		}
		if s&^statusBits == tag {
			t.slots[i] = tag | uint64(st)
			return Status(s & statusBits)
		}
		if i++; i == uint64(len(t.slots)) {
			i = 0
		}
	}
}

// grow makes the table half as large again and re-inserts every slot.
func (t *keyTable) grow() {
	old := t.slots
	t.slots = make([]uint64, max(len(old)+len(old)/2, keyTableMinLen))
	for _, s := range old {
		if s == 0 {
			continue
		}
		i, _ := bits.Mul64(s&^statusBits, uint64(len(t.slots)))
		for t.slots[i] != 0 {
			if i++; i == uint64(len(t.slots)) {
				i = 0
			}
		}
		t.slots[i] = s
	}
}

// len returns how many keys the table holds.
func (t *keyTable) len() int { return t.n }
