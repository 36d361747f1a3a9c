package rows

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Input formats, as FormatOf returns them and Options.Format takes them.
const (
	FormatJSONL   = "jsonl"
	FormatCSV     = "csv"
	FormatTSV     = "tsv"
	FormatParquet = "parquet"
)

// Options configures Open, Count and FormatOf. The zero value picks the
// format by extension with the default limits.
type Options struct {
	// Format is "jsonl" (or "ndjson"), "csv", "tsv" or "parquet"; "" picks
	// it by the path's extension (.jsonl, .ndjson, .csv, .tsv, .parquet,
	// in any case), and "-" is JSONL.
	Format string
	// Delimiter overrides the CSV field delimiter; 0 means ',' for csv and
	// '\t' for tsv. It is ignored for other formats.
	Delimiter rune
	// MaxRowBytes limits one JSONL line or CSV record; 0 means
	// DefaultMaxRowBytes. It does not apply to Parquet.
	MaxRowBytes int
	// Columns, for Parquet, keeps only these top-level columns and reads
	// no other column's pages; nil or empty means all. It is ignored for
	// other formats.
	Columns []string
	// Stdin is read when the path is "-"; nil means os.Stdin. It is never
	// closed.
	Stdin io.Reader
	// Shard, when On, reads only that part of the input (see Shard); Count
	// counts only its rows.
	Shard Shard
	// Remote, when set, opens a path that is a URL (scheme://...), such as
	// an object on object storage (io/store): Open reads it through its
	// ReadAt (Parquet: the footer, then only the chunks it needs; JSONL and
	// CSV as a stream).
	Remote func(url string) (File, error)
}

// File is an input read by ranges, such as an object on object storage.
type File interface {
	io.ReaderAt
	io.Closer
	Size() int64
}

// IsURL reports whether path is a URL (scheme://...) that Options.Remote
// opens, not a local path.
func IsURL(path string) bool {
	i := strings.Index(path, "://")
	if i <= 0 {
		return false
	}
	for _, c := range path[:i] {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// openFile opens path, local or remote, as a File; regular reports whether
// it can be read by ranges (a regular file or a remote object, not a FIFO).
func openFile(path string, opts Options) (f File, regular bool, err error) {
	if opts.Remote != nil && IsURL(path) {
		f, err := opts.Remote(path)
		return f, err == nil, err
	}
	file, err := os.Open(path)
	if err != nil {
		return nil, false, err // *PathError names the path
	}
	st, err := file.Stat()
	if err != nil {
		file.Close()
		return nil, false, err
	}
	return localFile{file, st.Size()}, st.Mode().IsRegular(), nil
}

// localFile is a local file as a File.
type localFile struct {
	*os.File
	size int64
}

func (f localFile) Size() int64 { return f.size }

// FormatOf returns the format Open would use for path: opts.Format when set,
// "jsonl" for "-", else the one the extension names. An unknown format or
// extension is an error wrapping ErrUnknownFormat.
func FormatOf(path string, opts Options) (string, error) {
	if opts.Format != "" {
		switch f := strings.ToLower(opts.Format); f {
		case FormatJSONL, "ndjson":
			return FormatJSONL, nil
		case FormatCSV, FormatTSV, FormatParquet:
			return f, nil
		}
		return "", fmt.Errorf("%w %q: use jsonl, csv, tsv or parquet", ErrUnknownFormat, opts.Format)
	}
	if path == "-" {
		return FormatJSONL, nil
	}
	name := path
	if IsURL(path) {
		if i := strings.IndexByte(path, '?'); i >= 0 {
			name = path[:i] // s3://bucket/in.parquet?region=...
		}
	}
	switch strings.ToLower(filepath.Ext(name)) {
	case ".jsonl", ".ndjson":
		return FormatJSONL, nil
	case ".csv":
		return FormatCSV, nil
	case ".tsv":
		return FormatTSV, nil
	case ".parquet":
		return FormatParquet, nil
	}
	return "", fmt.Errorf("%w for %q: use .jsonl, .ndjson, .csv, .tsv or .parquet, or --input-format", ErrUnknownFormat, name)
}

// delimiter returns the CSV delimiter for format f.
func (o Options) delimiter(f string) (rune, error) {
	d := o.Delimiter
	if d == 0 {
		d = ','
		if f == FormatTSV {
			d = '\t'
		}
	}
	if !validDelim(d) {
		return 0, fmt.Errorf("invalid delimiter %q", d)
	}
	return d, nil
}

// Open opens path and returns a Reader of its rows and a closer that the
// caller must call when done (it closes the file; for "-" it does nothing).
// "-" reads opts.Stdin: JSONL by default, or CSV/TSV when opts.Format says
// so; Parquet needs a file. Errors name the path.
func Open(path string, opts Options) (Reader, io.Closer, error) {
	format, err := FormatOf(path, opts)
	if err != nil {
		return nil, nil, err
	}
	if err := opts.Shard.Check(); err != nil {
		return nil, nil, fmt.Errorf("open %s: %w", path, err)
	}
	r, c, err := open(path, format, opts)
	if err != nil || !opts.Shard.On() {
		return r, c, err
	}
	switch r := r.(type) {
	case *ParquetReader:
		r.limitGroups(opts.Shard)
		return r, c, nil
	case *JSONLReader:
		if rf, ok := c.(rangeFile); ok && rf.regular {
			jr, err := jsonlRange(rf, rf.Size(), path, opts.Shard, opts.MaxRowBytes)
			if err != nil {
				rf.Close()
				return nil, nil, err
			}
			return jr, c, nil
		}
	}
	return modShard{r: r, s: opts.Shard}, c, nil
}

func open(path, format string, opts Options) (Reader, io.Closer, error) {
	var (
		err   error
		delim rune
	)
	if format == FormatCSV || format == FormatTSV {
		if delim, err = opts.delimiter(format); err != nil {
			return nil, nil, fmt.Errorf("open %s: %w", path, err)
		}
	}
	var (
		in     io.Reader
		closer io.Closer = nopCloser{}
		file   File
	)
	if path == "-" {
		if format == FormatParquet {
			return nil, nil, errors.New("open -: parquet input cannot be read from stdin: give a file")
		}
		in = opts.Stdin
		if in == nil {
			in = os.Stdin
		}
	} else {
		var regular bool
		if file, regular, err = openFile(path, opts); err != nil {
			return nil, nil, err
		}
		in, closer = io.NewSectionReader(file, 0, file.Size()), rangeFile{file, regular}
		if !regular {
			in = file.(localFile).File // a FIFO: read it as it comes
		}
	}
	switch format {
	case FormatCSV, FormatTSV:
		r := NewCSVReader(in, path, delim)
		r.MaxRowBytes = opts.MaxRowBytes
		return r, closer, nil
	case FormatParquet:
		r, err := NewParquetReader(file, file.Size(), path, opts.Columns)
		if err != nil {
			file.Close()
			return nil, nil, err
		}
		return r, closerFunc(func() error {
			err := r.Close()
			if cerr := file.Close(); cerr != nil {
				err = cerr
			}
			return err
		}), nil
	default:
		r := NewJSONLReader(in, path)
		r.MaxRowBytes = opts.MaxRowBytes
		return r, closer, nil
	}
}

// Count returns the number of data rows in path for progress totals, or -1
// for "-" (stdin is not read). It is exact, and counts bad rows too, so it
// equals the number of results (rows and *RowErrors) that Open's Reader
// gives before io.EOF:
//
//   - JSONL: the lines that are not blank, read in one pass that keeps at
//     most one line (up to MaxRowBytes) in memory;
//   - CSV/TSV: the records after the header, found with the reader's own
//     record splitter (quoted newlines count right) without parsing fields;
//     0 if there is no header (Count does not check the header: a bad one
//     makes the Reader fail at its first Next);
//   - Parquet: the row count in the footer, without reading any page.
func Count(path string, opts Options) (int64, error) {
	return CountContext(context.Background(), path, opts)
}

// CountContext is Count, giving up with ctx's error when ctx is done.
func CountContext(ctx context.Context, path string, opts Options) (int64, error) {
	format, err := FormatOf(path, opts)
	if err != nil {
		return 0, err
	}
	if path == "-" {
		return -1, nil
	}
	if err := opts.Shard.Check(); err != nil {
		return 0, fmt.Errorf("count %s: %w", path, err)
	}
	f, regular, err := openFile(path, opts)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if opts.Shard.On() {
		return countShard(ctx, f, regular, path, format, opts)
	}
	var in io.Reader = io.NewSectionReader(f, 0, f.Size())
	if !regular {
		in = f.(localFile).File
	}
	limit := opts.MaxRowBytes
	if limit <= 0 {
		limit = DefaultMaxRowBytes
	}
	var n int64
	switch format {
	case FormatParquet:
		if n, err = ParquetNumRows(f, f.Size()); err != nil {
			return 0, fmt.Errorf("count %s: %w", path, err)
		}
		return n, nil
	case FormatCSV, FormatTSV:
		delim, err := opts.delimiter(format)
		if err != nil {
			return 0, fmt.Errorf("count %s: %w", path, err)
		}
		var s csvSplitter
		s.init(ctxReader{ctx, in}, delim)
		for {
			// A small limit: Count needs boundaries, not contents.
			_, err := s.next(0)
			if err == io.EOF {
				return max(n-1, 0), nil
			}
			if err != nil {
				return 0, fmt.Errorf("count %s: %w", path, err)
			}
			n++
		}
	default:
		r := NewJSONLReader(ctxReader{ctx, in}, path)
		for {
			line, tooLong, err := r.readLine(limit)
			if err == io.EOF && line == nil {
				return n, nil
			}
			if err != nil && err != io.EOF {
				return 0, fmt.Errorf("count %s: %w", path, err)
			}
			r.line++
			if r.line == 1 {
				line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf"))
			}
			// As JSONLReader.Next: only blank lines are not rows.
			if tooLong || len(bytes.TrimSpace(line)) > 0 {
				n++
			}
		}
	}
}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }

type closerFunc func() error

func (f closerFunc) Close() error { return f() }

var (
	_ Reader = (*JSONLReader)(nil)
	_ Reader = (*CSVReader)(nil)
	_ Reader = (*ParquetReader)(nil)
)

// ctxReader reads from r until ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// rangeFile is the closer Open returns for a file: the File itself, and
// whether it can be read by ranges.
type rangeFile struct {
	File
	regular bool
}
