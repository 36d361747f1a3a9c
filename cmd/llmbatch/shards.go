package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/llmbatch/llmbatch/io/results"
	"github.com/llmbatch/llmbatch/io/store"
	"github.com/llmbatch/llmbatch/pipeline"
)

// shardFlags are run's --shards and --shard-index: one shard of a job
// split across processes (a Kubernetes Indexed Job's pods).
type shardFlags struct {
	count int
	index int // -1: not given, take JOB_COMPLETION_INDEX
	env   string

	workDir string        // --work-dir
	upload  time.Duration // --upload-interval
}

func (s *shardFlags) register(fs *flag.FlagSet, env environ) {
	fs.IntVar(&s.count, "shards", 0, "split the job into `N` shards, one per process (e.g. a Kubernetes Indexed Job's pods); each reads its part of the input and keeps its own journal beside -o (results.shard-03-of-16.jsonl); --rpm, --tpm and --max-cost are the job's totals, shared among the shards")
	fs.IntVar(&s.index, "shard-index", -1, "this process's shard, 0 to N-1 (default: env JOB_COMPLETION_INDEX)")
	s.env = env.getenv("JOB_COMPLETION_INDEX")
	fs.StringVar(&s.workDir, "work-dir", "", "with -o on object storage (s3://bucket/key.jsonl), the local `DIR` of the journal's working file (default: under the system's temp dir)")
	fs.DurationVar(&s.upload, "upload-interval", pipeline.DefaultUploadInterval, "with -o on object storage, how often the answers journalled since are uploaded; a lost machine costs those answers, sent again by the resume")
}

// apply checks the flags and sets cfg's Shards and ShardIndex (and the
// object-storage journal's WorkDir and UploadInterval).
func (s *shardFlags) apply(cfg *pipeline.Config) error {
	cfg.WorkDir, cfg.UploadInterval = s.workDir, s.upload
	if s.upload <= 0 {
		return usagef("run: --upload-interval must be positive")
	}
	switch {
	case s.count < 0:
		return usagef("run: --shards must not be negative")
	case s.count <= 1:
		if s.index > 0 {
			return usagef("run: --shard-index %d without --shards N", s.index)
		}
		return nil // JOB_COMPLETION_INDEX of an unsharded Job: one shard
	case s.index < 0 && s.env == "":
		return usagef("run: --shards %d: give --shard-index (0 to %d) or set JOB_COMPLETION_INDEX", s.count, s.count-1)
	case s.index < 0:
		i, err := strconv.Atoi(s.env)
		if err != nil {
			return usagef("run: JOB_COMPLETION_INDEX=%q is not a shard index", s.env)
		}
		s.index = i
	}
	if s.index >= s.count {
		return usagef("run: shard index %d is not below --shards %d", s.index, s.count)
	}
	cfg.Shards, cfg.ShardIndex = s.count, s.index
	return nil
}

// journal is the journal this process writes: -o itself, or its shard's
// (a URL without its query).
func (s *shardFlags) journal(out string) string {
	if s.count > 1 {
		out = results.ShardPath(out, s.index, s.count)
	}
	return store.Redact(out)
}

// journalArgs expands the journals report and export read (globs
// included: 'results.shard-*.jsonl') and, when they are shards, checks
// that they are one job's, orders them by shard (so that an export of
// byte-range or row-group shards comes in input order), and warns on
// stderr of shards missing or unfinished. set is nil for journals that
// are not shards.
//
// Journals on object storage are downloaded into a temp directory that
// the caller removes with cleanup.
func journalArgs(ctx context.Context, cmd string, args []string, env environ) (paths []string, set *results.ShardSet, cleanup func(), err error) {
	tmp, err := os.MkdirTemp("", "llmbatch-journals-")
	if err != nil {
		return nil, nil, nil, err
	}
	rm := func() { os.RemoveAll(tmp) }
	cleanup = rm
	defer func() {
		if err != nil {
			rm()
		}
	}()
	names := map[string]string{} // local copy -> the journal's URL, for messages
	if paths, err = fetchJournals(ctx, args, tmp, names); err != nil {
		return nil, nil, nil, usagef("%s: %v", cmd, err)
	}
	if set, err = results.CheckShards(paths); err != nil {
		return nil, nil, nil, usagef("%s: %v", cmd, err)
	}
	if set == nil {
		return paths, nil, cleanup, nil
	}
	paths = slices.Clone(set.Paths) // in shard order
	for i, p := range set.Paths {
		if n, ok := names[p]; ok {
			set.Paths[i] = n
		}
	}
	if len(set.Missing) > 0 {
		fmt.Fprintf(env.stderr, "llmbatch: warning: %d of %d shards have no journal here: %s\n", len(set.Missing), set.Count, intList(set.Missing))
	}
	for i, u := range set.Unfinished {
		if n, ok := names[u.Path]; ok {
			set.Unfinished[i].Path = n
		}
		fmt.Fprintf(env.stderr, "llmbatch: warning: shard %d is unfinished (%s): %s\n", u.Index, set.Unfinished[i].Path, u.Reason)
	}
	return paths, set, cleanup, nil
}

// printShards is report's line about the shards.
func printShards(w io.Writer, set *results.ShardSet) {
	if set == nil {
		return
	}
	fmt.Fprintf(w, "shards: %d of %d", len(set.Paths), set.Count)
	if len(set.Missing) > 0 {
		fmt.Fprintf(w, "; missing: %s", intList(set.Missing))
	}
	if len(set.Unfinished) > 0 {
		idx := make([]int, len(set.Unfinished))
		for i, u := range set.Unfinished {
			idx[i] = u.Index
		}
		fmt.Fprintf(w, "; unfinished: %s", intList(idx))
	}
	fmt.Fprintln(w)
}

func intList(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ", ")
}

// fetchJournals expands the local globs among args and replaces each
// journal on object storage (a URL, or a URL whose key is a glob) by a
// local copy of its segments, with its summary beside it, under dir.
func fetchJournals(ctx context.Context, args []string, dir string, names map[string]string) ([]string, error) {
	var local []string
	for _, a := range args {
		if !store.IsURL(a) {
			local = append(local, a)
			continue
		}
		urls := []string{a}
		if strings.ContainsAny(store.Redact(a), "*?[") {
			var err error
			if urls, err = store.Glob(ctx, a); err != nil {
				return nil, err
			}
			if len(urls) == 0 {
				return nil, fmt.Errorf("no journal matches %q", store.Redact(a))
			}
		}
		for _, u := range urls {
			p, err := fetchJournal(ctx, u, dir)
			if err != nil {
				return nil, err
			}
			names[p] = store.Redact(u)
			local = append(local, p)
		}
	}
	return results.ExpandPaths(local)
}

// fetchJournal downloads the journal at url (its segments) and its
// summary into a fresh directory under parent and returns the local
// journal.
func fetchJournal(ctx context.Context, url, parent string) (string, error) {
	dir, err := os.MkdirTemp(parent, "journal-")
	if err != nil {
		return "", err
	}
	local := filepath.Join(dir, path.Base(store.Redact(url)))
	j, err := store.OpenJournal(ctx, url, local)
	if err != nil {
		return "", err
	}
	defer j.Close()
	if _, err := os.Stat(local); err != nil {
		return "", fmt.Errorf("%s: no journal segments there", store.Redact(url))
	}
	if _, err := j.GetFile(ctx, results.SummaryPath(j.Key()), results.SummaryPath(local)); err != nil {
		return "", err
	}
	return local, nil
}
