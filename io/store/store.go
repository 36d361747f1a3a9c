// Package store reads and writes files that may live on object storage:
// a local path, or a URL that gocloud.dev/blob opens: s3://bucket/key
// (Amazon S3 and S3-compatible stores), gs://bucket/key (Google Cloud
// Storage), azblob://container/key (Azure Blob Storage), file:///abs/path
// and mem://key. Credentials come from the store's usual environment
// (AWS_ACCESS_KEY_ID, AWS_PROFILE, ... for S3; GOOGLE_APPLICATION_CREDENTIALS
// for GCS; AZURE_STORAGE_ACCOUNT and AZURE_STORAGE_KEY, or a managed
// identity, for Azure), never from a flag; a URL's query sets the
// bucket's options (s3://bucket/key?region=eu-west-1&endpoint=http://minio:9000&use_path_style=true).
//
// An object is read through ranged GETs (Object.ReadAt): a reader that
// goes on where its last read ended gets a read-ahead that doubles up to
// MaxReadAhead, per stream (a Parquet reader interleaves the pages of
// several column chunks), while a jump reads only what is asked, so a
// Parquet reader fetches the footer and the chunks of its own row groups
// and columns, not the file.
package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"

	"gocloud.dev/blob"
	_ "gocloud.dev/blob/azureblob" // azblob://
	_ "gocloud.dev/blob/fileblob"  // file://
	_ "gocloud.dev/blob/gcsblob"   // gs://
	_ "gocloud.dev/blob/memblob"   // mem://
	_ "gocloud.dev/blob/s3blob"    // s3://
	"gocloud.dev/gcerrors"
)

// IsURL reports whether s names an object by URL (scheme://...) rather
// than a local path.
func IsURL(s string) bool {
	i := strings.Index(s, "://")
	if i <= 0 {
		return false
	}
	for _, c := range s[:i] {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// split returns the bucket URL and the key of an object URL:
// s3://bucket/dir/key?region=x is s3://bucket?region=x and dir/key.
func split(raw string) (bucketURL, key string, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", err
	}
	key = strings.TrimPrefix(u.Path, "/")
	if key == "" {
		return "", "", fmt.Errorf("%s: no object key after the bucket", Redact(raw))
	}
	u.Path = "/"
	if u.Scheme != "file" {
		u.Path = ""
	}
	return u.String(), key, nil
}

// openBucket opens the bucket of the object at raw and returns it with the
// object's key (for Glob, the key's pattern).
func openBucket(ctx context.Context, raw string) (*blob.Bucket, string, error) {
	bu, key, err := split(raw)
	if err != nil {
		return nil, "", err
	}
	b, err := blob.OpenBucket(ctx, bu)
	if err != nil {
		return nil, "", fmt.Errorf("open %s: %w", Redact(raw), err)
	}
	return b, key, nil
}

// Redact returns a URL without its query (which may hold options such as
// an endpoint, and is no place for secrets, but is kept out of messages
// all the same).
func Redact(raw string) string {
	if i := strings.IndexByte(raw, '?'); i >= 0 {
		return raw[:i]
	}
	return raw
}

// ErrNotExist is wrapped by the error of Open for an object that does not
// exist.
var ErrNotExist = errors.New("no such object")

// MaxReadAhead bounds an Object's read-ahead.
const MaxReadAhead = 8 << 20

// maxStreams is how many read-ahead buffers an Object keeps.
const maxStreams = 16

// Object is an object opened for reading: an io.ReaderAt of Size bytes,
// safe for concurrent use.
type Object struct {
	ctx    context.Context
	bucket *blob.Bucket
	key    string
	name   string
	size   int64

	mu      sync.Mutex
	streams []*stream
	tick    uint64

	fetched, gets atomic.Int64
}

// stream is one sequential reader's read-ahead buffer.
type stream struct {
	off    int64
	data   []byte
	window int
	used   uint64
}

// Open opens the object at url for reading.
func Open(ctx context.Context, rawURL string) (*Object, error) {
	b, key, err := openBucket(ctx, rawURL)
	if err != nil {
		return nil, err
	}
	attrs, err := b.Attributes(ctx, key)
	if err != nil {
		b.Close()
		if gcerrors.Code(err) == gcerrors.NotFound {
			return nil, fmt.Errorf("open %s: %w", Redact(rawURL), ErrNotExist)
		}
		return nil, fmt.Errorf("open %s: %w", Redact(rawURL), err)
	}
	return &Object{ctx: ctx, bucket: b, key: key, name: Redact(rawURL), size: attrs.Size}, nil
}

// Size returns the object's size in bytes.
func (o *Object) Size() int64 { return o.size }

// Fetched returns the bytes read from the store so far, and the ranged
// GETs that read them.
func (o *Object) Fetched() (bytes, gets int64) { return o.fetched.Load(), o.gets.Load() }

// Close releases the bucket.
func (o *Object) Close() error { return o.bucket.Close() }

// ReadAt implements io.ReaderAt.
func (o *Object) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("read %s: negative offset", o.name)
	}
	if off >= o.size {
		return 0, io.EOF
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.tick++
	want := len(p)
	p = p[:min(int64(len(p)), o.size-off)]
	done := 0
	for done < len(p) {
		n, err := o.readAt(p[done:], off+int64(done))
		done += n
		if err != nil {
			return done, err
		}
	}
	return o.eof(done, want)
}

// readAt reads into p at off, from a stream's buffer or one GET: a part
// of p when a buffer holds only its start.
func (o *Object) readAt(p []byte, off int64) (int, error) {
	var cont *stream
	for _, s := range o.streams {
		end := s.off + int64(len(s.data))
		if off >= s.off && off < end {
			s.used = o.tick
			return copy(p, s.data[off-s.off:]), nil
		}
		if off == end {
			cont = s // goes on where this stream's buffer ends
		}
	}
	n := max(len(p), 4<<10)
	if cont != nil {
		cont.window = min(max(cont.window*2, len(p)), MaxReadAhead)
		n = max(n, cont.window)
	} else {
		cont = &stream{window: len(p)}
		if len(o.streams) >= maxStreams {
			lru := 0
			for i, s := range o.streams {
				if s.used < o.streams[lru].used {
					lru = i
				}
			}
			o.streams = append(o.streams[:lru], o.streams[lru+1:]...)
		}
		o.streams = append(o.streams, cont)
	}
	n = int(min(int64(n), o.size-off))
	data, err := o.fetch(off, n)
	if err != nil {
		return 0, err
	}
	cont.off, cont.data, cont.used = off, data, o.tick
	return copy(p, data), nil
}

func (o *Object) eof(n, want int) (int, error) {
	if n < want {
		return n, io.EOF
	}
	return n, nil
}

// fetch reads n bytes at off with one ranged GET.
func (o *Object) fetch(off int64, n int) ([]byte, error) {
	r, err := o.bucket.NewRangeReader(o.ctx, o.key, off, int64(n), nil)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", o.name, err)
	}
	defer r.Close()
	buf := make([]byte, n)
	got, err := io.ReadFull(r, buf)
	o.gets.Add(1)
	o.fetched.Add(int64(got))
	if err != nil {
		return nil, fmt.Errorf("read %s at %d: %w", o.name, off, err)
	}
	return buf, nil
}

// Create returns a writer of the object at url: the object appears, whole,
// when Close returns nil; a writer whose ctx is cancelled before Close
// leaves no object.
func Create(ctx context.Context, rawURL string) (io.WriteCloser, error) {
	b, key, err := openBucket(ctx, rawURL)
	if err != nil {
		return nil, err
	}
	w, err := b.NewWriter(ctx, key, nil)
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("create %s: %w", Redact(rawURL), err)
	}
	return &writer{Writer: w, bucket: b}, nil
}

type writer struct {
	*blob.Writer
	bucket *blob.Bucket
}

func (w *writer) Close() error {
	err := w.Writer.Close()
	if cerr := w.bucket.Close(); err == nil {
		err = cerr
	}
	return err
}
