package pipeline

// keySet is a set of 64-bit key hashes in one open-addressing table of
// power-of-two size kept at most 3/4 full: 10.7 to 21.3 bytes a key, e.g.
// 134 MB for 10,000,000 keys. Hash 0 is stored as 1. Two different keys
// whose hashes collide (probability near n²/2⁶⁵, about 3·10⁻⁶ at ten million
// keys) look like a duplicate, which is reported, never silent.
// A keySet is not safe for concurrent use.
type keySet struct {
	slots []uint64
	n     int
}

// add inserts h and reports whether it was already present.
func (s *keySet) add(h uint64) (dup bool) {
	if h == 0 {
		h = 1
	}
	if len(s.slots) == 0 || (s.n+1)*4 > len(s.slots)*3 {
		s.grow()
	}
	mask := uint64(len(s.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch s.slots[i] {
		case 0:
			s.slots[i] = h
			s.n++
			return false
		case h:
			return true
		}
	}
}

func (s *keySet) grow() {
	old := s.slots
	size := max(len(old)*2, 1024)
	s.slots = make([]uint64, size)
	s.n = 0
	mask := uint64(size - 1)
	for _, h := range old {
		if h == 0 {
			continue
		}
		i := h & mask
		for s.slots[i] != 0 {
			i = (i + 1) & mask
		}
		s.slots[i] = h
		s.n++
	}
}
