package results

import (
	"time"

	"github.com/llmbatch/llmbatch/io/api"
	"github.com/llmbatch/llmbatch/io/prices"
)

// Report is what one or more journals say about a job: row states, usage,
// cost, requests and latency. Build one with NewReport, Add every record
// of the journals in order (as ReadEach gives them), then Finish.
//
// Row states count each key once, by its latest record: the Report keeps
// each key's latest state as Totals does (a hash and 2 bits in a table of
// 8-byte slots, 10 to 15 bytes a key; 0.25 byte for index keys), and the
// error code of the keys whose latest record failed, so one pass over the
// journals is enough. Two keys whose 62-bit hashes collide (probability
// near n²/2⁶³) would count as one. Everything about
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
	// Reasks covers the records of re-asks (--reask) and Reused the rows
	// reused from earlier journals (--reuse): how many, their usage and
	// its cost (for reused rows, what they cost when answered; not in
	// Usage). Nil when there were none.
	Reasks *ExtraSummary `json:"reasks,omitempty"`
	Reused *ExtraSummary `json:"reused,omitempty"`

	reasks, reused Extra
	table          *prices.Table
	latency        Histogram
	keys           *Totals           // each key's latest state (its put only)
	codes          map[uint64]string // error code of the keys whose latest record failed, by hash
	// interned holds one copy of each error code, shared by codes.
	interned map[string]string
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
	return &Report{table: table, Attempts: make(map[int]int64), keys: NewTotals(), codes: make(map[uint64]string),
		interned: make(map[string]string),
		Rows:     ReportRows{ByError: make(map[string]int64)},
		Usage:    UsageSum{PerModel: make(map[string]api.Usage)}}
}

// Add accounts for one record. Records must come in journal order (file
// by file, line by line), so that each key's last one is its latest.
func (r *Report) Add(rec *Record) {
	r.Records++
	st := StatusOf(rec.Error)
	old := r.keys.put(rec.CustomID, st, 0)
	if old == Pending {
		r.Rows.Keys++
	} else {
		r.Superseded++
	}
	if old != Pending {
		r.count(old, -1)
	}
	if failed := old == Failed || old == Retryable; failed || st != OK {
		h := r.keys.hash(rec.CustomID)
		if failed {
			code := r.codes[h]
			if r.Rows.ByError[code]--; r.Rows.ByError[code] == 0 {
				delete(r.Rows.ByError, code)
			}
			delete(r.codes, h)
		}
		if st != OK {
			code := rec.Error.Code
			if code == "" {
				code = "(no code)"
			}
			if c, ok := r.interned[code]; ok {
				code = c
			} else {
				r.interned[code] = code
			}
			r.Rows.ByError[code]++
			r.codes[h] = code
		}
	}
	r.count(st, 1)
	u := r.Usage.PerModel[rec.Model]
	u.Add(rec.Usage)
	r.Usage.PerModel[rec.Model] = u
	if rec.Tier != "" {
		r.Usage.PerTier = addTier(r.Usage.PerTier, rec.Tier, rec.Model, rec.Usage)
	}
	r.Usage.Total.Add(rec.Usage)
	r.Requests += int64(rec.Attempts)
	r.Retries += int64(max(rec.Attempts-1, 0))
	r.RateLimited += int64(rec.RateLimited)
	r.Attempts[rec.Attempts]++
	if rec.Reask > 0 {
		r.reasks.add(rec.Model, rec.Usage)
	}
	if rec.Reused != nil {
		r.reused.add(rec.Model, rec.Reused.Usage)
	}
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

// count adds d to the keys counted in state st.
func (r *Report) count(st Status, d int64) {
	switch st {
	case OK:
		r.Rows.OK += d
	case Failed:
		r.Rows.Failed += d
	case Retryable:
		r.Rows.Retryable += d
	}
}

// Finish computes the cost, latency percentiles and wall time.
func (r *Report) Finish() {
	r.Cost = PriceTiers(r.table, r.Usage.PerModel, r.Usage.PerTier)
	r.Reasks, r.Reused = r.reasks.summary(), r.reused.summary()
	for _, e := range []*ExtraSummary{r.Reasks, r.Reused} {
		if e != nil {
			e.Cost = PriceUsage(r.table, e.PerModel).Total
		}
	}
	r.Latency = LatencyMS{P50: r.latency.Quantile(0.50), P95: r.latency.Quantile(0.95), P99: r.latency.Quantile(0.99)}
	if !r.Start.IsZero() {
		r.WallSeconds = r.End.Sub(r.Start).Seconds()
	}
}
