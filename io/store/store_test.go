package store_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"gocloud.dev/blob"

	"github.com/llmbatch/llmbatch/io/store"
)

func TestIsURL(t *testing.T) {
	for s, want := range map[string]bool{"s3://b/k": true, "file:///tmp/x": true, "mem://k": true, "results.jsonl": false,
		"/abs/path": false, "./a://b": false, "C:\\x": false, "-": false} {
		if got := store.IsURL(s); got != want {
			t.Errorf("IsURL(%q) = %v", s, got)
		}
	}
}

// TestObject_ReadAt: reads at random offsets return the object's bytes;
// a sequential reader's GETs grow (read-ahead), a random one's fetch no
// more than asked.
func TestObject_ReadAt(t *testing.T) {
	dir := t.TempDir()
	data := make([]byte, 3<<20)
	rng := rand.New(rand.NewPCG(1, 1))
	for i := range data {
		data[i] = byte(rng.IntN(256))
	}
	url := "file://" + filepath.ToSlash(dir) + "/obj.bin"
	w, err := store.Create(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	o, err := store.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if o.Size() != int64(len(data)) {
		t.Fatalf("Size = %d", o.Size())
	}
	// Sequential: 64 KiB reads through a SectionReader.
	got, err := io.ReadAll(io.NewSectionReader(o, 0, o.Size()))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("sequential read: %d bytes, %v", len(got), err)
	}
	fetched, gets := o.Fetched()
	if fetched != int64(len(data)) || gets > 12 {
		t.Errorf("sequential read of 3 MiB: %d bytes in %d GETs, want the file once in a few growing GETs", fetched, gets)
	}
	// Random: small reads far apart fetch about what they ask.
	o2, _ := store.Open(context.Background(), url)
	defer o2.Close()
	for range 50 {
		off := rng.Int64N(int64(len(data)) - 100)
		p := make([]byte, 100)
		if n, err := o2.ReadAt(p, off); n != 100 || err != nil || !bytes.Equal(p, data[off:off+100]) {
			t.Fatalf("ReadAt(100 at %d) = %d, %v", off, n, err)
		}
	}
	if fetched, _ := o2.Fetched(); fetched > 50*4096 {
		t.Errorf("50 random reads of 100 bytes fetched %d bytes", fetched)
	}
	p := make([]byte, 10)
	if n, err := o2.ReadAt(p, o2.Size()-4); n != 4 || err != io.EOF {
		t.Errorf("ReadAt past the end = %d, %v; want 4, io.EOF", n, err)
	}
}

func TestOpen_Missing(t *testing.T) {
	_, err := store.Open(context.Background(), "file://"+filepath.ToSlash(t.TempDir())+"/nope")
	if !errors.Is(err, store.ErrNotExist) {
		t.Errorf("err = %v, want ErrNotExist", err)
	}
}

// TestSchemes: every scheme the README names opens through this package.
func TestSchemes(t *testing.T) {
	for _, scheme := range []string{"s3", "gs", "azblob", "file", "mem"} {
		if !blob.DefaultURLMux().ValidBucketScheme(scheme) {
			t.Errorf("scheme %s:// is not registered", scheme)
		}
	}
}
