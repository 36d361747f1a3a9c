package results

import (
	"time"

	"github.com/llmbatch/llmbatch/io/api"
	"github.com/llmbatch/llmbatch/io/prices"
)

// Report is what one or more journals say about a job: row states, usage,
// cost, requests and latency. Build one with NewReport, Add every record
// that ReadAll gives, then Finish.
//
// Row states count each key once, by its latest record. Everything about
// requests (usage, cost, requests, retries, 429s, the attempts histogram,
// latency) counts every record, superseded ones included, because every
// answered request was sent and paid for: a row that failed as incomplete
// and was sent again with --retry-failed cost twice. This is how the
// summary file counts too, so the two agree on one journal.
//
// A Report is not safe for concurrent use.
type Report struct {
	Rows ReportRows `json:"rows"`
	// Records counts journal lines; Superseded those that a later record
	// of the same key replaced.
	Records    int64       `json:"records"`
	Superseded int64       `json:"superseded"`
	Usage      UsageSum    `json:"usage"`
	Cost       CostSummary `json:"cost"`
	// Requests sums the records' attempts; Retries the attempts after each
	// record's first; RateLimited the 429 answers recorded.
	Requests    int64 `json:"requests"`
	Retries     int64 `json:"retries"`
	RateLimited int64 `json:"rate_limited"`
	// Attempts maps a number of attempts to how many records took it.
	Attempts map[int]int64 `json:"attempts_histogram"`
	Latency  LatencyMS     `json:"latency_ms"`
	// Start is when the first recorded request started (its record's time
	// minus its latency) and End when the last record was made; zero when
	// the journal carries no times. WallSeconds is End - Start: it spans
	// the gaps between resumed runs too.
	Start       time.Time `json:"start,omitzero"`
	End         time.Time `json:"end,omitzero"`
	WallSeconds float64   `json:"wall_seconds"`

	table   *prices.Table
	latency Histogram
}

// ReportRows counts keys by their latest record.
type ReportRows struct {
	Keys      int64 `json:"keys"`
	OK        int64 `json:"ok"`
	Failed    int64 `json:"failed"`    // permanent errors
	Retryable int64 `json:"retryable"` // ran out of attempts; sent again on resume
	// ByError counts the failed and retryable keys by error code.
	ByError map[string]int64 `json:"by_error"`
}

// NewReport returns an empty report that prices usage with table (nil:
// every model unknown).
func NewReport(table *prices.Table) *Report {
	return &Report{table: table, Attempts: make(map[int]int64),
		Rows:  ReportRows{ByError: make(map[string]int64)},
		Usage: UsageSum{PerModel: make(map[string]api.Usage)}}
}

// Add accounts for one record; latest tells whether it is its key's latest.
func (r *Report) Add(rec *Record, latest bool) {
	r.Records++
	if latest {
		r.Rows.Keys++
		switch StatusOf(rec.Error) {
		case OK:
			r.Rows.OK++
		case Failed:
			r.Rows.Failed++
		case Retryable:
			r.Rows.Retryable++
		}
		if rec.Error != nil {
			code := rec.Error.Code
			if code == "" {
				code = "(no code)"
			}
			r.Rows.ByError[code]++
		}
	} else {
		r.Superseded++
	}
	u := r.Usage.PerModel[rec.Model]
	u.Add(rec.Usage)
	r.Usage.PerModel[rec.Model] = u
	r.Usage.Total.Add(rec.Usage)
	r.Requests += int64(rec.Attempts)
	r.Retries += int64(max(rec.Attempts-1, 0))
	r.RateLimited += int64(rec.RateLimited)
	r.Attempts[rec.Attempts]++
	if rec.LatencyMS > 0 {
		r.latency.Add(rec.LatencyMS)
	}
	if !rec.Time.IsZero() {
		start := rec.Time.Add(-time.Duration(rec.LatencyMS) * time.Millisecond)
		if r.Start.IsZero() || start.Before(r.Start) {
			r.Start = start
		}
		if rec.Time.After(r.End) {
			r.End = rec.Time
		}
	}
}

// Finish computes the cost, latency percentiles and wall time.
func (r *Report) Finish() {
	r.Cost = PriceUsage(r.table, r.Usage.PerModel)
	r.Latency = LatencyMS{P50: r.latency.Quantile(0.50), P95: r.latency.Quantile(0.95), P99: r.latency.Quantile(0.99)}
	if !r.Start.IsZero() {
		r.WallSeconds = r.End.Sub(r.Start).Seconds()
	}
}
