package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/llmbatch/llmbatch/io/results"
	"github.com/llmbatch/llmbatch/io/rows"
)

// fingerprintBlock is how much of the input's head and tail is hashed.
const fingerprintBlock = 64 << 10

// fingerprint identifies a job: the input (size and a hash of its first
// and last 64 KiB, not its path or mtime, so a copied file is the same
// input) and everything that shapes its requests.
//
// A stream (stdin, a FIFO, /dev/fd/N) can be read only once, so its
// identity is not its content but the word "stdin" or "stream": the
// request hashes the journal keeps per row catch a different stream on
// resume (see runner.finished).
func fingerprint(cfg *Config, stream bool) (*results.Job, error) {
	input := "stdin"
	if cfg.Input != "-" {
		input = "stream"
	}
	if !stream {
		var err error
		if input, err = inputIdentity(cfg); err != nil {
			return nil, err
		}
	}
	parts := map[string]string{
		"input":        input,
		"format":       cfg.InputFormat,
		"model":        cfg.Model,
		"prompt":       shortHash(cfg.Prompt),
		"prompt_col":   cfg.PromptColumn,
		"instructions": shortHash(cfg.Instructions),
		"body":         shortHash(string(cfg.Body)),
		"id_column":    cfg.IDColumn,
		"model_column": cfg.ModelColumn,
	}
	cfg.shardParts(parts)
	if cfg.API != nil && cfg.API.Name() != apis[0].Name() {
		// Only when not the default, so that journals written before
		// there was a choice keep their fingerprint.
		parts["endpoint"] = cfg.API.Name()
	}
	keys := make([]string, 0, len(parts))
	for k := range parts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		fmt.Fprintf(h, "%s=%s\n", k, parts[k])
	}
	return &results.Job{Fingerprint: hex.EncodeToString(h.Sum(nil))[:16], Parts: parts}, nil
}

func shortHash(s string) string {
	if s == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:6])
}

func inputIdentity(cfg *Config) (string, error) {
	path := cfg.Input
	var (
		f    io.ReaderAt
		size int64
	)
	if cfg.remoteInput() {
		o, err := openRemote(path)
		if err != nil {
			return "", err
		}
		defer o.Close()
		f, size = o, o.Size()
	} else {
		file, err := os.Open(path)
		if err != nil {
			return "", usageErrorf("open input: %v", err)
		}
		defer file.Close()
		st, err := file.Stat()
		if err != nil {
			return "", usageErrorf("open input: %v", err)
		}
		f, size = file, st.Size()
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, min(size, fingerprintBlock))); err != nil {
		return "", fmt.Errorf("read input %s: %w", path, err)
	}
	if size > fingerprintBlock {
		if _, err := io.Copy(h, io.NewSectionReader(f, max(size-fingerprintBlock, fingerprintBlock), fingerprintBlock)); err != nil {
			return "", fmt.Errorf("read input %s: %w", path, err)
		}
	}
	return fmt.Sprintf("%d:%s", size, hex.EncodeToString(h.Sum(nil))[:12]), nil
}

// isStream reports whether the input can be read only once: stdin, or a
// path that is not a regular file (a FIFO, a process substitution's
// /dev/fd/N, a character device). Such an input is opened once and read
// once: no fingerprint of its content, no count pass, no second read to
// name the first row of a duplicate key.
func isStream(path string) (bool, error) {
	if path == "-" {
		return true, nil
	}
	if rows.IsURL(path) {
		return false, nil // an object: read by ranges
	}
	st, err := os.Stat(path)
	if err != nil {
		return false, usageErrorf("open input: %v", err)
	}
	if st.IsDir() {
		return false, usageErrorf("input %s is a directory: give a file", path)
	}
	return !st.Mode().IsRegular(), nil
}

// checkPaths refuses a journal that is not a regular file, is not an
// llmbatch journal, or is the input itself, before anything opens the
// journal for writing (or cuts a "torn" line of a file that is no journal).
func checkPaths(cfg *Config) error {
	out, err := os.Stat(cfg.Output)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil // created later
		}
		if cerr := results.CheckJournal(cfg.Output); cerr != nil {
			err = cerr
		}
		return &UsageError{Err: err}
	}
	var in os.FileInfo
	switch {
	case cfg.remoteInput():
	case cfg.Input != "-":
		in, err = os.Stat(cfg.Input)
	case cfg.Reader == nil:
		in, err = os.Stdin.Stat()
	default:
		if f, ok := cfg.Reader.(*os.File); ok {
			in, err = f.Stat()
		}
	}
	if err == nil && in != nil && os.SameFile(in, out) {
		return usageErrorf("the journal %s is the input file itself: give -o another file", cfg.Output)
	}
	if err := results.CheckJournal(cfg.Output); err != nil {
		return &UsageError{Err: err}
	}
	return nil
}

// compareJobs explains how the journal's job differs from ours, or
// returns "" when they are the same job.
func compareJobs(old, cur *results.Job) string {
	if old.Fingerprint == cur.Fingerprint {
		return ""
	}
	var diffs []string
	if old.Parts["shards"] != cur.Parts["shards"] || old.Parts["shard"] != cur.Parts["shard"] {
		diffs = append(diffs, "it is "+shardName(old)+", this run is "+shardName(cur))
	}
	for _, k := range []string{"input", "format", "model", "prompt", "prompt_col", "instructions", "body", "id_column", "model_column"} {
		if old.Parts[k] != cur.Parts[k] {
			switch k {
			case "model":
				diffs = append(diffs, fmt.Sprintf("model was %q, now %q", old.Parts[k], cur.Parts[k]))
			case "input":
				diffs = append(diffs, "the input file's content changed")
			default:
				diffs = append(diffs, k+" changed")
			}
		}
	}
	if len(diffs) == 0 {
		diffs = append(diffs, "fingerprint differs")
	}
	return strings.Join(diffs, "; ")
}

// shardName names a job's shard: "shard 3 of 16" (0-based), or "unsharded".
func shardName(j *results.Job) string {
	if j.Parts["shards"] == "" {
		return "unsharded"
	}
	return "shard " + j.Parts["shard"] + " of " + j.Parts["shards"]
}

// sameShard reports whether two jobs are the same shard of the same split
// (or both unsharded).
func sameShard(a, b *results.Job) bool {
	return a.Parts["shards"] == b.Parts["shards"] && a.Parts["shard"] == b.Parts["shard"]
}
