package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/llmbatch/llmbatch/io/results"
)

// fingerprintBlock is how much of the input's head and tail is hashed.
const fingerprintBlock = 64 << 10

// fingerprint identifies a job: the input (size and a hash of its first
// and last 64 KiB, not its path or mtime, so a copied file is the same
// input) and everything that shapes its requests.
func fingerprint(cfg *Config) (*results.Job, error) {
	input, err := inputIdentity(cfg.Input)
	if err != nil {
		return nil, err
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

func inputIdentity(path string) (string, error) {
	if path == "-" {
		return "stdin", nil
	}
	f, err := os.Open(path)
	if err != nil {
		return "", usageErrorf("open input: %v", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", usageErrorf("open input: %v", err)
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.LimitReader(f, fingerprintBlock)); err != nil {
		return "", fmt.Errorf("read input %s: %w", path, err)
	}
	if st.Size() > fingerprintBlock {
		if _, err := io.Copy(h, io.NewSectionReader(f, max(st.Size()-fingerprintBlock, fingerprintBlock), fingerprintBlock)); err != nil {
			return "", fmt.Errorf("read input %s: %w", path, err)
		}
	}
	return fmt.Sprintf("%d:%s", st.Size(), hex.EncodeToString(h.Sum(nil))[:12]), nil
}

// compareJobs explains how the journal's job differs from ours, or
// returns "" when they are the same job.
func compareJobs(old, cur *results.Job) string {
	if old.Fingerprint == cur.Fingerprint {
		return ""
	}
	var diffs []string
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
