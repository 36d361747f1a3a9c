package rows

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// JSONLReader reads newline-delimited JSON objects, one row per line.
// Blank lines are skipped (they take no index). A UTF-8 byte order mark at
// the start is ignored. A line that is not a JSON object, is not valid
// UTF-8, or is longer than MaxRowBytes is returned as a *RowError and the
// reader goes on with the next line.
//
// A JSONLReader is not safe for concurrent use.
type JSONLReader struct {
	// MaxRowBytes limits one line's length; 0 means DefaultMaxRowBytes.
	MaxRowBytes int

	name  string
	br    *bufio.Reader
	line  int64
	index int64
	buf   []byte
	off   int64 // input offset of the next line
	end   int64 // when positive, no line starting at or after it is read (Shard)
	keys  keyCache
}

// NewJSONLReader returns a reader of r; name is used in error messages.
func NewJSONLReader(r io.Reader, name string) *JSONLReader {
	return &JSONLReader{name: name, br: bufio.NewReaderSize(r, 64<<10)}
}

// Next implements Reader.
func (r *JSONLReader) Next() (Row, error) {
	max := r.MaxRowBytes
	if max <= 0 {
		max = DefaultMaxRowBytes
	}
	for {
		if r.end > 0 && r.off >= r.end {
			return Row{}, io.EOF
		}
		line, tooLong, err := r.readLine(max)
		if err == io.EOF && line == nil {
			return Row{}, io.EOF
		}
		if err != nil && err != io.EOF {
			return Row{}, fmt.Errorf("read %s: %w", r.name, err)
		}
		r.line++
		if r.line == 1 {
			line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf"))
		}
		if tooLong {
			idx := r.index
			r.index++
			return Row{Index: idx, Line: r.line}, r.rowErr(idx, fmt.Errorf("%w (%d bytes)", ErrRowTooLong, max))
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		idx := r.index
		r.index++
		row := Row{Index: idx, Line: r.line}
		if !utf8.Valid(line) {
			return row, r.rowErr(idx, ErrInvalidUTF8)
		}
		if line[0] != '{' {
			return row, r.rowErr(idx, ErrNotObject)
		}
		fields, err := decodeObject(line, &r.keys)
		if err != nil {
			return row, r.rowErr(idx, err)
		}
		row.Fields = fields
		return row, nil
	}
}

func (r *JSONLReader) rowErr(idx int64, err error) *RowError {
	return &RowError{File: r.name, Line: r.line, Index: idx, Err: err}
}

// readLine returns the next line without its newline. If the line exceeds
// max bytes it is consumed to its end and tooLong is set. It returns
// (nil, false, io.EOF) at the end of the input.
func (r *JSONLReader) readLine(max int) (line []byte, tooLong bool, err error) {
	r.buf = r.buf[:0]
	for {
		frag, err := r.br.ReadSlice('\n')
		r.off += int64(len(frag))
		if !tooLong {
			if len(r.buf)+len(frag) > max+2 { // allow for "\r\n"
				tooLong = true
				r.buf = r.buf[:0]
			} else {
				r.buf = append(r.buf, frag...)
			}
		}
		switch {
		case err == nil:
			return r.trimLine(max, tooLong)
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == io.EOF:
			if len(r.buf) == 0 && !tooLong {
				return nil, false, io.EOF
			}
			return r.trimLine(max, tooLong)
		default:
			return nil, false, err
		}
	}
}

// trimLine returns r.buf without its line ending. The check against max
// while reading allows two bytes for "\r\n"; this one is exact.
func (r *JSONLReader) trimLine(max int, tooLong bool) ([]byte, bool, error) {
	line := bytes.TrimRight(r.buf, "\r\n")
	if tooLong || len(line) > max {
		return nil, true, nil
	}
	return line, false, nil
}

// DecodeObject decodes one JSON object, keeping numbers as json.Number so
// that they are sent on exactly as written. Trailing data after the object
// is an error.
func DecodeObject(b []byte) (map[string]any, error) {
	return decodeObject(b, nil)
}

// decodeObject is DecodeObject taking member names from keys.
func decodeObject(b []byte, keys *keyCache) (map[string]any, error) {
	if m, ok := scanObject(b, keys); ok {
		return m, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if m == nil {
		return nil, ErrNotObject
	}
	if dec.More() {
		return nil, errors.New("invalid JSON: data after the object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("invalid JSON: data after the object")
	}
	return m, nil
}
