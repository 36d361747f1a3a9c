package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/llmbatch/llmbatch/io/results"
	"github.com/llmbatch/llmbatch/io/sim"
)

// TestCLI_ShardsReportExport runs a job as 3 shards through run(), the
// index from JOB_COMPLETION_INDEX as a Kubernetes Indexed Job gives it,
// then reports and exports the quoted glob of their journals: one view of
// the job, equal to what the simulator billed, exported in input order;
// a missing shard is named, and journals of another job are refused.
func TestCLI_ShardsReportExport(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.jsonl")
	var b strings.Builder
	const n = 150
	for i := range n {
		fmt.Fprintf(&b, "{\"id\":\"r%03d\",\"text\":\"review %d\"}\n", i, i)
	}
	os.WriteFile(in, []byte(b.String()), 0o600)
	srv := sim.New(sim.Config{Seed: 5})
	base, err := srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	out := filepath.Join(dir, "results.jsonl")
	args := []string{"run", "--base-url", base, "--model", "gpt-5-mini", "--id-column", "id", "--shards", "3", in, "-o", out}
	for i := range 3 {
		env, _, stderr := testEnv(map[string]string{"OPENAI_API_KEY": "sk-x", "JOB_COMPLETION_INDEX": strconv.Itoa(i)})
		if code := run(context.Background(), args, env); code != exitOK {
			t.Fatalf("shard %d: exit %d:\n%s", i, code, stderr)
		}
		if want := "journal: " + filepath.Join(dir, fmt.Sprintf("results.shard-%02d-of-03.jsonl", i)); !strings.Contains(stderr.String(), want) {
			t.Errorf("shard %d: stderr lacks %q:\n%s", i, want, stderr)
		}
	}
	glob := filepath.Join(dir, "results.shard-*.jsonl")
	env, stdout, stderr := testEnv(nil)
	if code := run(context.Background(), []string{"report", "--json", glob}, env); code != exitOK {
		t.Fatalf("report: exit %d:\n%s", code, stderr)
	}
	var rep struct {
		Rows   struct{ Keys, OK int64 }
		Usage  results.UsageSum
		Shards results.ShardSet
	}
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("report --json: %v\n%s", err, stdout)
	}
	st := srv.Stats()
	if rep.Rows.OK != n || rep.Usage.Total.InputTokens != st.InputTokens || rep.Usage.Total.OutputTokens != st.OutputTokens {
		t.Errorf("report: %d ok, tokens %d/%d; sim billed %d/%d for %d rows", rep.Rows.OK,
			rep.Usage.Total.InputTokens, rep.Usage.Total.OutputTokens, st.InputTokens, st.OutputTokens, n)
	}
	if rep.Shards.Count != 3 || len(rep.Shards.Paths) != 3 || len(rep.Shards.Missing) != 0 || len(rep.Shards.Unfinished) != 0 {
		t.Errorf("report shards = %+v", rep.Shards)
	}
	if strings.Contains(stderr.String(), "different jobs") {
		t.Errorf("report warned that one job's shards are different jobs:\n%s", stderr)
	}

	csvOut := filepath.Join(dir, "labels.csv")
	env, _, stderr = testEnv(nil)
	if code := run(context.Background(), []string{"export", glob, "-o", csvOut}, env); code != exitOK {
		t.Fatalf("export: exit %d:\n%s", code, stderr)
	}
	f, _ := os.Open(csvOut)
	recs, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil || len(recs) != n+1 {
		t.Fatalf("export: %d lines, %v", len(recs), err)
	}
	// Byte-range shards, read in shard order: all of shard 0's rows, then
	// shard 1's, then shard 2's.
	shardOf := map[string]int{}
	for i := range 3 {
		for _, r := range readRecords(t, results.ShardPath(out, i, 3)) {
			shardOf[r.CustomID] = i
		}
	}
	prev := 0
	for _, r := range recs[1:] {
		if s := shardOf[r[0]]; s < prev {
			t.Errorf("export: %s (shard %d) after a row of shard %d", r[0], s, prev)
		} else {
			prev = s
		}
	}

	// A missing shard is named; the report still adds up the others.
	os.Rename(results.ShardPath(out, 1, 3), filepath.Join(dir, "moved.jsonl"))
	env, stdout, stderr = testEnv(nil)
	if code := run(context.Background(), []string{"report", glob}, env); code != exitOK {
		t.Fatalf("report without shard 1: exit %d:\n%s", code, stderr)
	}
	if !strings.Contains(stdout.String(), "shards: 2 of 3; missing: 1") || !strings.Contains(stderr.String(), "1 of 3 shards have no journal here: 1") {
		t.Errorf("report without shard 1:\nstdout:\n%s\nstderr:\n%s", stdout, stderr)
	}

	// A shard of another job (another prompt) is refused (exit 2).
	env, _, stderr = testEnv(map[string]string{"OPENAI_API_KEY": "sk-x"})
	other := filepath.Join(dir, "other.jsonl")
	if code := run(context.Background(), []string{"run", "--base-url", base, "--model", "gpt-5-mini", "--prompt", "Say: {{.text}}", "--id-column", "id",
		"--shards", "3", "--shard-index", "1", in, "-o", other}, env); code != exitOK {
		t.Fatalf("other job: exit %d:\n%s", code, stderr)
	}
	os.Rename(results.ShardPath(other, 1, 3), results.ShardPath(out, 1, 3))
	env, _, stderr = testEnv(nil)
	if code := run(context.Background(), []string{"report", glob}, env); code != exitUsage || !strings.Contains(stderr.String(), "prompt differs") {
		t.Errorf("report over another job's shard: exit %d, stderr:\n%s", code, stderr)
	}
}
