package results

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math/bits"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/llmbatch/llmbatch/io/api"
)

// errSlowPath means a line needs the full decoder: it has something the
// fast one does not handle (an escaped key or string, a duplicate or
// case-folded key, a number that is not a plain integer) or is not well
// formed. The full decoder then decides.
var errSlowPath = errors.New("line needs the full decoder")

// lineScanner is the fast path of Scan: it reads the top-level members of
// a journal line that a resume needs (custom_id, index, job, error, model,
// attempts, latency_ms, usage) and skips the others (response,
// output_text, input, ...) by finding where they end, without decoding
// them: strings are skipped with bytes.IndexByte, objects and arrays by
// counting brackets outside strings. Skipped values are not validated, so
// it accepts some lines that encoding/json would reject; on any line it
// accepts that encoding/json also accepts, it fills the Record exactly as
// decodeScan does (FuzzScanLine checks this).
//
// ReadAll sets want to read more members (see Fields and extra).
type lineScanner struct {
	b         []byte
	i         int
	lastModel string // reused when the next line names the same model
	want      Fields // members read beyond Scan's; zero for Scan
}

// Members the fast path reads, as bits for duplicate detection.
const (
	mCustomID = 1 << iota
	mIndex
	mJob
	mError
	mModel
	mAttempts
	mLatency
	mUsage
	mRequest
	mReask
	mReused
	mTier
)

// decode fills rec (already zero) from line, or returns errSlowPath.
func (p *lineScanner) decode(line []byte, rec *Record) error {
	p.b, p.i = line, 0
	p.ws()
	if !p.eat('{') {
		return errSlowPath
	}
	var seen int
	p.ws()
	if p.eat('}') {
		return errSlowPath
	}
	for {
		p.ws()
		key, err := p.plainString()
		if err != nil {
			return err
		}
		p.ws()
		if !p.eat(':') {
			return errSlowPath
		}
		p.ws()
		bit := 0
		switch string(key) {
		case "custom_id":
			bit = mCustomID
			s, err := p.plainString()
			if err != nil {
				return err // null included: the full decoder reports it
			}
			rec.CustomID = string(s)
		case "index":
			bit = mIndex
			if rec.Index, err = p.int(); err != nil {
				return err
			}
		case "attempts":
			bit = mAttempts
			n, err := p.int()
			if err != nil {
				return err
			}
			rec.Attempts = int(n)
		case "latency_ms":
			bit = mLatency
			if rec.LatencyMS, err = p.int(); err != nil {
				return err
			}
		case "model":
			bit = mModel
			if p.null() {
				break
			}
			s, err := p.plainString()
			if err != nil {
				return err
			}
			if string(s) != p.lastModel {
				p.lastModel = string(s)
			}
			rec.Model = p.lastModel
		case "usage":
			bit = mUsage
			if err := p.usage(&rec.Usage); err != nil {
				return err
			}
		case "error":
			bit = mError
			if p.null() {
				break
			}
			start := p.i
			if err := p.skip(); err != nil {
				return err
			}
			rec.Error = new(Error)
			if err := json.Unmarshal(p.b[start:p.i], rec.Error); err != nil {
				return errSlowPath
			}
		case "job":
			bit = mJob
			if p.null() {
				break
			}
			start := p.i
			if err := p.skip(); err != nil {
				return err
			}
			rec.Job = new(Job)
			if err := json.Unmarshal(p.b[start:p.i], rec.Job); err != nil {
				return errSlowPath
			}
		case "tier":
			bit = mTier
			if p.null() {
				break
			}
			s, err := p.plainString()
			if err != nil {
				return err
			}
			rec.Tier = tierName(s)
		case "request_sha256":
			bit = mRequest
			if p.null() {
				break
			}
			s, err := p.plainString()
			if err != nil {
				return err
			}
			rec.RequestSHA256 = string(s)
		case "reask":
			bit = mReask
			n, err := p.int()
			if err != nil {
				return err
			}
			rec.Reask = int(n)
		case "reused":
			bit = mReused
			if p.null() {
				break
			}
			start := p.i
			if err := p.skip(); err != nil {
				return err
			}
			rec.Reused = new(Reused)
			if err := json.Unmarshal(p.b[start:p.i], rec.Reused); err != nil {
				return errSlowPath
			}
		case "response", "output_text", "input", "rate_limited", "time":
			if bit, err = p.extra(string(key), rec); err != nil {
				return err
			}
		default:
			if foldsToMember(key) || p.want != 0 && foldsToExtra(key) {
				return errSlowPath // encoding/json matches names case-insensitively
			}
			if err := p.skip(); err != nil {
				return err
			}
		}
		if seen&bit != 0 {
			return errSlowPath
		}
		seen |= bit
		p.ws()
		if p.eat(',') {
			continue
		}
		if p.eat('}') {
			break
		}
		return errSlowPath
	}
	p.ws()
	if p.i != len(p.b) || seen&mCustomID == 0 {
		return errSlowPath
	}
	return nil
}

var memberNames = [...]string{"custom_id", "index", "job", "error", "model", "attempts", "latency_ms", "usage", "request_sha256", "reask", "reused", "tier",
	"input_tokens", "cached_input_tokens", "output_tokens", "reasoning_tokens", "total_tokens"}

// foldsToMember reports whether encoding/json would match key to one of
// memberNames. It matches names as bytes.EqualFold does (Unicode simple
// folding), so a matching key may be longer than the name: "cuſtom_id"
// (a long s, two bytes) is custom_id.
func foldsToMember(key []byte) bool {
	for _, m := range memberNames {
		if bytes.EqualFold(key, []byte(m)) {
			return true
		}
	}
	return false
}

func (p *lineScanner) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\r', '\n':
			p.i++
		default:
			return
		}
	}
}

func (p *lineScanner) eat(c byte) bool {
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *lineScanner) null() bool {
	if bytes.HasPrefix(p.b[p.i:], []byte("null")) {
		p.i += 4
		return true
	}
	return false
}

// plainString reads a string without escapes or control characters, in
// valid UTF-8, and returns its content.
func (p *lineScanner) plainString() ([]byte, error) {
	if !p.eat('"') {
		return nil, errSlowPath
	}
	start := p.i
	end := bytes.IndexByte(p.b[start:], '"')
	if end < 0 {
		return nil, errSlowPath
	}
	s := p.b[start : start+end]
	// Eight bytes at a time while none is a control character, a
	// backslash or outside ASCII (the bit tricks "has a byte less than
	// n", "has a zero byte" of the word xor '\\', and the high bits);
	// the byte loop decides the rest from the first word that has one.
	k := 0
	for ; k+8 <= len(s); k += 8 {
		w := binary.LittleEndian.Uint64(s[k:])
		if (w-ones*0x20)&^w&highs|bytesOf(w, '\\')|w&highs != 0 {
			break
		}
	}
	ascii := true
	for _, c := range s[k:] {
		if c < 0x20 || c == '\\' {
			return nil, errSlowPath
		}
		if c >= utf8.RuneSelf {
			ascii = false
		}
	}
	if !ascii && !utf8.Valid(s) {
		return nil, errSlowPath
	}
	p.i = start + end + 1
	return s, nil
}

// int reads a JSON integer that fits an int64, or null (0).
func (p *lineScanner) int() (int64, error) {
	if p.null() {
		return 0, nil
	}
	start := p.i
	if p.i < len(p.b) && p.b[p.i] == '-' {
		p.i++
	}
	digits := p.i
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
	}
	n := p.i - digits
	if n == 0 || (n > 1 && p.b[digits] == '0') {
		return 0, errSlowPath
	}
	if p.i < len(p.b) {
		switch p.b[p.i] {
		case '.', 'e', 'E':
			return 0, errSlowPath
		}
	}
	v, err := strconv.ParseInt(string(p.b[start:p.i]), 10, 64)
	if err != nil {
		return 0, errSlowPath
	}
	return v, nil
}

// usage reads a flat usage object of integers, or null.
func (p *lineScanner) usage(u *api.Usage) error {
	if p.null() {
		return nil
	}
	if !p.eat('{') {
		return errSlowPath
	}
	p.ws()
	if p.eat('}') {
		return nil
	}
	for {
		p.ws()
		key, err := p.plainString()
		if err != nil {
			return err
		}
		p.ws()
		if !p.eat(':') {
			return errSlowPath
		}
		p.ws()
		var dst *int64
		switch string(key) {
		case "input_tokens":
			dst = &u.InputTokens
		case "cached_input_tokens":
			dst = &u.CachedInputTokens
		case "output_tokens":
			dst = &u.OutputTokens
		case "reasoning_tokens":
			dst = &u.ReasoningTokens
		case "total_tokens":
			dst = &u.TotalTokens
		default:
			return errSlowPath
		}
		if p.null() {
			// encoding/json leaves the field as it was
		} else if *dst, err = p.int(); err != nil {
			return err
		}
		p.ws()
		if p.eat(',') {
			continue
		}
		if p.eat('}') {
			return nil
		}
		return errSlowPath
	}
}

// skip moves past one value without decoding it.
func (p *lineScanner) skip() error {
	if p.i >= len(p.b) {
		return errSlowPath
	}
	switch p.b[p.i] {
	case '"':
		return p.skipString()
	case '{', '[':
		depth := 0
		for p.i < len(p.b) {
			switch p.b[p.i] {
			case '"':
				if err := p.skipString(); err != nil {
					return err
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					p.i++
					return nil
				}
			}
			p.i++
		}
		return errSlowPath
	default: // number, true, false, null
		start := p.i
		for p.i < len(p.b) {
			switch p.b[p.i] {
			case ',', '}', ']', ' ', '\t', '\r', '\n':
				if p.i == start {
					return errSlowPath
				}
				return nil
			}
			p.i++
		}
		return errSlowPath
	}
}

// skipString moves past a string, p.i being at its opening quote.
func (p *lineScanner) skipString() error {
	j := p.i + 1
	for {
		j = quoteOrBackslash(p.b, j)
		if j < 0 {
			return errSlowPath
		}
		if p.b[j] == '"' {
			p.i = j + 1
			return nil
		}
		j += 2 // an escape: the byte after the backslash does not end the string
	}
}

// Eight bytes at a time: a word read little-endian, and the "has a zero
// byte" trick.
const ones, highs = 0x0101010101010101, 0x8080808080808080

// bytesOf flags (their high bit) the bytes of w equal to c. It may flag a
// byte above a match as well, never one below the lowest: the lowest
// flag is always a true match.
func bytesOf(w uint64, c byte) uint64 {
	x := w ^ (ones * uint64(c))
	return (x - ones) &^ x & highs
}

// quoteOrBackslash returns the index of the first '"' or '\\' in b from
// i on, or -1. It reads eight bytes at a time: the lowest byte the "has a
// zero byte" trick flags in a word (of the word xor the byte sought) is
// always a true one, so the first flagged byte is the first match. The
// strings of a body are mostly short, where this beats bytes.IndexByte's
// set-up.
func quoteOrBackslash(b []byte, i int) int {
	for ; i+8 <= len(b); i += 8 {
		w := binary.LittleEndian.Uint64(b[i:])
		if m := bytesOf(w, '"') | bytesOf(w, '\\'); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
	}
	for ; i < len(b); i++ {
		if b[i] == '"' || b[i] == '\\' {
			return i
		}
	}
	return -1
}

// Members that ReadAll reads beyond Scan's (see Fields), as bits for
// duplicate detection; above the bits of Scan's members.
const (
	mOutputText = 1 << (iota + 16)
	mInput
	mResponse
	mRateLimited
	mTime
	mRequestSHA256
)

var extraNames = [...]string{"output_text", "input", "response", "rate_limited", "time"}

// foldsToExtra reports whether key is not one of extraNames but
// encoding/json would match it to one (names match case-insensitively).
func foldsToExtra(key []byte) bool {
	for _, m := range extraNames {
		if string(key) != m && bytes.EqualFold(key, []byte(m)) {
			return true
		}
	}
	return false
}

// extra reads the member key (one of extraNames) into rec if p.want asks
// for it and skips it otherwise; it returns the member's bit (0 when
// skipped).
func (p *lineScanner) extra(key string, rec *Record) (int, error) {
	switch {
	case key == "output_text" && p.want&FieldOutputText != 0:
		return mOutputText, p.str(&rec.OutputText)
	case key == "input" && p.want&(FieldInput|FieldInputJSON) != 0:
		return mInput, p.input(rec)
	case key == "response" && p.want&(FieldResponse|FieldEmbedding) != 0:
		return mResponse, p.response(rec)
	case p.want&fieldMeta != 0:
		switch key {
		case "rate_limited":
			n, err := p.int()
			rec.RateLimited = int(n)
			return mRateLimited, err
		case "time":
			return mTime, p.time(&rec.Time)
		}
	}
	return 0, p.skip()
}

// str reads a string or null (dst left as it is) into dst: a plain one
// directly, one with escapes through encoding/json on just that value.
func (p *lineScanner) str(dst *string) error {
	if p.null() {
		return nil
	}
	start := p.i
	if s, err := p.plainString(); err == nil {
		*dst = string(s)
		return nil
	}
	p.i = start
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return errSlowPath
	}
	if err := p.skipString(); err != nil {
		return err
	}
	if json.Unmarshal(p.b[start:p.i], dst) != nil {
		return errSlowPath
	}
	return nil
}

// time reads a plain string or null (dst left as it is) into dst, as
// time.Time's UnmarshalJSON does.
func (p *lineScanner) time(dst *time.Time) error {
	if p.null() {
		return nil
	}
	start := p.i
	if _, err := p.plainString(); err != nil {
		return err
	}
	if dst.UnmarshalJSON(p.b[start:p.i]) != nil {
		return errSlowPath
	}
	return nil
}

// input reads the input columns, an object or null: with FieldInput
// with encoding/json on just that value, numbers as json.Number; with
// FieldInputJSON as its input_json text (see inputJSON).
func (p *lineScanner) input(rec *Record) error {
	if p.null() {
		rec.Input, rec.inputJSON = nil, nil
		return nil
	}
	start := p.i
	if err := p.skip(); err != nil {
		return err
	}
	v := p.b[start:p.i]
	if v[0] != '{' {
		return errSlowPath
	}
	if p.want&FieldInputJSON != 0 {
		text, ok := inputJSON(v)
		if !ok {
			return errSlowPath
		}
		rec.inputJSON = text
		if p.want&FieldInput == 0 {
			return nil
		}
	}
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.UseNumber()
	var m map[string]any
	if dec.Decode(&m) != nil || dec.InputOffset() != int64(len(v)) {
		return errSlowPath
	}
	rec.Input = m
	return nil
}

// response reads the response member, an object or null; the body is
// kept as its bytes, not decoded.
func (p *lineScanner) response(rec *Record) error {
	if p.null() {
		rec.Response = nil
		return nil
	}
	if !p.eat('{') {
		return errSlowPath
	}
	r := new(Response)
	p.ws()
	if p.eat('}') {
		rec.Response = r
		return nil
	}
	var seen int
	for {
		p.ws()
		key, err := p.plainString()
		if err != nil {
			return err
		}
		p.ws()
		if !p.eat(':') {
			return errSlowPath
		}
		p.ws()
		bit := 0
		switch string(key) {
		case "status_code":
			bit = 1
			n, err := p.int()
			if err != nil {
				return err
			}
			r.StatusCode = int(n)
		case "request_id":
			bit = 2
			if err := p.str(&r.RequestID); err != nil {
				return err
			}
		case "body":
			bit = 4
			start := p.i
			if err := p.skip(); err != nil {
				return err
			}
			if body := p.b[start:p.i]; p.want&FieldResponse != 0 || isEmbeddingList(body) {
				r.Body = bytes.Clone(body)
			} else {
				r.Body = nil
			}
		default:
			for _, m := range [...]string{"status_code", "request_id", "body"} {
				if bytes.EqualFold(key, []byte(m)) {
					return errSlowPath
				}
			}
			if err := p.skip(); err != nil {
				return err
			}
		}
		if seen&bit != 0 {
			return errSlowPath
		}
		seen |= bit
		p.ws()
		if p.eat(',') {
			continue
		}
		if p.eat('}') {
			rec.Response = r
			return nil
		}
		return errSlowPath
	}
}

// tierName returns a record's tier as a string, without allocating for
// the one tier llmbatch writes.
func tierName(b []byte) string {
	if string(b) == "batch" {
		return "batch"
	}
	return string(b)
}
