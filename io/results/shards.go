package results

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// ShardPath returns the journal of shard index (0-based) of count beside
// path, keeping its extension: results.jsonl, 3, 16 gives
// results.shard-03-of-16.jsonl. The index has as many digits as count (at
// least two), so that the shards' journals sort in index order.
func ShardPath(path string, index, count int) string {
	query := ""
	if strings.Contains(path, "://") { // a URL: s3://bucket/results.jsonl?region=x
		if i := strings.IndexByte(path, '?'); i >= 0 {
			path, query = path[:i], path[i:]
		}
	}
	ext := filepath.Ext(path)
	w := max(len(strconv.Itoa(count)), 2)
	return fmt.Sprintf("%s.shard-%0*d-of-%0*d%s%s", strings.TrimSuffix(path, ext), w, index, w, count, ext, query)
}

// ExpandPaths expands the glob patterns among args (a quoted
// 'results.shard-*.jsonl', so that the shell does not expand it and hit
// the argument limit), in order, each pattern's matches sorted. An
// argument that names an existing file is taken as it is; a pattern that
// matches nothing is an error.
func ExpandPaths(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		if !strings.ContainsAny(a, "*?[") {
			out = append(out, a)
			continue
		}
		if _, err := os.Stat(a); err == nil {
			out = append(out, a)
			continue
		}
		m, err := filepath.Glob(a)
		if err != nil {
			return nil, fmt.Errorf("pattern %q: %w", a, err)
		}
		if len(m) == 0 {
			return nil, fmt.Errorf("no journal matches %q", a)
		}
		out = append(out, m...) // sorted by filepath.Glob
	}
	return out, nil
}

// ShardSet describes the shards' journals of one job (see CheckShards).
type ShardSet struct {
	// Count is the job's number of shards.
	Count int `json:"count"`
	// Paths are the journals given, in shard order.
	Paths []string `json:"paths"`
	// Missing are the shard indexes whose journal was not given.
	Missing []int `json:"missing,omitempty"`
	// Unfinished are the shards given whose summary shows rows left to
	// send, or no summary at all.
	Unfinished []UnfinishedShard `json:"unfinished,omitempty"`
}

// UnfinishedShard is a shard with work left, and why it is so judged.
type UnfinishedShard struct {
	Index  int    `json:"index"`
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// ErrShards is wrapped by CheckShards' error for journals that are not the
// shards of one job.
var ErrShards = errors.New("journals of different jobs")

// CheckShards checks that the journals at paths are shards of one job:
// every one names a job (its first record's), split into the same number
// of shards, with the same fingerprint apart from the shard index, and no
// shard twice. It returns nil, nil when no journal is a shard (journals
// merged as given, unchecked). Else it returns the set in shard order,
// the shards missing, and those that are unfinished by their summaries
// (SummaryPath): rows pending or retryable, a run that stopped early, or
// no summary.
func CheckShards(paths []string) (*ShardSet, error) {
	jobs := make([]*Job, len(paths))
	sharded := false
	for i, p := range paths {
		j, err := firstJob(p)
		if err != nil {
			return nil, err
		}
		jobs[i] = j
		sharded = sharded || (j != nil && j.Parts["shards"] != "")
	}
	if !sharded {
		return nil, nil
	}
	set := &ShardSet{}
	byIndex := map[int]string{}
	var first *Job
	for i, p := range paths {
		j := jobs[i]
		if j == nil || j.Parts["shards"] == "" {
			return nil, fmt.Errorf("%w: %s is not a shard's journal, %s is", ErrShards, p, paths[slices.IndexFunc(jobs, func(j *Job) bool { return j != nil && j.Parts["shards"] != "" })])
		}
		n, err1 := strconv.Atoi(j.Parts["shards"])
		idx, err2 := strconv.Atoi(j.Parts["shard"])
		if err1 != nil || err2 != nil || n < 2 || idx < 0 || idx >= n {
			return nil, fmt.Errorf("%s: bad shard %q of %q in its job", p, j.Parts["shard"], j.Parts["shards"])
		}
		if first == nil {
			first, set.Count = j, n
		} else if d := diffJob(first, j); d != "" {
			return nil, fmt.Errorf("%w: %s and %s (%s)", ErrShards, paths[0], p, d)
		}
		if prev, ok := byIndex[idx]; ok {
			return nil, fmt.Errorf("%w: %s and %s are both shard %d", ErrShards, prev, p, idx)
		}
		byIndex[idx] = p
	}
	for _, idx := range slices.Sorted(maps.Keys(byIndex)) {
		set.Paths = append(set.Paths, byIndex[idx])
	}
	for i := range set.Count {
		p, ok := byIndex[i]
		if !ok {
			set.Missing = append(set.Missing, i)
			continue
		}
		if why := unfinished(p); why != "" {
			set.Unfinished = append(set.Unfinished, UnfinishedShard{Index: i, Path: p, Reason: why})
		}
	}
	return set, nil
}

// diffJob says how two shards' jobs differ apart from the shard index, or
// returns "" when they are one job's.
func diffJob(a, b *Job) string {
	var diffs []string
	for _, k := range slices.Sorted(maps.Keys(a.Parts)) {
		if k != "shard" && a.Parts[k] != b.Parts[k] {
			diffs = append(diffs, k+" differs")
		}
	}
	for k := range b.Parts {
		if _, ok := a.Parts[k]; !ok && k != "shard" {
			diffs = append(diffs, k+" differs")
		}
	}
	return strings.Join(diffs, ", ")
}

// unfinished says why the shard whose journal is path has work left, or
// returns "".
func unfinished(path string) string {
	b, err := os.ReadFile(SummaryPath(path))
	if err != nil {
		return "no summary beside the journal (killed before its first summary?)"
	}
	var s Summary
	if err := json.Unmarshal(b, &s); err != nil {
		return "unreadable summary: " + err.Error()
	}
	var why []string
	if s.Rows.Pending != 0 {
		if s.Rows.Pending < 0 {
			why = append(why, "rows pending: unknown")
		} else {
			why = append(why, fmt.Sprintf("%d rows pending", s.Rows.Pending))
		}
	}
	if s.Rows.Retryable > 0 {
		why = append(why, fmt.Sprintf("%d rows retryable", s.Rows.Retryable))
	}
	if s.Run.Stopped != "" {
		why = append(why, "its last run stopped: "+s.Run.Stopped)
	}
	return strings.Join(why, "; ")
}

// firstJob returns the job named by the first record or mark of the
// journal at path that names one, or nil.
func firstJob(path string) (*Job, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open journal: %w", err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 64<<10)
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 && line[len(line)-1] == '\n' && bytes.Contains(line, []byte(`"job"`)) {
			var v struct {
				Job *Job `json:"job"`
			}
			if json.Unmarshal(line, &v) == nil && v.Job != nil {
				return v.Job, nil
			}
		}
		if err != nil {
			return nil, nil // the end (a torn last line is not read)
		}
	}
}
