package results

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"io"
	"os"
	"unicode/utf8"
)

// ReadAll's first pass only needs each good line's key. A Journal writes
// every line as {"custom_id":"KEY",...}, so the key is read straight from
// the line's start (prefixKey) and the rest of the line is not decoded,
// unless something in it could make encoding/json read another key
// (mayNameCustomID). The line's validity is left to the second pass,
// which decodes every line anyway; the last line alone is decoded in the
// first pass, as Scan does, to tell a torn one.

// keyPrefix is how a Journal starts every line.
const keyPrefix = `{"custom_id":"`

// prefixKey returns the key of a line that starts with keyPrefix and a
// plain string (no escapes or control characters, valid UTF-8) followed
// by a comma: the value encoding/json reads for custom_id unless a later
// member is named so too (see quickKey).
func prefixKey(line []byte) (key, rest []byte, ok bool) {
	if !bytes.HasPrefix(line, []byte(keyPrefix)) {
		return nil, nil, false
	}
	s := line[len(keyPrefix):]
	end := bytes.IndexByte(s, '"')
	if end < 0 || end+1 >= len(s) || s[end+1] != ',' {
		return nil, nil, false
	}
	key = s[:end]
	ascii := true
	for _, c := range key {
		if c < 0x20 || c == '\\' {
			return nil, nil, false
		}
		if c >= utf8.RuneSelf {
			ascii = false
		}
	}
	if !ascii && !utf8.Valid(key) {
		return nil, nil, false
	}
	return key, s[end+1:], true
}

// quickKey returns the key encoding/json reads from line if line decodes,
// without decoding it: prefixKey's, when no later string in the line
// could be a member name that encoding/json matches to custom_id.
func quickKey(line []byte) ([]byte, bool) {
	key, rest, ok := prefixKey(line)
	if !ok || mayNameCustomID(rest) {
		return nil, false
	}
	return key, true
}

// maxNameBytes bounds the raw length of a JSON string whose value
// encoding/json matches to custom_id: nine characters, each at most a
// six-byte \uXXXX escape (a surrogate pair never folds to ASCII).
const maxNameBytes = 9 * 6

// mayNameCustomID reports whether b (a line after its first member) has a
// string that encoding/json could match to the member name custom_id
// (names match as bytes.EqualFold does, after unescaping). Such a string
// ends in d, D or an escape of either (\u0064, \u0044) before its closing
// quote, and has no quote inside, so every candidate is found by looking
// for quotes after d, D or 4 and going back to the previous quote. It may say yes
// for a string that is not a member name (a value, a nested name), never
// no for one that is.
func mayNameCustomID(b []byte) bool {
	// Eight bytes at a time: a word's bytes that are a quote, and the
	// bytes before them that are d, D or 4 (the usual has-zero-byte trick,
	// which may flag a byte too many, never one too few; each flagged
	// byte is checked).
	i := 1
	for ; i+8 <= len(b); i += 8 {
		q := bytesOf(binary.LittleEndian.Uint64(b[i:]), '"')
		if q == 0 {
			continue
		}
		w := binary.LittleEndian.Uint64(b[i-1:])
		if q&(bytesOf(w|ones*0x20, 'd')|bytesOf(w, '4')) == 0 {
			continue
		}
		for k := range 8 {
			if candidateAt(b, i+k) {
				return true
			}
		}
	}
	for ; i < len(b); i++ {
		if candidateAt(b, i) {
			return true
		}
	}
	return false
}

// candidateAt reports whether b[end] is a quote that closes a string
// foldsToCustomID takes.
func candidateAt(b []byte, end int) bool {
	if b[end] != '"' {
		return false
	}
	switch b[end-1] {
	case 'd', 'D', '4':
	default:
		return false
	}
	lo := max(0, end-maxNameBytes-1)
	o := bytes.LastIndexByte(b[lo:end], '"')
	return o >= 0 && foldsToCustomID(b[lo+o:end+1])
}

// foldsToCustomID reports whether the JSON string q (quotes included)
// could be a name encoding/json matches to custom_id; a string it cannot
// unquote counts as one.
func foldsToCustomID(q []byte) bool {
	raw := q[1 : len(q)-1]
	if len(raw) < len("custom_id") {
		return false
	}
	ascii := true
	for _, c := range raw {
		if c >= utf8.RuneSelf || c == '\\' {
			ascii = false
			break
		}
	}
	if ascii {
		return bytes.EqualFold(raw, []byte("custom_id"))
	}
	var s string
	if json.Unmarshal(q, &s) != nil {
		return true
	}
	return bytes.EqualFold([]byte(s), []byte("custom_id"))
}

// keyPass is ReadAll's first pass over the journal at path, file number
// file: it records in latest, for the hash of each good line's key, the
// position of its line (file<<48 | line number). It returns the good lines
// (all but a torn last one), the torn line's length and the numbers of the
// lines whose key was read by decoding them, not by quickKey (the second
// pass checks the others against their decoded key).
//
// A line quickKey cannot read is decoded as Scan decodes it, and a bad one
// followed by another line is a *CorruptError, as Scan's; a line quickKey
// reads is not checked here (the second pass decodes it), except the last
// one, which is decoded to tell a torn line as Scan does.
func keyPass(path string, file int, seed maphash.Seed, latest map[uint64]uint64, marks *int64) (good, torn int64, decoded []int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, nil, fmt.Errorf("open journal: %w", err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	var (
		line, prev []byte
		n          int64
		pending    *CorruptError
		ls         lineScanner
		// The latest quick line's hash and the entry it replaced, to
		// undo it if that line turns out to be the last and bad.
		quickHash uint64
		quickOld  uint64
		quickHad  bool
		lastQuick bool
	)
	put := func(h uint64) {
		latest[h] = uint64(file)<<48 | uint64(n)
	}
	decode := func(line []byte) (string, error) {
		var rec Record
		err := ls.decode(line, &rec)
		if err != nil {
			rec = Record{}
			err = decodeScan(line, &rec)
		}
		return rec.CustomID, err
	}
	for {
		line, prev = prev[:0], line
		var rerr error
		for {
			frag, err := br.ReadSlice('\n')
			line = append(line, frag...)
			if err != bufio.ErrBufferFull {
				rerr = err
				break
			}
		}
		if len(line) == 0 && rerr == io.EOF {
			break
		}
		if rerr != nil && rerr != io.EOF {
			return good, 0, nil, fmt.Errorf("read journal %s: %w", path, rerr)
		}
		n++
		if pending != nil {
			return good, 0, nil, pending
		}
		if rerr == io.EOF { // no newline: torn
			return good, int64(len(line)), decoded, nil
		}
		if key, ok := quickKey(line); ok {
			quickHash = maphash.Bytes(seed, key)
			quickOld, quickHad = latest[quickHash]
			put(quickHash)
			lastQuick = true
			good++
			continue
		}
		lastQuick = false
		key, err := decode(line)
		if err == errMark {
			good++
			*marks++
			continue
		}
		if err != nil {
			pending, torn = &CorruptError{Path: path, Line: n, Err: err}, int64(len(line))
			continue
		}
		put(maphash.String(seed, key))
		decoded = append(decoded, n)
		good++
	}
	if !lastQuick {
		return good, torn, decoded, nil
	}
	// The last line was read quickly: decode it as Scan does.
	if quickHad {
		latest[quickHash] = quickOld
	} else {
		delete(latest, quickHash)
	}
	key, err := decode(prev)
	if err != nil { // not a mark either: prefixKey read a custom_id
		return good - 1, int64(len(prev)), decoded, nil
	}
	put(maphash.String(seed, key))
	return good, 0, append(decoded, n), nil
}
