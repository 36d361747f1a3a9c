package pipeline_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/parquet-go/parquet-go"

	"github.com/llmbatch/llmbatch/io/results"
	"github.com/llmbatch/llmbatch/io/sim"
	"github.com/llmbatch/llmbatch/io/store"
	"github.com/llmbatch/llmbatch/pipeline"
)

// fakeS3 is an S3-protocol server (gofakes3, in memory) that counts the
// bytes its GETs send: the real AWS SDK talks to it through
// gocloud.dev/blob/s3blob, as it would to S3.
type fakeS3 struct {
	backend    *s3mem.Backend
	opts       string // the URL query that points the AWS SDK at the server
	sent, gets atomic.Int64
}

func startFakeS3(t *testing.T) *fakeS3 {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket("jobs"); err != nil {
		t.Fatal(err)
	}
	f := &fakeS3{backend: backend}
	h := gofakes3.New(backend).Server()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			f.gets.Add(1)
			w = &countingWriter{ResponseWriter: w, n: &f.sent}
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	// Credentials from the environment, as the AWS SDK takes them.
	t.Setenv("AWS_ACCESS_KEY_ID", "test-access-key")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test-secret-key")
	t.Setenv("AWS_REGION", "us-east-1")
	f.opts = "?endpoint=" + ts.URL + "&region=us-east-1&use_path_style=true&disable_https=true"
	return f
}

func (f *fakeS3) object(key string) string { return "s3://jobs/" + key + f.opts }

// keys lists the keys under prefix.
func (f *fakeS3) keys(t *testing.T, prefix string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	list, err := f.backend.ListBucket("jobs", &gofakes3.Prefix{HasPrefix: true, Prefix: prefix}, gofakes3.ListBucketPage{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range list.Contents {
		out[c.Key] = true
	}
	return out
}

func (f *fakeS3) put(t *testing.T, key string, data []byte) {
	t.Helper()
	w, err := store.Create(context.Background(), f.object(key))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.n.Add(int64(len(p)))
	return c.ResponseWriter.Write(p)
}

// wideRow is a Parquet row with two columns a job reads and eight it
// does not.
type wideRow struct {
	ID   string `parquet:"id"`
	Text string `parquet:"text"`
	P1   string `parquet:"p1"`
	P2   string `parquet:"p2"`
	P3   string `parquet:"p3"`
	P4   string `parquet:"p4"`
	P5   string `parquet:"p5"`
	P6   string `parquet:"p6"`
	P7   string `parquet:"p7"`
	P8   string `parquet:"p8"`
}

// TestRun_ParquetOnS3ReadsOnlyItsRanges runs shard 1 of 2 of a job whose
// Parquet input is on an S3-protocol server: the job reads the footer and
// the chunks of its 8 row groups of 16 for its 2 columns of 10, about a
// tenth of the file, counted in the bytes the server sent; the rows are
// those of the shard, keyed by id.
func TestRun_ParquetOnS3ReadsOnlyItsRanges(t *testing.T) {
	s3 := startFakeS3(t)
	rng := rand.New(rand.NewPCG(4, 4))
	pad := func() string {
		b := make([]byte, 150)
		for i := range b {
			b[i] = byte('a' + rng.IntN(26))
		}
		return string(b)
	}
	rowsIn := make([]wideRow, 4000)
	for i := range rowsIn {
		rowsIn[i] = wideRow{ID: fmt.Sprintf("r%05d", i), Text: fmt.Sprintf("review %d: %s", i, pad()[:40]),
			P1: pad(), P2: pad(), P3: pad(), P4: pad(), P5: pad(), P6: pad(), P7: pad(), P8: pad()}
	}
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[wideRow](&buf, parquet.MaxRowsPerRowGroup(250))
	if _, err := w.Write(rowsIn); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	size := int64(buf.Len())
	s3.put(t, "in/reviews.parquet", buf.Bytes())
	s3.sent.Store(0)
	s3.gets.Store(0)

	srv, base := startSim(t, sim.Config{Seed: 1})
	dir := t.TempDir()
	sum, err := pipeline.Run(context.Background(), pipeline.Config{
		Source:   pipeline.Source{Input: s3.object("in/reviews.parquet")},
		Template: pipeline.Template{Model: "gpt-5-mini", Prompt: "Label: {{.text}}", IDColumn: "id"},
		Output:   dir + "/results.jsonl", BaseURL: base, Concurrency: 8, Shards: 2, ShardIndex: 1})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Rows.OK != 2000 || sum.Rows.Total != 2000 || srv.Stats().Completed != 2000 {
		t.Errorf("%d rows ok of %d, sim completed %d; want 2000", sum.Rows.OK, sum.Rows.Total, srv.Stats().Completed)
	}
	recs := readJournal(t, dir+"/results.shard-01-of-02.jsonl")
	for _, r := range recs {
		if r.Index < 2000 || r.CustomID != fmt.Sprintf("r%05d", r.Index) {
			t.Errorf("row %d (key %s) is not shard 1's", r.Index, r.CustomID)
			break
		}
	}
	sent, gets := s3.sent.Load(), s3.gets.Load()
	t.Logf("parquet on S3: file %d bytes, 16 row groups x 10 columns; shard 1 of 2 reading 2 columns fetched %d bytes (%.1f%%) in %d GETs",
		size, sent, 100*float64(sent)/float64(size), gets)
	if sent > size/5 {
		t.Errorf("fetched %d bytes of a %d-byte file for 2 of 10 columns of half the row groups: want at most a fifth", sent, size)
	}
}

// TestRun_JSONLOnS3Shards runs 3 shards of a JSONL input on the S3-protocol
// server, each reading its byte range: together they journal every row
// once.
func TestRun_JSONLOnS3Shards(t *testing.T) {
	s3 := startFakeS3(t)
	var b strings.Builder
	for i := range 300 {
		fmt.Fprintf(&b, "{\"id\":\"k%03d\",\"text\":\"review %d\"}\n", i, i)
	}
	s3.put(t, "in.jsonl", []byte(b.String()))
	_, base := startSim(t, sim.Config{Seed: 1})
	dir := t.TempDir()
	seen := map[string]int{}
	for i := range 3 {
		if _, err := pipeline.Run(context.Background(), pipeline.Config{
			Source:   pipeline.Source{Input: s3.object("in.jsonl")},
			Template: pipeline.Template{Model: "gpt-5-mini", IDColumn: "id"},
			Output:   dir + "/results.jsonl", BaseURL: base, Shards: 3, ShardIndex: i}); err != nil {
			t.Fatal(err)
		}
		for _, r := range readJournal(t, fmt.Sprintf("%s/results.shard-%02d-of-03.jsonl", dir, i)) {
			seen[r.CustomID]++
		}
	}
	if len(seen) != 300 {
		t.Errorf("%d rows over the shards, want 300", len(seen))
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("row %s journalled %d times", k, n)
		}
	}
	// A missing object is a usage error naming it, without the URL's query.
	_, err := pipeline.Run(context.Background(), pipeline.Config{Source: pipeline.Source{Input: s3.object("nope.jsonl")},
		Template: pipeline.Template{Model: "gpt-5-mini"}, Output: dir + "/x.jsonl", BaseURL: base})
	if err == nil || !strings.Contains(err.Error(), "s3://jobs/nope.jsonl: no such object") || strings.Contains(err.Error(), "endpoint=") {
		t.Errorf("missing object: err = %v", err)
	}
}

// TestRun_JournalOnS3ResumesOnANewMachine journals to an S3-protocol
// server: the run is interrupted part way (its last lines are uploaded as
// it ends), then resumed with an empty working directory, as on another
// machine: it downloads the segments and sends only the rows they lack.
// Every row ends once in the uploaded journal, and the simulator was paid
// once per row.
func TestRun_JournalOnS3ResumesOnANewMachine(t *testing.T) {
	s3 := startFakeS3(t)
	var b strings.Builder
	for i := range 200 {
		fmt.Fprintf(&b, "{\"id\":\"k%03d\",\"text\":\"review %d\"}\n", i, i)
	}
	dir := t.TempDir()
	in := dir + "/in.jsonl"
	if err := os.WriteFile(in, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	srv, base := startSim(t, sim.Config{Seed: 2, Latency: 5 * time.Millisecond})
	journal := s3.object("job/results.jsonl")
	cfg := pipeline.Config{Source: pipeline.Source{Input: in}, Template: pipeline.Template{Model: "gpt-5-mini", IDColumn: "id"},
		Output: journal, BaseURL: base, Concurrency: 2, UploadInterval: 10 * time.Millisecond, WorkDir: dir + "/machine-a"}
	ctx, cancel := context.WithCancel(context.Background())
	var n atomic.Int64
	cfg.OnRecord = func(*results.Record) {
		if n.Add(1) == 80 {
			cancel()
		}
	}
	if _, err := pipeline.Run(ctx, cfg); !errors.Is(err, pipeline.ErrInterrupted) {
		t.Fatalf("first run: %v", err)
	}
	if segs := len(s3.keys(t, "job/results.jsonl.seg-")); segs < 2 {
		t.Errorf("%d segments uploaded, want several (one every 10ms)", segs)
	}
	cfg.OnRecord = nil
	cfg.WorkDir = dir + "/machine-b" // a new machine: no working file
	sum, err := pipeline.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Rows.OK != 200 || sum.Rows.Skipped < 80 {
		t.Errorf("resume: %+v, want 200 ok with the first run's rows skipped", sum.Rows)
	}
	if c := srv.Stats().Completed; c != 200 {
		t.Errorf("the simulator completed %d requests for 200 rows: the resume sent rows the segments held", c)
	}
	// The uploaded journal, read back as a report would: every row once.
	got := map[string]int{}
	w, err := store.OpenJournal(context.Background(), journal, dir+"/check/results.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	for _, r := range readJournal(t, dir+"/check/results.jsonl") {
		got[r.CustomID]++
	}
	for k, c := range got {
		if c != 1 {
			t.Errorf("%s: %d records", k, c)
		}
	}
	if len(got) != 200 {
		t.Errorf("%d rows in the uploaded journal, want 200", len(got))
	}
}
