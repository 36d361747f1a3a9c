package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

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
	out := "s3://jobs/out/results.jsonl" + opts
	for i := range 2 {
		env, _, stderr := testEnv(vars)
		if code := run(context.Background(), []string{"run", "--base-url", base, "--model", "gpt-5-mini", "--id-column", "id",
			"--shards", "2", "--shard-index", fmt.Sprint(i), "--work-dir", filepath.Join(dir, "work"),
			"s3://jobs/in/reviews.jsonl" + opts, "-o", out}, env); code != exitOK {
			t.Fatalf("shard %d: exit %d:\n%s", i, code, stderr)
		}
		if !strings.Contains(stderr.String(), "journal: s3://jobs/out/results.shard-0") {
			t.Errorf("shard %d: stderr does not name the journal's URL:\n%s", i, stderr)
		}
	}
	glob := "s3://jobs/out/results.shard-*.jsonl" + opts
	env, stdout, stderr := testEnv(vars)
	if code := run(context.Background(), []string{"report", glob}, env); code != exitOK {
		t.Fatalf("report: exit %d:\n%s", code, stderr)
	}
	if !strings.Contains(stdout.String(), "shards: 2 of 2\n") || !strings.Contains(stdout.String(), "120 ok") {
		t.Errorf("report over %s:\n%s\n%s", glob, stdout, stderr)
	}
	env, _, stderr = testEnv(vars)
	dest := "s3://jobs/out/labels.parquet" + opts
	if code := run(context.Background(), []string{"export", glob, "-o", dest}, env); code != exitOK {
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

// TestLostMachine_JournalOnS3 SIGKILLs a run whose journal is on an
// S3-protocol server, uploaded every 200ms, and resumes it from an empty
// working directory, as a replacement machine would: what the lost
// machine cost is the answers journalled since the last upload (its
// working file's lines past the segments), sent and paid again; nothing
// is lost and no row ends twice.
func TestLostMachine_JournalOnS3(t *testing.T) {
	skipShort(t)
	backend := s3mem.New()
	backend.CreateBucket("jobs")
	ts := httptest.NewServer(gofakes3.New(backend).Server())
	defer ts.Close()
	// The child processes take their credentials from the environment.
	awsEnv := []string{"AWS_ACCESS_KEY_ID=k", "AWS_SECRET_ACCESS_KEY=s", "AWS_REGION=us-east-1"}
	opts := "?endpoint=" + ts.URL + "&region=us-east-1&use_path_style=true&disable_https=true"
	const rows = 1500
	dir := t.TempDir()
	input := writeRows(t, dir, rows)
	sim := startSimProc(t, "--latency", "10ms", "--seed", "4")
	journal := "s3://jobs/job/results.jsonl" + opts
	args := jobArgs(input, journal, sim.base, "--concurrency", "8", "--upload-interval", "200ms")

	cmd, stderr := llmbatchCmd(t, append(args, "--work-dir", filepath.Join(dir, "machine-a"))...)
	cmd.Env = append(cmd.Env, awsEnv...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(700 * time.Millisecond)
	cmd.Process.Kill()
	if status := exitStatus(t, cmd, cmd.Wait()); status != -9 {
		t.Fatalf("the first run ended %d before the kill; stderr:\n%s", status, stderr)
	}
	// What the lost machine held beyond the uploaded segments.
	var uploaded int64
	for _, c := range listKeys(t, backend, "job/results.jsonl.seg-") {
		uploaded += c
	}
	locals, _ := filepath.Glob(filepath.Join(dir, "machine-a", "*", "results.jsonl"))
	if len(locals) != 1 {
		t.Fatalf("working files: %v", locals)
	}
	data, _ := os.ReadFile(locals[0])
	notUploaded := strings.Count(string(data[uploaded:]), "\n")
	before := sim.stats(t)

	resume, out := llmbatchCmd(t, append(args, "--work-dir", filepath.Join(dir, "machine-b"))...)
	resume.Env = append(resume.Env, awsEnv...)
	if code := exitStatus(t, resume, resume.Run()); code != 0 {
		t.Fatalf("resume on machine b: exit %d:\n%s", code, out)
	}
	after := sim.stats(t)
	repaid := 0
	for _, c := range after.PerBody {
		repaid += max(c[1]-1, 0)
	}
	// The uploaded journal: its segments in order.
	segs := listKeys(t, backend, "job/results.jsonl.seg-")
	keys := slices.Sorted(maps.Keys(segs))
	var whole []byte
	for _, k := range keys {
		obj, err := backend.GetObject("jobs", k, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(obj.Contents)
		obj.Contents.Close()
		whole = append(whole, b...)
	}
	fetched := filepath.Join(dir, "uploaded.jsonl")
	os.WriteFile(fetched, whole, 0o600)
	checkComplete(t, readJournalFile(t, fetched), rows)
	t.Logf("lost machine: killed after 0.7s with %d bytes uploaded; %d answers journalled on it since the last upload; the resume re-paid %d answers (the sim had completed %d before it)",
		uploaded, notUploaded, repaid, before.Completed)
	if repaid < notUploaded || repaid > notUploaded+8 {
		t.Errorf("re-paid %d answers, want the %d journalled since the last upload (plus at most the 8 in flight at the kill)", repaid, notUploaded)
	}
}

// listKeys returns the sizes of the objects under prefix.
func listKeys(t *testing.T, b *s3mem.Backend, prefix string) map[string]int64 {
	t.Helper()
	list, err := b.ListBucket("jobs", &gofakes3.Prefix{HasPrefix: true, Prefix: prefix}, gofakes3.ListBucketPage{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, c := range list.Contents {
		out[c.Key] = c.Size
	}
	return out
}
