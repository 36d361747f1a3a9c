package results

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/llmbatch/llmbatch/io/api"
	"github.com/llmbatch/llmbatch/io/jsonscan"
	"github.com/llmbatch/llmbatch/io/secret"
)

// DefaultSyncInterval is how often a Journal fsyncs at most, when records
// arrive.
const DefaultSyncInterval = time.Second

// Errors of the journal.
var (
	ErrCorrupt = errors.New("journal is corrupt")
	// ErrEncode: a record holds a value JSON cannot encode; nothing was
	// written and the journal stays usable.
	ErrEncode = errors.New("cannot encode record")
	// ErrLocked: another process holds the journal's lock.
	ErrLocked = errors.New("journal is in use by another llmbatch process")
)

// CorruptError reports a bad line before the journal's last line: the
// journal is refused rather than silently rewritten.
type CorruptError struct {
	Path string
	Line int64
	Err  error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("%s:%d: %v: %v (a bad line before the last one is not repaired automatically; move the journal aside or fix that line)", e.Path, e.Line, ErrCorrupt, e.Err)
}

func (e *CorruptError) Unwrap() error { return ErrCorrupt }

// ScanInfo describes what Scan found.
type ScanInfo struct {
	Lines     int64 // good lines: records and marks
	Marks     int64 // marks among them
	Size      int64 // bytes of good records: where appending resumes
	TornBytes int64 // bytes of a torn last line, cut on Open
	Job       *Job  // the job of the last record or mark that names one (a --force run adds one)
	// TempsLeft is set by Resume when the temp files of a killed run
	// could not be removed (harmless: they only take space).
	TempsLeft error
}

// Scan reads the journal at path and calls fn with each good record. A
// missing file is an empty journal. A last line that lacks its newline or
// does not parse is torn (the writer died mid-write): it is reported in
// TornBytes, not passed to fn. A bad line before the last one is a
// *CorruptError. The Record passed to fn carries no response body, no
// output text and no input columns (request_sha256 it does), and is reused
// between calls. Marks are skipped (see ScanMarks).
func Scan(path string, fn func(*Record)) (ScanInfo, error) {
	return ScanMarks(path, fn, nil)
}

// ScanMarks is Scan that also calls mark, when not nil, with each mark, in
// line order with the records.
func ScanMarks(path string, fn func(*Record), mark func(*Mark)) (ScanInfo, error) {
	var info ScanInfo
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return info, nil
	}
	var (
		rec Record
		ls  lineScanner
	)
	good, torn, err := eachLine(path, func(n int64, line []byte) error {
		rec = Record{}
		if ls.decode(line, &rec) != nil {
			rec = Record{}
			err := decodeScan(line, &rec)
			if err == errMark {
				info.Size += int64(len(line)) + 1
				info.Marks++
				m, _ := decodeMark(line)
				if m.Job != nil {
					info.Job = m.Job
				}
				if mark != nil {
					mark(&m)
				}
				return nil
			}
			if err != nil {
				return &CorruptError{Path: path, Line: n, Err: err}
			}
		}
		if rec.Job != nil {
			info.Job = rec.Job
		}
		info.Size += int64(len(line)) + 1 // and its newline
		if fn != nil {
			fn(&rec)
		}
		return nil
	})
	info.Lines, info.TornBytes = good, torn
	return info, err
}

// decodeScan decodes the part of a line that Scan needs with encoding/json;
// the response body, output text and inputs are skipped, but still
// validated. Scan uses it for the lines its fast path (lineScanner) hands
// back.
func decodeScan(line []byte, rec *Record) error {
	var s struct {
		CustomID  *string `json:"custom_id"`
		Index     int64   `json:"index"`
		Job       *Job    `json:"job"`
		Error     *Error  `json:"error"`
		Model     string  `json:"model"`
		Attempts  int     `json:"attempts"`
		LatencyMS int64   `json:"latency_ms"`
		Request   string  `json:"request_sha256"`
		Reask     int     `json:"reask"`
		Reused    *Reused `json:"reused"`
		Tier      string  `json:"tier"`
		Usage     struct {
			InputTokens       int64 `json:"input_tokens"`
			CachedInputTokens int64 `json:"cached_input_tokens"`
			OutputTokens      int64 `json:"output_tokens"`
			ReasoningTokens   int64 `json:"reasoning_tokens"`
			TotalTokens       int64 `json:"total_tokens"`
		} `json:"usage"`
	}
	if err := json.Unmarshal(line, &s); err != nil {
		return err
	}
	if s.CustomID == nil {
		if isMark(line) {
			return errMark
		}
		return errors.New("record has no custom_id")
	}
	rec.CustomID = *s.CustomID
	rec.Index = s.Index
	rec.Job = s.Job
	rec.Error = s.Error
	rec.Model = s.Model
	rec.Attempts = s.Attempts
	rec.LatencyMS = s.LatencyMS
	rec.RequestSHA256 = s.Request
	rec.Reask = s.Reask
	rec.Reused = s.Reused
	rec.Tier = s.Tier
	rec.Usage.InputTokens = s.Usage.InputTokens
	rec.Usage.CachedInputTokens = s.Usage.CachedInputTokens
	rec.Usage.OutputTokens = s.Usage.OutputTokens
	rec.Usage.ReasoningTokens = s.Usage.ReasoningTokens
	rec.Usage.TotalTokens = s.Usage.TotalTokens
	return nil
}

// Journal appends records to a journal file. It is owned by one goroutine
// (the pipeline's writer); it is not safe for concurrent use.
type Journal struct {
	// SyncInterval bounds how long a written record may stay unsynced
	// while records keep arriving; 0 means DefaultSyncInterval. Call Sync
	// on a timer as well, and Close at the end. A negative SyncInterval
	// syncs only on Close (Sync does nothing): a crash of the process
	// still loses nothing written, but a crash of the machine may.
	SyncInterval time.Duration
	// Redact, when set, removes the API key from every line, in every
	// form (an endpoint may echo it in a body or a header); nil writes
	// lines as they are.
	Redact *secret.Redactor

	f        *os.File
	lock     *os.File // held from Resume to Close; nil for OpenJournal
	pend     []byte   // lines added, not yet written (Flush)
	ends     []int    // where each line of pend ends
	pmarks   []int    // which lines of pend are marks (indexes into ends)
	path     string
	buf      bytes.Buffer
	enc      *json.Encoder
	line     []byte // a line with a spliced body (encode)
	lastSync time.Time
	dirty    bool
	off      int64 // where the next write goes
	wbFrom   int64 // bytes from here to off are neither synced nor being written back
	// writeback starts the writeback of a range (startWriteback; a test
	// records the ranges instead).
	writeback func(off, n int64)
	n         int64 // records written
	marks     int64 // marks written
	err       error
}

// OpenJournal opens path for appending after its first size bytes; bytes
// beyond size (a torn tail found by Scan) are cut first. The file is
// created if missing.
func OpenJournal(path string, size int64) (*Journal, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, FileMode)
	if err != nil {
		return nil, fmt.Errorf("open journal: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open journal: %w", err)
	}
	if st.Size() != size {
		if err := f.Truncate(size); err != nil {
			f.Close()
			return nil, fmt.Errorf("cut torn tail of journal %s: %w", path, err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, fmt.Errorf("sync journal %s: %w", path, err)
		}
	}
	if _, err := f.Seek(size, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("open journal: %w", err)
	}
	j := &Journal{f: f, path: path, lastSync: time.Now(), off: size, wbFrom: size}
	j.enc = json.NewEncoder(&j.buf)
	j.enc.SetEscapeHTML(false)
	return j, nil
}

// Append writes rec as one line with a single write (Add, then Flush).
func (j *Journal) Append(rec *Record) error {
	if err := j.Add(rec); err != nil {
		return err
	}
	_, err := j.Flush()
	return err
}

// Add encodes rec as one line and holds it until Flush; nothing is written
// yet. A record that cannot be encoded is an ErrEncode and adds nothing.
// The line is valid UTF-8: invalid bytes of a response body are replaced
// by U+FFFD, one for each byte, as encoding/json does in strings. Redact
// is applied to the whole line.
func (j *Journal) Add(rec *Record) error {
	if j.err != nil {
		return j.err
	}
	if r := rec.Response; r != nil && !utf8.Valid(r.Body) {
		fixed := *r
		fixed.Body = ValidUTF8(r.Body)
		cp := *rec
		cp.Response = &fixed
		rec = &cp
	}
	line, err := j.encode(rec)
	if err != nil {
		return fmt.Errorf("%w %q: %w", ErrEncode, rec.CustomID, err)
	}
	j.pend = append(j.pend, j.Redact.JSON(line)...)
	j.ends = append(j.ends, len(j.pend))
	return nil
}

// Flush writes the lines Add holds with one write and returns how many
// were written whole. A crash during the write can tear the last line at
// most, which a resume cuts; a write that fails part way (a full disk)
// has written the lines before the failure whole. It fsyncs if the last
// sync is older than SyncInterval. After a write error every later call
// returns that error, and the lines not written are dropped.
func (j *Journal) Flush() (int, error) {
	if j.err != nil {
		return 0, j.err
	}
	whole := len(j.ends)
	if len(j.pend) > 0 {
		n, err := j.f.Write(j.pend)
		if err != nil {
			whole = 0
			for whole < len(j.ends) && j.ends[whole] <= n {
				whole++
			}
		}
		marks := 0
		for _, i := range j.pmarks {
			if i < whole {
				marks++
			}
		}
		j.n += int64(whole - marks)
		j.marks += int64(marks)
		j.dirty = j.dirty || n > 0
		if j.off += int64(n); j.off-j.wbFrom >= writebackChunk {
			if j.writeback != nil {
				j.writeback(j.wbFrom, j.off-j.wbFrom)
			} else {
				startWriteback(j.f, j.wbFrom, j.off-j.wbFrom)
			}
			j.wbFrom = j.off
		}
		if cap(j.pend) > maxPend {
			j.pend = nil // do not keep a huge batch's buffer
		}
		j.pend, j.ends, j.pmarks = j.pend[:0], j.ends[:0], j.pmarks[:0]
		if err != nil {
			j.err = fmt.Errorf("write journal %s: %w", j.path, osErr(err))
			return whole, j.err
		}
	}
	iv := j.SyncInterval
	if iv <= 0 {
		iv = DefaultSyncInterval
	}
	if j.SyncInterval >= 0 && time.Since(j.lastSync) >= iv {
		return whole, j.sync()
	}
	return whole, nil
}

// maxPend is the largest batch buffer a Journal keeps between Flushes.
const maxPend = 4 << 20

// writebackChunk is how much a Journal writes before it asks the kernel to
// start writing it to disk (startWriteback), so that no fsync finds more
// than about that much to write: a job's last fsync took 26-33 ms with the
// second's 13 MB of lines waiting, 1-11 ms with this.
const writebackChunk = 1 << 20

// encode returns rec's line, with its newline, in j's buffers: byte for
// byte the line encoding/json's Encoder (SetEscapeHTML(false)) writes for
// rec (TestJournal_LineIsEncodingJSON), written member by member without
// reflection. The members of no fixed shape (job, input, reused) are
// encoded by encoding/json alone and copied in: a value's encoding does
// not depend on where it sits.
//
// A response body is what makes a line long, and encoding/json scans a
// json.RawMessage twice over (to check it and to compact it). A body the
// client parsed already (Response.Checked) that is compact, as most
// servers send it, is copied into the line as it is.
func (j *Journal) encode(rec *Record) ([]byte, error) {
	b := append(j.line[:0], `{"custom_id":`...)
	b = jsonscan.AppendString(b, rec.CustomID)
	b = append(b, `,"index":`...)
	b = strconv.AppendInt(b, rec.Index, 10)
	var err error
	if rec.Job != nil {
		b = append(b, `,"job":`...)
		if b, err = j.appendJSON(b, rec.Job); err != nil {
			return nil, err
		}
	}
	b = append(b, `,"response":`...)
	if r := rec.Response; r == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, `{"status_code":`...)
		b = strconv.AppendInt(b, int64(r.StatusCode), 10)
		b = append(b, `,"request_id":`...)
		b = jsonscan.AppendString(b, r.RequestID)
		b = append(b, `,"body":`...)
		if r.Checked && len(r.Body) > 0 && compactJSON(r.Body) {
			b = append(b, r.Body...)
		} else if b, err = j.appendJSON(b, r.Body); err != nil {
			return nil, err
		}
		b = append(b, '}')
	}
	b = append(b, `,"error":`...)
	if e := rec.Error; e == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, `{"code":`...)
		b = jsonscan.AppendString(b, e.Code)
		if e.Type != "" {
			b = append(b, `,"type":`...)
			b = jsonscan.AppendString(b, e.Type)
		}
		b = append(b, `,"message":`...)
		b = jsonscan.AppendString(b, e.Message)
		if e.StatusCode != 0 {
			b = append(b, `,"status_code":`...)
			b = strconv.AppendInt(b, int64(e.StatusCode), 10)
		}
		b = append(b, `,"retryable":`...)
		b = strconv.AppendBool(b, e.Retryable)
		if e.Path != "" {
			b = append(b, `,"path":`...)
			b = jsonscan.AppendString(b, e.Path)
		}
		b = append(b, '}')
	}
	b = append(b, `,"output_text":`...)
	b = jsonscan.AppendString(b, rec.OutputText)
	b = append(b, `,"usage":`...)
	b = appendUsage(b, rec.Usage)
	if rec.Model != "" {
		b = append(b, `,"model":`...)
		b = jsonscan.AppendString(b, rec.Model)
	}
	b = append(b, `,"attempts":`...)
	b = strconv.AppendInt(b, int64(rec.Attempts), 10)
	b = append(b, `,"latency_ms":`...)
	b = strconv.AppendInt(b, rec.LatencyMS, 10)
	if rec.RequestSHA256 != "" {
		b = append(b, `,"request_sha256":`...)
		b = jsonscan.AppendString(b, rec.RequestSHA256)
	}
	if len(rec.Input) > 0 {
		b = append(b, `,"input":`...)
		if b, err = j.appendJSON(b, rec.Input); err != nil {
			return nil, err
		}
	}
	if rec.RateLimited != 0 {
		b = append(b, `,"rate_limited":`...)
		b = strconv.AppendInt(b, int64(rec.RateLimited), 10)
	}
	if rec.Reask != 0 {
		b = append(b, `,"reask":`...)
		b = strconv.AppendInt(b, int64(rec.Reask), 10)
	}
	if rec.Reused != nil {
		b = append(b, `,"reused":`...)
		if b, err = j.appendJSON(b, rec.Reused); err != nil {
			return nil, err
		}
	}
	if !rec.Time.IsZero() {
		b = append(b, `,"time":`...)
		if b, err = j.appendJSON(b, rec.Time); err != nil {
			return nil, err
		}
	}
	if rec.Tier != "" {
		b = append(b, `,"tier":`...)
		b = jsonscan.AppendString(b, rec.Tier)
	}
	b = append(b, '}', '\n')
	j.line = b
	return b, nil
}

// appendJSON appends v as j's encoding/json Encoder writes it, without
// the newline.
func (j *Journal) appendJSON(b []byte, v any) ([]byte, error) {
	if t, ok := v.(time.Time); ok {
		if y := t.Year(); y >= 0 && y <= 9999 && t.Location() == time.UTC {
			// What time.Time.MarshalJSON writes, without its allocation.
			b = append(b, '"')
			b = t.AppendFormat(b, time.RFC3339Nano)
			return append(b, '"'), nil
		}
	}
	j.buf.Reset()
	if err := j.enc.Encode(v); err != nil {
		return b, err
	}
	return append(b, bytes.TrimSuffix(j.buf.Bytes(), []byte("\n"))...), nil
}

// appendUsage appends u as encoding/json writes it.
func appendUsage(b []byte, u api.Usage) []byte {
	b = append(b, `{"input_tokens":`...)
	b = strconv.AppendInt(b, u.InputTokens, 10)
	b = append(b, `,"cached_input_tokens":`...)
	b = strconv.AppendInt(b, u.CachedInputTokens, 10)
	b = append(b, `,"output_tokens":`...)
	b = strconv.AppendInt(b, u.OutputTokens, 10)
	b = append(b, `,"reasoning_tokens":`...)
	b = strconv.AppendInt(b, u.ReasoningTokens, 10)
	b = append(b, `,"total_tokens":`...)
	b = strconv.AppendInt(b, u.TotalTokens, 10)
	return append(b, '}')
}

// compactJSON reports whether the valid JSON text b has no whitespace
// outside its strings, so that compacting it changes nothing (and it has
// no line break: one inside a string would be escaped).
func compactJSON(b []byte) bool {
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			return false
		case '"':
			// Skip to the closing quote: the next one not escaped by an
			// odd run of backslashes.
			for {
				k := bytes.IndexByte(b[i+1:], '"')
				if k < 0 {
					return false
				}
				i += 1 + k
				n := 0
				for n < i && b[i-1-n] == '\\' {
					n++
				}
				if n%2 == 0 {
					break
				}
			}
		}
	}
	return true
}

// Records returns how many records this Journal appended.
func (j *Journal) Records() int64 { return j.n }

// Marks returns how many marks (AddMark) this Journal has written.
func (j *Journal) Marks() int64 { return j.marks }

// Sync fsyncs the journal if anything was written since the last sync
// (unless SyncInterval is negative).
func (j *Journal) Sync() error {
	if j.SyncInterval < 0 {
		return j.err
	}
	return j.sync()
}

func (j *Journal) sync() error {
	if j.err != nil {
		return j.err
	}
	if !j.dirty {
		return nil
	}
	if err := j.f.Sync(); err != nil {
		j.err = fmt.Errorf("sync journal %s: %w", j.path, osErr(err))
		return j.err
	}
	j.dirty = false
	j.wbFrom = j.off
	j.lastSync = time.Now()
	return nil
}

// Close syncs and closes the journal.
func (j *Journal) Close() error {
	err := j.sync()
	if cerr := j.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close journal %s: %w", j.path, cerr)
	}
	if lerr := j.closeLock(); err == nil {
		err = lerr
	}
	return err
}

// osErr strips an *os.PathError down to the OS error, so that messages
// which name the file already do not name it twice.
func osErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// ValidUTF8 returns b with each byte that is not part of a valid UTF-8
// sequence replaced by U+FFFD, as encoding/json decodes strings; b itself
// when it is valid. Invalid bytes may only be inside JSON strings of a
// valid JSON text, so the result is still valid JSON.
func ValidUTF8(b []byte) []byte {
	if utf8.Valid(b) {
		return b
	}
	out := make([]byte, 0, len(b)+16)
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n == 1 {
			out = utf8.AppendRune(out, utf8.RuneError)
		} else {
			out = append(out, b[:n]...)
		}
		b = b[n:]
	}
	return out
}
