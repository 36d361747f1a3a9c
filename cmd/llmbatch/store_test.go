package main

import (
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/parquet-go/parquet-go"

	"github.com/llmbatch/llmbatch/io/sim"
	"github.com/llmbatch/llmbatch/io/store"
)

// TestCLI_ObjectStorage runs a job whose input is on an S3-protocol
// server (gofakes3 behind the real AWS SDK, credentials from AWS_*), as two
// shards, and exports the glob of their journals to a Parquet object on
// the same server: the object holds every row.
func TestCLI_ObjectStorage(t *testing.T) {
	backend := s3mem.New()
	backend.CreateBucket("jobs")
	ts := httptest.NewServer(gofakes3.New(backend).Server())
	defer ts.Close()
	vars := map[string]string{"OPENAI_API_KEY": "sk-x", "AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s", "AWS_REGION": "us-east-1"}
	for k, v := range vars {
		t.Setenv(k, v) // the AWS SDK reads the process environment
	}
	opts := "?endpoint=" + ts.URL + "&region=us-east-1&use_path_style=true&disable_https=true"
	var b strings.Builder
	for i := range 120 {
		fmt.Fprintf(&b, "{\"id\":\"r%03d\",\"text\":\"review %d\"}\n", i, i)
	}
	w, err := store.Create(context.Background(), "s3://jobs/in/reviews.jsonl"+opts)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, b.String())
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	srv := sim.New(sim.Config{Seed: 5})
	base, err := srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	dir := t.TempDir()
	out := filepath.Join(dir, "results.jsonl")
	for i := range 2 {
		env, _, stderr := testEnv(vars)
		if code := run(context.Background(), []string{"run", "--base-url", base, "--model", "gpt-5-mini", "--id-column", "id",
			"--shards", "2", "--shard-index", fmt.Sprint(i), "s3://jobs/in/reviews.jsonl" + opts, "-o", out}, env); code != exitOK {
			t.Fatalf("shard %d: exit %d:\n%s", i, code, stderr)
		}
	}
	env, _, stderr := testEnv(vars)
	dest := "s3://jobs/out/labels.parquet" + opts
	if code := run(context.Background(), []string{"export", filepath.Join(dir, "results.shard-*.jsonl"), "-o", dest}, env); code != exitOK {
		t.Fatalf("export: exit %d:\n%s", code, stderr)
	}
	if !strings.Contains(stderr.String(), "wrote 120 rows") || !strings.Contains(stderr.String(), "s3://jobs/out/labels.parquet\n") {
		t.Errorf("export stderr:\n%s", stderr)
	}
	o, err := store.Open(context.Background(), dest)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	f, err := parquet.OpenFile(o, o.Size())
	if err != nil || f.NumRows() != 120 {
		t.Errorf("exported object: %v rows, %v", f, err)
	}
}
