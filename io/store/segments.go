package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"
)

// Journals on object storage. An append-only file (a results journal) is
// kept as a local working file and uploaded as immutable segments: the
// object KEY.seg-OFFSET (OFFSET: 16 digits) holds the file's bytes from
// OFFSET to the next segment's, whole lines only. Nothing is ever
// rewritten, so an upload that dies leaves at most a segment that the
// next upload of the same range replaces with the same bytes; a machine
// that starts without the working file downloads the segments and goes on
// from their end.

const segSep = ".seg-"

// segment is one uploaded segment.
type segment struct {
	key       string
	off, size int64
}

// segments lists the segments of the file at key in bucket, in order,
// checking that they are contiguous from 0.
func segments(ctx context.Context, b *blob.Bucket, key string) ([]segment, error) {
	var segs []segment
	it := b.List(&blob.ListOptions{Prefix: key + segSep})
	for {
		obj, err := it.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		off, err := strconv.ParseInt(strings.TrimPrefix(obj.Key, key+segSep), 10, 64)
		if err != nil || off < 0 {
			continue // not ours
		}
		segs = append(segs, segment{key: obj.Key, off: off, size: obj.Size})
	}
	sort.Slice(segs, func(i, j int) bool { return segs[i].off < segs[j].off })
	var end int64
	kept := segs[:0]
	for _, s := range segs {
		switch {
		case s.off > end:
			return nil, fmt.Errorf("segment %s starts at %d, but the segments before it end at %d", s.key, s.off, end)
		case s.off+s.size <= end:
			continue // a retried upload of a range already covered
		case s.off < end:
			return nil, fmt.Errorf("segment %s overlaps the one before it", s.key)
		}
		kept = append(kept, s)
		end = s.off + s.size
	}
	return kept, nil
}

// Journal is a local working file kept in step with segments on object
// storage (see Pull and Push).
type Journal struct {
	URL   string // the object URL, query included
	Local string // the working file
	// Uploaded is the offset up to which the working file is in segments.
	Uploaded int64

	bucket *blob.Bucket
	key    string
}

// OpenJournal opens the segmented file at url, with local as its working
// file, and brings local up to date: when local is missing or shorter
// than the segments, it is rebuilt from them (a new machine resumes where
// the last upload ended); else it is kept (this machine's copy, which may
// hold lines not uploaded yet).
func OpenJournal(ctx context.Context, rawURL, local string) (*Journal, error) {
	b, key, err := openBucket(ctx, rawURL)
	if err != nil {
		return nil, err
	}
	j := &Journal{URL: rawURL, Local: local, bucket: b, key: key}
	segs, err := segments(ctx, b, key)
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("%s: %w", Redact(rawURL), err)
	}
	var total int64
	if len(segs) > 0 {
		total = segs[len(segs)-1].off + segs[len(segs)-1].size
	}
	st, err := os.Stat(local)
	switch {
	case err == nil && st.Size() >= total:
		j.Uploaded = total
		return j, nil
	case err != nil && !errors.Is(err, os.ErrNotExist):
		b.Close()
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(local), 0o755); err != nil {
		b.Close()
		return nil, err
	}
	tmp := local + ".download"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		b.Close()
		return nil, err
	}
	for _, s := range segs {
		r, err := b.NewReader(ctx, s.key, nil)
		if err == nil {
			_, err = io.Copy(f, r)
			r.Close()
		}
		if err != nil {
			f.Close()
			os.Remove(tmp)
			b.Close()
			return nil, fmt.Errorf("download %s: %w", s.key, err)
		}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		b.Close()
		return nil, err
	}
	f.Close()
	if total == 0 {
		os.Remove(tmp)
		return j, nil // nothing uploaded yet: no working file either
	}
	if err := os.Rename(tmp, local); err != nil {
		b.Close()
		return nil, err
	}
	j.Uploaded = total
	return j, nil
}

// Push uploads the working file's whole lines past Uploaded as a new
// segment, if there are any, and returns the bytes uploaded.
func (j *Journal) Push(ctx context.Context) (int64, error) {
	f, err := os.Open(j.Local)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.Size() <= j.Uploaded {
		return 0, err
	}
	data := make([]byte, st.Size()-j.Uploaded)
	n, err := f.ReadAt(data, j.Uploaded)
	if err != nil && err != io.EOF {
		return 0, err
	}
	data = data[:n]
	end := bytes.LastIndexByte(data, '\n')
	if end < 0 {
		return 0, nil // no whole line yet
	}
	data = data[:end+1]
	key := fmt.Sprintf("%s%s%016d", j.key, segSep, j.Uploaded)
	if err := j.bucket.WriteAll(ctx, key, data, nil); err != nil {
		return 0, fmt.Errorf("upload %s: %w", key, err)
	}
	j.Uploaded += int64(len(data))
	return int64(len(data)), nil
}

// PutFile uploads the local file path as the object beside the journal
// named name (e.g. its summary), replacing it.
func (j *Journal) PutFile(ctx context.Context, name, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return j.bucket.WriteAll(ctx, name, data, nil)
}

// Key returns the journal's object key.
func (j *Journal) Key() string { return j.key }

// Close releases the bucket.
func (j *Journal) Close() error { return j.bucket.Close() }

// Glob returns the object URLs whose keys match the pattern in url's path
// (path.Match syntax, e.g. s3://bucket/job/results.shard-*.jsonl), each
// with url's query, sorted. Keys of segments and summaries are folded into
// the journal they belong to.
func Glob(ctx context.Context, rawURL string) ([]string, error) {
	b, pattern, err := openBucket(ctx, rawURL)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	prefix := pattern
	if i := strings.IndexAny(pattern, "*?[\\"); i >= 0 {
		prefix = pattern[:i]
	}
	u, _ := url.Parse(rawURL)
	seen := map[string]bool{}
	var out []string
	it := b.List(&blob.ListOptions{Prefix: prefix})
	for {
		obj, err := it.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		k := obj.Key
		if i := strings.LastIndex(k, segSep); i >= 0 {
			k = k[:i]
		}
		if ok, _ := path.Match(pattern, k); ok && !seen[k] {
			seen[k] = true
			v := *u
			v.Path = "/" + k
			out = append(out, v.String())
		}
	}
	sort.Strings(out)
	return out, nil
}

// GetFile downloads the object beside the journal named name (e.g. its
// summary) to the local file path; a missing object is not an error (ok
// is false).
func (j *Journal) GetFile(ctx context.Context, name, path string) (ok bool, err error) {
	data, err := j.bucket.ReadAll(ctx, name)
	if gcerrors.Code(err) == gcerrors.NotFound {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, os.WriteFile(path, data, 0o600)
}
