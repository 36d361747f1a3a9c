// Package results owns the results journal: an append-only JSONL file with
// one line per finished row, written whole with one write and fsynced on a
// schedule, that a crashed or interrupted job resumes from. It also keeps
// the running totals (latest record per key wins for row counts; usage sums
// every line, since every answered attempt was paid for) and writes the
// summary file atomically.
//
// A journal line is a superset of an OpenAI Batch API output line:
//
//	{"custom_id": "...", "index": 17,
//	 "response": {"status_code": 200, "request_id": "...", "body": {...}},
//	 "error": null | {"code": "...", "message": "...", "status_code": 400, "retryable": false},
//	 "output_text": "...", "usage": {...}, "model": "...", "attempts": 1,
//	 "latency_ms": 812, "request_sha256": "...", "input": {...}}
//
// The first line a job writes also carries "job": the job's fingerprint,
// which a resume compares against its own.
package results

import (
	"encoding/json"
	"time"

	"github.com/llmbatch/llmbatch/io/api"
)

// Record is one journal line.
type Record struct {
	CustomID      string         `json:"custom_id"`
	Index         int64          `json:"index"`
	Job           *Job           `json:"job,omitempty"`
	Response      *Response      `json:"response"`
	Error         *Error         `json:"error"`
	OutputText    string         `json:"output_text"`
	Usage         api.Usage      `json:"usage"`
	Model         string         `json:"model,omitempty"`
	Attempts      int            `json:"attempts"`
	LatencyMS     int64          `json:"latency_ms"`
	RequestSHA256 string         `json:"request_sha256,omitempty"`
	Input         map[string]any `json:"input,omitempty"`

	// RateLimited counts the attempts of this row answered 429.
	RateLimited int `json:"rate_limited,omitempty"`
	// Reask is how many times the row had been asked again before this
	// answer, because an earlier answer broke the request's JSON schema
	// or was a refusal (--reask): 0 for the first ask. Every re-ask's
	// record is journalled (it was paid for), the latest wins.
	Reask int `json:"reask,omitempty"`
	// Reused, when set, says the record was copied from an earlier job's
	// journal (--reuse) instead of sending a request: the record's own
	// usage is then zero (nothing was paid for it in this job), and
	// Reused.Usage is what the answer cost when it was made.
	Reused *Reused `json:"reused,omitempty"`
	// Time is when the row finished (its record was made), UTC.
	Time time.Time `json:"time,omitzero"`
	// Tier is the price tier the row's usage was billed at, when not the
	// standard one: "batch" for a row answered through the Batch API.
	// Totals, the summary and report price its usage at the tier's
	// multiplier (prices.Table.Multiplier).
	Tier string `json:"tier,omitempty"`

	// inputJSON is the input member as NewExportRow writes it, when the
	// record was read with FieldInputJSON.
	inputJSON []byte
}

// Reused is where a reused record's answer came from.
type Reused struct {
	Journal string    `json:"journal"`         // the earlier journal
	Key     string    `json:"custom_id"`       // the row's key there
	Usage   api.Usage `json:"usage"`           // what the answer was billed then
	Reask   int       `json:"reask,omitempty"` // the re-asks it took then
}

// Response is the Batch-API-compatible "response" member of a record.
type Response struct {
	StatusCode int             `json:"status_code"`
	RequestID  string          `json:"request_id"`
	Body       json.RawMessage `json:"body"`
	// Checked says Body is known to be valid JSON (the HTTP client
	// parsed it whole): Journal.Append then copies it into the line as it
	// is, when it is compact, instead of scanning it again. It must never
	// be set on a body nobody parsed: the line written would not be JSON.
	Checked bool `json:"-"`
}

// Error is a record's "error" member. Retryable records (the row ran out
// of attempts on a transient error) are sent again on resume; others are
// final unless the user asks for --retry-failed.
type Error struct {
	Code string `json:"code"`
	// Type is the server's error type, when it differs from Code (as when
	// a gateway's code is only the status number: "429",
	// "throttling_error").
	Type       string `json:"type,omitempty"`
	Message    string `json:"message"`
	StatusCode int    `json:"status_code,omitempty"`
	Retryable  bool   `json:"retryable"`
	// Path locates the first violation of a schema_invalid answer in its
	// output, as a JSONPath ("$.items[2].label"; "$" for output that is
	// not JSON at all).
	Path string `json:"path,omitempty"`
}

// Job identifies the job that wrote a journal. Fingerprint covers every
// part; the parts let a refusal say what changed.
type Job struct {
	Fingerprint string            `json:"fingerprint"`
	Parts       map[string]string `json:"parts,omitempty"`
}

// Status is a row's state in a journal.
type Status uint8

// Row states. The zero value is Pending: nothing journalled.
const (
	Pending   Status = iota
	OK               // a completed response
	Failed           // a permanent error: not sent again unless asked
	Retryable        // ran out of attempts on a transient error: sent again on resume
)

func (s Status) String() string {
	switch s {
	case OK:
		return "ok"
	case Failed:
		return "failed"
	case Retryable:
		return "retryable"
	}
	return "pending"
}

// StatusOf returns the state a record puts its row in.
func StatusOf(e *Error) Status {
	switch {
	case e == nil:
		return OK
	case e.Retryable:
		return Retryable
	}
	return Failed
}
