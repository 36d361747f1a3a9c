package results

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/llmbatch/llmbatch/io/api"
	"github.com/llmbatch/llmbatch/io/secret"
)

// Summary is the content of the summary file written beside a journal.
// Row counts and usage cover the whole journal, earlier runs included; the
// Run section covers this run only.
type Summary struct {
	Job   *Job      `json:"job,omitempty"`
	Rows  RowCounts `json:"rows"`
	Usage UsageSum  `json:"usage"`
	// Cost prices Usage with the job's price table; nil until FillCost.
	Cost *CostSummary `json:"cost,omitempty"`
	// Requests counts attempts recorded in the journal (all runs).
	Requests int64     `json:"requests"`
	Latency  LatencyMS `json:"latency_ms"`
	// Reasks covers the records of re-asks (--reask): how many, and what
	// they cost (their usage is in Usage too); nil when there were none.
	Reasks *ExtraSummary `json:"reasks,omitempty"`
	// Reused covers the rows reused from earlier journals (--reuse): how
	// many, and what their answers cost when they were made (not in
	// Usage: nothing was paid for them in this job); nil when none were.
	Reused *ExtraSummary `json:"reused,omitempty"`
	Run    RunCounters   `json:"run"`
	// Input, when set, says that every record in the journal's first
	// JournalBytes bytes was made from (or checked against) an input
	// file whose SHA-256 is SHA256: the next run may skip those rows
	// without building their requests again (package pipeline).
	Input *InputCert `json:"input,omitempty"`
}

// InputCert is Summary.Input.
type InputCert struct {
	SHA256       string `json:"sha256"`
	JournalBytes int64  `json:"journal_bytes"`
}

// RowCounts counts rows by their latest state.
type RowCounts struct {
	Total     int64 `json:"total"` // rows in the input; -1 if unknown
	OK        int64 `json:"ok"`
	Failed    int64 `json:"failed"`    // permanent errors, bad input included
	Retryable int64 `json:"retryable"` // ran out of attempts; sent again on resume
	Pending   int64 `json:"pending"`   // not journalled yet (Retryable rows not included); -1 if unknown
	Skipped   int64 `json:"skipped"`   // finished in an earlier run, skipped by this one
}

// UsageSum is usage per model and in total.
type UsageSum struct {
	Total    api.Usage            `json:"total"`
	PerModel map[string]api.Usage `json:"per_model"`
	// PerTier is the part of PerModel billed at a tier's prices (Record.
	// Tier: "batch"), per tier and model.
	PerTier map[string]map[string]api.Usage `json:"per_tier,omitempty"`
}

// LatencyMS holds latency percentiles in milliseconds.
type LatencyMS struct {
	P50 int64 `json:"p50"`
	P95 int64 `json:"p95"`
	P99 int64 `json:"p99"`
}

// RunCounters covers the current run.
type RunCounters struct {
	Requests    int64   `json:"requests"`
	Retries     int64   `json:"retries"`
	RateLimited int64   `json:"rate_limited"` // 429 answers
	Recorded    int64   `json:"recorded"`     // journal lines written
	WallSeconds float64 `json:"wall_seconds"`
	Stopped     string  `json:"stopped,omitempty"` // why the run stopped early
}

// Fill sets s's journal-wide fields from t. total is the input's row
// count, or -1 if unknown.
func (s *Summary) Fill(t *Totals, total int64) {
	s.Rows.Total = total
	s.Rows.OK = t.Count(OK)
	s.Rows.Failed = t.Count(Failed)
	s.Rows.Retryable = t.Count(Retryable)
	s.Rows.Pending = -1
	if total >= 0 {
		s.Rows.Pending = max(total-t.Count(OK)-t.Count(Failed)-t.Count(Retryable), 0)
	}
	s.Usage.PerModel = make(map[string]api.Usage, len(t.Usage))
	for m, u := range t.Usage {
		s.Usage.PerModel[m] = u
	}
	s.Usage.PerTier = cloneTiers(t.Tiers)
	s.Usage.Total = t.TotalUsage()
	s.Requests = t.Attempts
	s.Reasks = t.Reasks.summary()
	s.Reused = t.Reused.summary()
	s.Latency = LatencyMS{P50: t.Latency(0.50), P95: t.Latency(0.95), P99: t.Latency(0.99)}
}

// SummaryPath returns the summary file's path for a journal: the journal's
// path with its extension replaced by ".summary.json".
func SummaryPath(journal string) string {
	ext := filepath.Ext(journal)
	return strings.TrimSuffix(journal, ext) + ".summary.json"
}

// WriteSummary writes s to path atomically: a temp file in the same
// directory, fsync, rename, fsync of the directory.
func WriteSummary(path string, s *Summary) (err error) {
	return WriteSummaryRedacted(path, s, nil)
}

// WriteSummaryRedacted is WriteSummary with the API key that r redacts
// removed from the text (an error message in Run.Stopped, a model name
// an endpoint echoed); a nil r redacts nothing.
func WriteSummaryRedacted(path string, s *Summary, r *secret.Redactor) (err error) {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encode summary: %w", err)
	}
	return WriteFileAtomic(path, append(r.JSON(b), '\n'))
}

// WriteFileAtomic replaces path with data so that a crash leaves either the
// old or the new content, never a mix.
func WriteFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	f, err := CreateTemp(dir, tempPrefix(path))
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("rename %s: %w", path, err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open dir %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOTSUP) {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	return nil
}
