package main

import (
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/llmbatch/llmbatch/io/results"
	"github.com/llmbatch/llmbatch/pipeline"
)

// shardFlags are run's --shards and --shard-index: one shard of a job
// split across processes (a Kubernetes Indexed Job's pods).
type shardFlags struct {
	count int
	index int // -1: not given, take JOB_COMPLETION_INDEX
	env   string
}

func (s *shardFlags) register(fs *flag.FlagSet, env environ) {
	fs.IntVar(&s.count, "shards", 0, "split the job into `N` shards, one per process (e.g. a Kubernetes Indexed Job's pods); each reads its part of the input and keeps its own journal beside -o (results.shard-03-of-16.jsonl); --rpm, --tpm and --max-cost are the job's totals, shared among the shards")
	fs.IntVar(&s.index, "shard-index", -1, "this process's shard, 0 to N-1 (default: env JOB_COMPLETION_INDEX)")
	s.env = env.getenv("JOB_COMPLETION_INDEX")
}

// apply checks the flags and sets cfg's Shards and ShardIndex.
func (s *shardFlags) apply(cfg *pipeline.Config) error {
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

// journal is the journal this process writes: -o itself, or its shard's.
func (s *shardFlags) journal(out string) string {
	if s.count <= 1 {
		return out
	}
	return results.ShardPath(out, s.index, s.count)
}

// journalArgs expands the journals report and export read (globs
// included: 'results.shard-*.jsonl') and, when they are shards, checks
// that they are one job's, orders them by shard (so that an export of
// byte-range or row-group shards comes in input order), and warns on
// stderr of shards missing or unfinished. set is nil for journals that
// are not shards.
func journalArgs(cmd string, args []string, env environ) (paths []string, set *results.ShardSet, err error) {
	if paths, err = results.ExpandPaths(args); err != nil {
		return nil, nil, usagef("%s: %v", cmd, err)
	}
	if set, err = results.CheckShards(paths); err != nil {
		return nil, nil, usagef("%s: %v", cmd, err)
	}
	if set == nil {
		return paths, nil, nil
	}
	if len(set.Missing) > 0 {
		fmt.Fprintf(env.stderr, "llmbatch: warning: %d of %d shards have no journal here: %s\n", len(set.Missing), set.Count, intList(set.Missing))
	}
	for _, u := range set.Unfinished {
		fmt.Fprintf(env.stderr, "llmbatch: warning: shard %d is unfinished (%s): %s\n", u.Index, u.Path, u.Reason)
	}
	return set.Paths, set, nil
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
