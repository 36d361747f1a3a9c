package results

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"os"
)

// ReadInfo describes the journals ReadAll read.
type ReadInfo struct {
	Lines int64 // good lines over all files: records and marks
	Marks int64 // the marks among them (see Mark): not records
	Keys  int64 // distinct keys
	// Torn lists, per file with a torn last line (the writer died
	// mid-write), "PATH: N bytes"; those lines were skipped.
	Torn []string
}

// maxFiles is how many journals ReadAll takes: the file's number shares a
// 64-bit position with the line number.
const maxFiles = 1 << 16

// Fields selects the costly members of a journal record that ReadAll
// decodes. The others are always decoded: custom_id, index, job, error,
// usage, model, attempts, latency_ms, rate_limited, time and
// request_sha256.
type Fields uint8

// The members a Fields selects.
const (
	FieldOutputText Fields = 1 << iota // output_text
	FieldInput                         // input columns, numbers as json.Number
	FieldResponse                      // response, its body as the bytes journalled
	// FieldInputJSON reads input as the one JSON object NewExportRow
	// writes in input_json, kept inside the record (Input stays nil
	// unless FieldInput is asked too). The text of a journal written by
	// llmbatch is taken as it is, not decoded.
	FieldInputJSON
	// FieldEmbedding reads response with its body only when it is an
	// embeddings answer (an object whose "object" is "list"); other
	// bodies are left nil, not copied.
	FieldEmbedding

	// AllFields decodes every member.
	AllFields = FieldOutputText | FieldInput | FieldResponse
	// ExportFields reads what NewExportRow needs.
	ExportFields = FieldOutputText | FieldInputJSON | FieldEmbedding

	fieldMask = AllFields | FieldInputJSON | FieldEmbedding

	// fieldMeta (internal) asks the line scanner for the members ReadAll
	// always decodes beyond Scan's.
	fieldMeta Fields = 1 << 7
)

// ReadAll reads the journals at paths, in the order given, and calls fn
// with every good record, decoded with the members want selects (the
// others left zero), and whether it is the latest record of its key: the
// last line for that key, a later file winning over an earlier one.
// Records arrive in file and line order. fn may keep the record; it is not
// reused.
//
// It reads each file twice and stays streaming: the first pass keeps only
// a 64-bit hash of each key and the 64-bit position of its latest line
// (about 16 bytes a key plus map overhead), the second decodes one line at
// a time. Two keys whose hashes collide (probability near n²/2⁶⁵) would
// make one of them look superseded. The first pass reads a line's key
// from its start ({"custom_id":"KEY", as a Journal writes it) without
// decoding the rest, unless the rest could name custom_id again (then,
// and for other lines and the last one, it decodes the line as Scan
// does); the second pass decodes every line on Scan's fast path (members
// nobody asked for, such as a response body unless want has
// FieldResponse, are skipped by bracket counting) and checks the key the
// first pass read; it decodes in a goroutine of its own, a few hundred
// lines ahead of fn, which is called in order from the caller's goroutine
// (so decoding and fn's work overlap on two cores). An export thus costs
// little more than one resume's scan plus its writing. A pass that needs no record kept (a Report)
// reads once with ReadEach.
//
// A missing file is an error. A torn last line (no newline, or not JSON)
// is skipped and listed in ReadInfo.Torn; a bad line before the last one
// is a *CorruptError naming the file and line; as the first pass does not
// decode most lines, fn may have seen the records before it, but the
// error is the one a pass decoding every line first would give (the
// first bad line over all files), also when fn or the second pass failed
// first. An error returned by fn stops the reading and is returned.
func ReadAll(paths []string, want Fields, fn func(rec *Record, latest bool) error) (ReadInfo, error) {
	var info ReadInfo
	if len(paths) > maxFiles {
		return info, fmt.Errorf("read journals: at most %d files, got %d", maxFiles, len(paths))
	}
	seed := maphash.MakeSeed()
	latest := make(map[uint64]uint64)
	lines := make([]int64, len(paths))
	decoded := make([][]int64, len(paths))
	for i, p := range paths {
		var err error
		if _, err = os.Stat(p); err != nil {
			err = fmt.Errorf("open journal: %w", err)
		}
		var n, torn int64
		if err == nil {
			n, torn, decoded[i], err = keyPass(p, i, seed, latest, &info.Marks)
		}
		if err != nil {
			// keyPass left most lines unchecked: return the error of the
			// first bad line, as a pass decoding every line (Scan) would.
			if sinfo, serr := scanAll(paths); serr != nil {
				return sinfo, serr
			}
			return info, err
		}
		lines[i] = n
		info.Lines += n
		if torn > 0 {
			info.Torn = append(info.Torn, fmt.Sprintf("%s: %d bytes", p, torn))
		}
	}
	info.Keys = int64(len(latest))
	if err := secondPass(paths, lines, decoded, want, seed, latest, fn); err != nil {
		// The first pass left most lines unchecked: return the error
		// a first pass checking every line (Scan) would have
		// returned, if any, before fn saw a record.
		if sinfo, serr := scanAll(paths); serr != nil {
			return sinfo, serr
		}
		return info, err
	}
	return info, nil
}

// A readBatch is records the second pass decoded, in line order, their
// lines' positions (file<<48 | line number) and the error that stopped it
// after them, if any.
type readBatch struct {
	recs []*Record
	pos  []uint64
	err  error
}

// secondPass decodes the first lines[i] lines of each journal and calls fn
// with each record and whether it is its key's latest. Lines are decoded
// in a goroutine of their own, a batch ahead of fn, which is called in
// line order from the caller's goroutine; the goroutine has ended when
// secondPass returns.
func secondPass(paths []string, lines []int64, decoded [][]int64, want Fields, seed maphash.Seed, latest map[uint64]uint64, fn func(*Record, bool) error) error {
	const batchLen = 256
	batches := make(chan readBatch, 4)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(batches)
		b := readBatch{}
		send := func() bool {
			select {
			case batches <- b:
				b = readBatch{}
				return true
			case <-stop:
				return false
			}
		}
		errStopped := errors.New("stopped")
		for i, p := range paths {
			ls := lineScanner{want: want&fieldMask | fieldMeta}
			dec := decoded[i]
			var slab []Record // records are allocated batchLen at a time
			err := readLines(p, lines[i], func(n int64, line []byte) error {
				if len(slab) == 0 {
					slab = make([]Record, batchLen)
				}
				rec := &slab[0]
				slab = slab[1:]
				if ls.decode(line, rec) != nil {
					*rec = Record{}
					err := decodeRead(line, rec, want)
					if err == errMark {
						return nil
					}
					if err != nil {
						return &CorruptError{Path: p, Line: n, Err: err}
					}
				}
				if len(dec) > 0 && dec[0] == n {
					dec = dec[1:]
				} else if key, _, ok := prefixKey(line); !ok || string(key) != rec.CustomID {
					return fmt.Errorf("read journal %s: line %d: the first pass read key %q, the second %q (did the file change?)", p, n, key, rec.CustomID)
				}
				b.recs = append(b.recs, rec)
				b.pos = append(b.pos, uint64(i)<<48|uint64(n))
				if len(b.recs) == batchLen && !send() {
					return errStopped
				}
				return nil
			})
			if err == errStopped {
				return
			}
			if err != nil {
				b.err = err
				send()
				return
			}
		}
		if len(b.recs) > 0 {
			send()
		}
	}()
	defer func() {
		close(stop)
		<-done
	}()
	for b := range batches {
		// Whether a record is its key's latest is looked up here, not in
		// the decoding goroutine, which has the most work of the two.
		for k, rec := range b.recs {
			if err := fn(rec, latest[maphash.String(seed, rec.CustomID)] == b.pos[k]); err != nil {
				return err
			}
		}
		if b.err != nil {
			return b.err
		}
	}
	return nil
}

// scanAll is the first pass of ReadAll decoding every line with Scan; it
// returns the first bad line's error, if any, and what it read until then.
func scanAll(paths []string) (ReadInfo, error) {
	var info ReadInfo
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			return info, fmt.Errorf("open journal: %w", err)
		}
		si, err := Scan(p, nil)
		if err != nil {
			return info, err
		}
		info.Lines += si.Lines
		if si.TornBytes > 0 {
			info.Torn = append(info.Torn, fmt.Sprintf("%s: %d bytes", p, si.TornBytes))
		}
	}
	return info, nil
}

// ReadEach reads the journals at paths, in the order given, in one pass,
// and calls fn with every good record in file and line order, decoded with
// the members want selects as ReadAll does. It keeps no state per key, so
// it cannot tell which records are their key's latest (a Report tells it
// itself) and leaves ReadInfo.Keys zero; it reads each line once, which
// makes it about as fast as a resume's scan. fn must not keep rec: it is
// reused for the next line.
//
// Missing files, torn last lines, bad lines and fn's errors are handled
// as ReadAll handles them.
func ReadEach(paths []string, want Fields, fn func(rec *Record) error) (ReadInfo, error) {
	var info ReadInfo
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			return info, fmt.Errorf("open journal: %w", err)
		}
	}
	ls := lineScanner{want: want&fieldMask | fieldMeta}
	var rec Record
	for _, p := range paths {
		n, torn, err := eachLine(p, func(n int64, line []byte) error {
			rec = Record{}
			if ls.decode(line, &rec) != nil {
				rec = Record{}
				err := decodeRead(line, &rec, want)
				if err == errMark {
					info.Marks++
					return nil
				}
				if err != nil {
					return &CorruptError{Path: p, Line: n, Err: err}
				}
			}
			return fn(&rec)
		})
		info.Lines += n
		if err != nil {
			return info, err
		}
		if torn > 0 {
			info.Torn = append(info.Torn, fmt.Sprintf("%s: %d bytes", p, torn))
		}
	}
	return info, nil
}

// eachLine calls fn with every line of the file at path (1-based line
// numbers, newline stripped) but a torn last one: a last line without a
// newline is not passed; a line that fn refuses with a *CorruptError is an
// error only if another line follows it, else it is torn. It returns the
// good lines and the torn line's length.
func eachLine(path string, fn func(int64, []byte) error) (good, torn int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, fmt.Errorf("open journal: %w", err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	var (
		line    []byte
		n       int64
		pending *CorruptError // a bad line, fatal unless it turns out to be the last
	)
	for {
		line = line[:0]
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
			return good, torn, nil
		}
		if rerr != nil && rerr != io.EOF {
			return good, 0, fmt.Errorf("read journal %s: %w", path, rerr)
		}
		n++
		if pending != nil {
			return good, 0, pending
		}
		if rerr == io.EOF { // no newline: torn
			return good, int64(len(line)), nil
		}
		err := fn(n, line[:len(line)-1])
		var ce *CorruptError
		if errors.As(err, &ce) && ce.Path == path && ce.Line == n {
			pending, torn = ce, int64(len(line))
			continue
		}
		if err != nil {
			return good, 0, err
		}
		good++
	}
}

// ReadLatest calls fn with the latest record of each key only (see
// ReadAll), in the order of those records in the journals.
func ReadLatest(paths []string, want Fields, fn func(*Record) error) (ReadInfo, error) {
	return ReadAll(paths, want, func(rec *Record, latest bool) error {
		if !latest {
			return nil
		}
		return fn(rec)
	})
}

// readLines calls fn with the first n lines of the file at path (1-based
// line numbers, newline stripped).
func readLines(path string, n int64, fn func(int64, []byte) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open journal: %w", err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	var line []byte
	for i := int64(1); i <= n; i++ {
		line = line[:0]
		for {
			frag, err := br.ReadSlice('\n')
			line = append(line, frag...)
			if err == bufio.ErrBufferFull {
				continue
			}
			if err != nil {
				if errors.Is(err, io.EOF) {
					return fmt.Errorf("read journal %s: changed while reading (line %d gone)", path, i)
				}
				return fmt.Errorf("read journal %s: %w", path, err)
			}
			break
		}
		if err := fn(i, bytes.TrimSuffix(line, []byte("\n"))); err != nil {
			return err
		}
	}
	return nil
}

// decodeRead is ReadAll's full decoder, for the lines its fast path
// (lineScanner) hands back: encoding/json over the whole line, numbers in
// input columns as json.Number, custom_id required; then the members want
// leaves out are dropped.
func decodeRead(line []byte, rec *Record, want Fields) error {
	var s struct {
		Record
		CustomID *string `json:"custom_id"` // shadows Record's, to tell a missing one
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	if err := dec.Decode(&s); err != nil {
		return err
	}
	for _, c := range line[dec.InputOffset():] {
		switch c {
		case ' ', '\t', '\r', '\n':
		default:
			return fmt.Errorf("invalid character %q after the record", c)
		}
	}
	if s.CustomID == nil {
		if isMark(line) {
			return errMark
		}
		return errors.New("record has no custom_id")
	}
	*rec = s.Record
	rec.CustomID = *s.CustomID
	if want&FieldOutputText == 0 {
		rec.OutputText = ""
	}
	if want&FieldInputJSON != 0 {
		text, err := encodeInput(rec.Input)
		if err != nil {
			return err
		}
		rec.inputJSON = text
	}
	if want&FieldInput == 0 {
		rec.Input = nil
	}
	switch {
	case want&FieldResponse != 0:
	case want&FieldEmbedding != 0 && rec.Response != nil:
		if !isEmbeddingList(rec.Response.Body) {
			rec.Response.Body = nil
		}
	default:
		rec.Response = nil
	}
	return nil
}
