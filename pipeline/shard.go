package pipeline

import (
	"strconv"

	"github.com/llmbatch/llmbatch/io/prices"
	"github.com/llmbatch/llmbatch/io/results"
	"github.com/llmbatch/llmbatch/io/rows"
)

// Shards: one job run as Config.Shards processes (the pods of a
// Kubernetes Indexed Job), each given its Config.ShardIndex. Each reads
// only its part of the input (rows.Shard says how each format is split:
// JSONL by byte range, Parquet by row group, CSV and streams by row index
// modulo Shards), keeps its own journal (results.ShardPath of Output) and
// paces to its share of the job's RPM, TPM and MaxCost. Its fingerprint
// records Shards and ShardIndex, so one shard never resumes another's
// journal nor a run split another way; results.OpenShards merges the
// journals back into one view of the job.

// sharded reports whether the job is split into shards.
func (c *Config) sharded() bool { return c.Shards > 1 }

// shard is the part of the input this run reads.
func (c *Config) shard() rows.Shard {
	if !c.sharded() {
		return rows.Shard{}
	}
	return rows.Shard{Count: c.Shards, Index: c.ShardIndex}
}

// forShard returns c as its shard runs it: its own journal, and its share
// of the job's limits (at least 1 where a limit is set).
func (c Config) forShard() Config {
	if !c.sharded() {
		return c
	}
	c.Output = results.ShardPath(c.Output, c.ShardIndex, c.Shards)
	share := func(v int) int {
		if v <= 0 {
			return v
		}
		return max(v/c.Shards, 1)
	}
	c.RPM, c.TPM = share(c.RPM), share(c.TPM)
	if c.MaxCost > 0 {
		c.MaxCost = max(c.MaxCost/prices.Money(c.Shards), 1)
	}
	return c
}

// shardParts adds the shard to a fingerprint's parts (only when sharded,
// so that unsharded journals keep their fingerprint).
func (c *Config) shardParts(parts map[string]string) {
	if c.sharded() {
		parts["shards"] = strconv.Itoa(c.Shards)
		parts["shard"] = strconv.Itoa(c.ShardIndex)
	}
}

// emptyShard reports whether a shard that read no row may end well: its
// part of the input is empty while the input is not (more shards than
// Parquet row groups, or than rows).
func (r *runner) emptyShard() bool {
	if !r.cfg.sharded() {
		return false
	}
	if r.stream {
		return true // the other shards read the same stream
	}
	whole := r.ropts
	whole.Shard = rows.Shard{}
	n, err := rows.Count(r.cfg.Input, whole)
	if err == nil && n > 0 {
		r.cfg.Logger.Info("this shard's part of the input is empty", "shard", r.cfg.ShardIndex, "shards", r.cfg.Shards)
		return true
	}
	return false
}
