package rows

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// CSVReader reads delimited text (CSV, TSV) with encoding/csv. The first
// record is the header: it names the columns, and every later record is a
// Row whose Fields map each column name to the record's cell (a string).
//
// A UTF-8 byte order mark before the header is dropped. Quoted fields may
// hold the delimiter, quotes ("") and newlines. Blank lines are skipped and
// take no index. Row.Line is the 1-based line where the record starts, as
// csv.Reader.FieldPos counts lines. These bad records are returned as a
// *RowError and the reader goes on with the next record:
//
//   - a record with more or fewer fields than the header (ErrFieldCount);
//   - a cell that is not valid UTF-8 (ErrInvalidUTF8, naming the column);
//   - a record longer than MaxRowBytes (ErrRowTooLong); it is skipped
//     without being held in memory;
//   - a syntax error that encoding/csv reports as a *csv.ParseError, such
//     as a bare quote (wrapping csv.ErrBareQuote or csv.ErrQuote).
//
// An input without a header is a fatal error wrapping ErrEmptyInput; an
// empty, duplicate or non-UTF-8 column name is a fatal error wrapping
// ErrHeader. A header with no records after it gives io.EOF at the first
// Next. A fatal error is returned again by every later call.
//
// A CSVReader is not safe for concurrent use. It reads r lazily (the header
// at the first call to Next or Header) and never closes it.
type CSVReader struct {
	// MaxRowBytes limits one record's size in bytes as it is in the input
	// (quotes and embedded newlines included, its final line ending not);
	// 0 means DefaultMaxRowBytes. It applies to the header too.
	MaxRowBytes int

	name   string
	comma  rune
	split  csvSplitter
	feed   csvFeed
	cr     *csv.Reader
	fed    int64 // bytes handed to cr through feed
	header []string
	read   bool // header read
	index  int64
	err    error // sticky fatal error
}

// NewCSVReader returns a reader of r whose fields are separated by comma
// (',' for CSV, '\t' for TSV); name is used in error messages. A comma that
// encoding/csv does not accept (0, '"', '\r', '\n', an invalid rune) makes
// the first Next return a fatal error.
func NewCSVReader(r io.Reader, name string, comma rune) *CSVReader {
	c := &CSVReader{name: name, comma: comma}
	c.split.init(r, comma)
	c.cr = c.newCSV()
	return c
}

func (r *CSVReader) newCSV() *csv.Reader {
	cr := csv.NewReader(&r.feed)
	cr.Comma = r.comma
	cr.FieldsPerRecord = -1 // checked here, against the header
	cr.ReuseRecord = true
	r.fed = 0
	return cr
}

// Header returns the column names, reading the header if Next has not been
// called yet. It returns the same fatal errors as Next. The caller must not
// modify the returned slice.
func (r *CSVReader) Header() ([]string, error) {
	if r.err != nil {
		return nil, r.err
	}
	if !r.read {
		if err := r.readHeader(); err != nil {
			r.err = err
			return nil, err
		}
	}
	return r.header, nil
}

// Next implements Reader.
func (r *CSVReader) Next() (Row, error) {
	if _, err := r.Header(); err != nil {
		return Row{}, err
	}
	for {
		rec, err := r.split.next(r.maxRowBytes())
		if err == io.EOF {
			return Row{}, io.EOF
		}
		if err != nil {
			r.err = fmt.Errorf("read %s: %w", r.name, err)
			return Row{}, r.err
		}
		row := Row{Index: r.index, Line: rec.line}
		if rec.tooLong {
			r.index++
			return row, r.rowErr(row, fmt.Errorf("%w (%d bytes)", ErrRowTooLong, r.maxRowBytes()))
		}
		fields, pe, err := r.parse(rec)
		if err == io.EOF {
			continue // not a record after all; cannot happen while the splitter agrees with encoding/csv
		}
		if err != nil {
			r.err = err
			return Row{}, err
		}
		r.index++
		if pe != nil {
			return row, r.rowErr(row, pe)
		}
		if len(fields) != len(r.header) {
			return row, r.rowErr(row, fmt.Errorf("%w: got %d, want %d", ErrFieldCount, len(fields), len(r.header)))
		}
		m := make(map[string]any, len(fields))
		for i, f := range fields {
			if !utf8.ValidString(f) {
				return row, r.rowErr(row, fmt.Errorf("column %q: %w", r.header[i], ErrInvalidUTF8))
			}
			m[r.header[i]] = f
		}
		row.Fields = m
		return row, nil
	}
}

func (r *CSVReader) maxRowBytes() int {
	if r.MaxRowBytes <= 0 {
		return DefaultMaxRowBytes
	}
	return r.MaxRowBytes
}

func (r *CSVReader) rowErr(row Row, err error) *RowError {
	return &RowError{File: r.name, Line: row.Line, Index: row.Index, Err: err}
}

// parse hands one raw record to encoding/csv. A *csv.ParseError comes back
// as pe, a reason for a *RowError with its position relative to rec.line;
// err is fatal (or io.EOF if rec held no record).
func (r *CSVReader) parse(rec csvRecord) (fields []string, pe error, err error) {
	r.feed.b = rec.data
	r.fed += int64(len(rec.data))
	fields, err = r.cr.Read()
	if r.cr.InputOffset() != r.fed {
		// encoding/csv stopped short of the end of the record: drop what
		// is left rather than let it leak into the next record.
		r.feed.b = nil
		r.cr = r.newCSV()
	}
	var perr *csv.ParseError
	switch {
	case err == nil:
		return fields, nil, nil
	case err == io.EOF:
		return nil, nil, io.EOF
	case errors.As(err, &perr):
		line := rec.line + int64(perr.Line-perr.StartLine)
		if line != rec.line {
			return fields, fmt.Errorf("line %d, column %d: %w", line, perr.Column, perr.Err), nil
		}
		return fields, fmt.Errorf("column %d: %w", perr.Column, perr.Err), nil
	default:
		return nil, nil, fmt.Errorf("read %s: %w", r.name, err)
	}
}

func (r *CSVReader) readHeader() error {
	r.read = true
	if !validDelim(r.comma) {
		return fmt.Errorf("read %s: invalid delimiter %q", r.name, r.comma)
	}
	rec, err := r.split.next(r.maxRowBytes())
	if err == io.EOF {
		return fmt.Errorf("%s: %w: the file has no header line", r.name, ErrEmptyInput)
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", r.name, err)
	}
	pos := fmt.Sprintf("%s:%d", r.name, rec.line)
	if rec.tooLong {
		return fmt.Errorf("%s: %w: %w (%d bytes)", pos, ErrHeader, ErrRowTooLong, r.maxRowBytes())
	}
	fields, pe, err := r.parse(rec)
	if err == io.EOF {
		return fmt.Errorf("%s: %w: the file has no header line", r.name, ErrEmptyInput)
	}
	if err != nil {
		return err
	}
	if pe != nil {
		return fmt.Errorf("%s: %w: %w", pos, ErrHeader, pe)
	}
	seen := make(map[string]int, len(fields))
	header := make([]string, len(fields))
	for i, f := range fields {
		switch j, dup := seen[f]; {
		case !utf8.ValidString(f):
			return fmt.Errorf("%s: %w: column %d: %w", pos, ErrHeader, i+1, ErrInvalidUTF8)
		case f == "":
			return fmt.Errorf("%s: %w: column %d has an empty name", pos, ErrHeader, i+1)
		case dup:
			return fmt.Errorf("%s: %w: duplicate column name %q (columns %d and %d)", pos, ErrHeader, f, j+1, i+1)
		}
		seen[f] = i
		header[i] = f
	}
	r.header = header
	return nil
}

// validDelim reports whether encoding/csv accepts r as a delimiter.
func validDelim(r rune) bool {
	return r != 0 && r != '"' && r != '\r' && r != '\n' && utf8.ValidRune(r) && r != utf8.RuneError
}

// csvFeed hands encoding/csv one record at a time: it returns io.EOF when
// the record is used up, and the next record once b is set again (bufio,
// under csv.Reader, does not keep io.EOF).
type csvFeed struct{ b []byte }

func (f *csvFeed) Read(p []byte) (int, error) {
	if len(f.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, f.b)
	f.b = f.b[n:]
	return n, nil
}

// csvRecord is one raw record found by csvSplitter.
type csvRecord struct {
	data    []byte // the record as in the input, line ending included; valid until the next call; nil if tooLong
	line    int64  // 1-based line where the record starts
	tooLong bool
}

// Splitter states.
const (
	stRecStart   = iota // start of a record; blank lines are skipped here
	stRecStartCR        // "\r" at the start of a record
	stFieldStart        // start of a field
	stUnquoted          // in a field that does not start with a quote
	stQuoted            // in a quoted field
	stQuote             // a quote in a quoted field: its end, or the first of ""
	stQuoteCR           // a closing quote and "\r"
	stBadLine           // a syntax error: the record ends with this line
)

// csvSplitter finds where each record of a CSV input starts and ends,
// following exactly the rules of encoding/csv (with LazyQuotes off and no
// comment character), so that an oversized record can be skipped in
// bounded memory before encoding/csv buffers it. FuzzCSVRows checks that
// it agrees with encoding/csv.
type csvSplitter struct {
	r          io.Reader
	comma      []byte
	buf        []byte // read buffer; unread bytes are buf[start:end]
	start, end int
	err        error // read error, io.EOF at the end of the input
	line       int64 // '\n' bytes consumed
	rec        []byte
	bomDone    bool
}

func (s *csvSplitter) init(r io.Reader, comma rune) {
	s.r = r
	if validDelim(comma) {
		s.comma = utf8.AppendRune(nil, comma)
	} else {
		s.comma = []byte{0} // unused: Next fails before splitting
	}
	s.buf = make([]byte, 64<<10)
}

// fill reads more input after compacting the buffer. It sets s.err when the
// input fails or ends.
func (s *csvSplitter) fill() {
	if s.start > 0 {
		s.end = copy(s.buf, s.buf[s.start:s.end])
		s.start = 0
	}
	for i := 0; i < 100 && s.err == nil; i++ {
		n, err := s.r.Read(s.buf[s.end:])
		if n < 0 || n > len(s.buf)-s.end {
			s.err = errors.New("invalid read count")
			return
		}
		s.end += n
		if err != nil {
			s.err = err
		}
		if n > 0 {
			return
		}
	}
	if s.err == nil {
		s.err = io.ErrNoProgress
	}
}

// skipBOM drops a UTF-8 byte order mark at the start of the input.
func (s *csvSplitter) skipBOM() {
	s.bomDone = true
	for s.end-s.start < 3 && s.err == nil {
		s.fill()
	}
	if bytes.HasPrefix(s.buf[s.start:s.end], []byte("\xef\xbb\xbf")) {
		s.start += 3
	}
}

// next returns the next record. A record longer than max bytes (without
// its final line ending) is consumed but not kept, and has tooLong set.
// next returns io.EOF at the end of the input.
func (s *csvSplitter) next(max int) (csvRecord, error) {
	if !s.bomDone {
		s.skipBOM()
	}
	s.rec = s.rec[:0]
	st := stRecStart
	tooLong := false
	recLine := s.line + 1
	for {
		if s.start == s.end {
			if s.err != nil {
				if s.err != io.EOF {
					return csvRecord{}, s.err
				}
				if st == stRecStart || st == stRecStartCR {
					// Nothing, or a lone "\r", which encoding/csv drops
					// before the end of the input.
					return csvRecord{}, io.EOF
				}
				return s.done(recLine, tooLong, max)
			}
			s.fill()
			continue
		}
		b := s.buf[s.start:s.end]
		i := 0
		end := false
		more := false // need more input to look ahead
	scan:
		for i < len(b) {
			switch st {
			case stRecStart:
				switch b[i] {
				case '\n': // a blank line: not part of any record
					s.line++
					i++
					s.start += i
					b, i = b[i:], 0
					recLine = s.line + 1
				case '\r':
					st = stRecStartCR
					i++
				default:
					st = stFieldStart
				}
			case stRecStartCR:
				if b[i] == '\n' { // "\r\n": a blank line
					s.line++
					i++
					s.start += i
					b, i = b[i:], 0
					s.rec = s.rec[:0]
					recLine = s.line + 1
					st = stRecStart
				} else {
					st = stUnquoted // the "\r" starts an unquoted field
				}
			case stFieldStart:
				if b[i] == '"' {
					st = stQuoted
					i++
				} else {
					st = stUnquoted
				}
			case stUnquoted:
				for i < len(b) {
					c := b[i]
					if c == '\n' {
						s.line++
						i++
						end = true
						break scan
					}
					if c == '"' {
						st = stBadLine
						i++
						continue scan
					}
					if c == s.comma[0] {
						m, ok := s.matchComma(b[i:])
						if !ok {
							more = true
							break scan
						}
						if m {
							st = stFieldStart
							i += len(s.comma)
							continue scan
						}
					}
					i++
				}
			case stQuoted:
				j := bytes.IndexByte(b[i:], '"')
				if j < 0 {
					s.line += int64(bytes.Count(b[i:], []byte{'\n'}))
					i = len(b)
					break
				}
				s.line += int64(bytes.Count(b[i:i+j], []byte{'\n'}))
				i += j + 1
				st = stQuote
			case stQuote:
				switch c := b[i]; {
				case c == '"':
					st = stQuoted
					i++
				case c == '\n':
					s.line++
					i++
					end = true
					break scan
				case c == '\r':
					st = stQuoteCR
					i++
				case c == s.comma[0]:
					m, ok := s.matchComma(b[i:])
					if !ok {
						more = true
						break scan
					}
					if m {
						st = stFieldStart
						i += len(s.comma)
					} else {
						st = stBadLine
					}
				default:
					st = stBadLine
				}
			case stQuoteCR:
				if b[i] == '\n' {
					s.line++
					i++
					end = true
					break scan
				}
				st = stBadLine
			case stBadLine:
				j := bytes.IndexByte(b[i:], '\n')
				if j < 0 {
					i = len(b)
					break
				}
				s.line++
				i += j + 1
				end = true
				break scan
			}
		}
		if !tooLong {
			if len(s.rec)+i > max+2 { // +2 for a "\r\n" that does not count
				tooLong = true
				s.rec = s.rec[:0]
			} else {
				s.rec = append(s.rec, b[:i]...)
			}
		}
		s.start += i
		if end {
			return s.done(recLine, tooLong, max)
		}
		if more {
			if s.err != nil {
				// Too few bytes left for a multi-byte delimiter: the rest
				// cannot hold one. Finish the record on them.
				continue
			}
			s.fill()
		}
	}
}

// matchComma reports whether b starts with the delimiter. ok is false when
// b is too short to tell and more input may follow.
func (s *csvSplitter) matchComma(b []byte) (match, ok bool) {
	if len(s.comma) == 1 {
		return true, true
	}
	if len(b) >= len(s.comma) {
		return bytes.HasPrefix(b, s.comma), true
	}
	if s.err != nil { // the input ends within b
		return false, true
	}
	return false, false
}

// done finishes the record that started at line.
func (s *csvSplitter) done(line int64, tooLong bool, max int) (csvRecord, error) {
	if !tooLong {
		n := len(s.rec)
		switch {
		case bytes.HasSuffix(s.rec, []byte("\r\n")):
			n -= 2
		case bytes.HasSuffix(s.rec, []byte("\n")):
			n--
		}
		tooLong = n > max
	}
	if tooLong {
		return csvRecord{line: line, tooLong: true}, nil
	}
	return csvRecord{data: s.rec, line: line}, nil
}
