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
// With withReq set before the first put, a parallel array holds a 4-byte
// request tag per slot (see RequestTag): 12 bytes a slot, 15 to 22.5 bytes
// a key. Only a resume's scan of the journal keeps them.
//
// The zero value is an empty table. It is not safe for concurrent use.
type keyTable struct {
	slots   []uint64
	req     []uint32 // request tags by slot, when withReq
	withReq bool
	n       int
}

const (
	keyTableMinLen = 64
	statusBits     = 3 // mask of the Status bits in a slot
)

// get returns h's Status, Pending if h is absent.
func (t *keyTable) get(h uint64) Status {
	st, _ := t.getReq(h)
	return st
}

// getReq returns h's Status and request tag (0 if none was kept).
func (t *keyTable) getReq(h uint64) (Status, uint32) {
	i, ok := t.find(h)
	if !ok {
		return Pending, 0
	}
	var rt uint32
	if t.req != nil {
		rt = t.req[i]
	}
	return Status(t.slots[i] & statusBits), rt
}

// find returns the slot of h.
func (t *keyTable) find(h uint64) (uint64, bool) {
	if len(t.slots) == 0 {
		return 0, false
	}
	tag := h &^ statusBits
	i, _ := bits.Mul64(tag, uint64(len(t.slots)))
	for {
		s := t.slots[i]
		if s == 0 {
			return 0, false
		}
		if s&^statusBits == tag {
			return i, true
		}
		if i++; i == uint64(len(t.slots)) {
			i = 0
		}
	}
}

// put sets h's Status to st (not Pending), and its request tag to rt when
// the table keeps them, and returns the previous Status.
func (t *keyTable) put(h uint64, st Status, rt uint32) Status {
	if (t.n+1)*5 > len(t.slots)*4 {
		t.grow()
	}
	if t.withReq && t.req == nil {
		t.req = make([]uint32, len(t.slots))
	}
	tag := h &^ statusBits
	i, _ := bits.Mul64(tag, uint64(len(t.slots)))
	for {
		s := t.slots[i]
		if s == 0 {
			t.slots[i] = tag | uint64(st)
			if t.req != nil {
				t.req[i] = rt
			}
			t.n++
			return Pending
		}
		if s&^statusBits == tag {
			t.slots[i] = tag | uint64(st)
			if t.req != nil {
				t.req[i] = rt
			}
			return Status(s & statusBits)
		}
		if i++; i == uint64(len(t.slots)) {
			i = 0
		}
	}
}

// grow makes the table half as large again and re-inserts every slot.
func (t *keyTable) grow() {
	old, oldReq := t.slots, t.req
	t.slots = make([]uint64, max(len(old)+len(old)/2, keyTableMinLen))
	t.req = nil
	if t.withReq || oldReq != nil {
		t.req = make([]uint32, len(t.slots))
	}
	for j, s := range old {
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
		if t.req != nil && oldReq != nil {
			t.req[i] = oldReq[j]
		}
	}
}

// len returns how many keys the table holds.
func (t *keyTable) len() int { return t.n }
