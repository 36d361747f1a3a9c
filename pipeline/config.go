// Package pipeline runs a job: it reads rows lazily from the input, builds
// one request per row, sends them through a bounded worker pool with
// retries and a shared pause on rate limits, and hands every result to a
// single journal writer, from which a crashed or interrupted job resumes.
//
//	cfg := pipeline.Config{
//		Source:      pipeline.Source{Input: "reviews.jsonl"},
//		Template:    pipeline.Template{Model: "gpt-5-mini", Prompt: "Label: {{.text}}", IDColumn: "id"},
//		Output:      "results.jsonl",
//		Concurrency: 32,
//	}
//	sum, err := pipeline.Run(ctx, cfg)
//
// Everything the llmbatch command does goes through Run. Errors, logs and
// bad rows' messages name settings as Config fields ("Config.MaxCost");
// the command sets Config.Names to name its flags instead.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/llmbatch/llmbatch/io/api"
	"github.com/llmbatch/llmbatch/io/httpapi"
	"github.com/llmbatch/llmbatch/io/prices"
	"github.com/llmbatch/llmbatch/io/results"
)

// Defaults of Config's fields.
const (
	DefaultConcurrency      = 16
	DefaultTimeout          = 10 * time.Minute
	DefaultDrainTimeout     = 30 * time.Second
	DefaultSummaryInterval  = 5 * time.Second
	DefaultProgressInterval = time.Second
	DefaultBaseURL          = "https://api.openai.com/v1"
)

// Endpoint sends one request body to path (an API's Path) and decodes a
// 2xx answer with dec; an error, when not nil, is an *httpapi.Error that
// classifies the answer. *httpapi.Client implements it.
type Endpoint interface {
	Send(ctx context.Context, path string, body []byte, dec httpapi.Decoder) (*httpapi.Answer, error)
}

// Config describes a job: where its rows come from (Source), what to send
// for each row (Template), and how to run it (the fields of its own: the
// journal, the endpoint, concurrency, retries, pacing, the cost cap,
// progress). Zero fields take the documented defaults.
//
//	cfg := pipeline.Config{
//		Source:   pipeline.Source{Input: "reviews.jsonl"},
//		Template: pipeline.Template{Model: "gpt-5-mini", Prompt: "Label: {{.text}}", IDColumn: "id"},
//		Output:   "results.jsonl",
//		APIKey:   os.Getenv("OPENAI_API_KEY"),
//	}
type Config struct {
	Source
	Template

	// Output is the results journal (JSONL), the job's record of every
	// finished row, from which it resumes: a file, always. Required.
	Output string
	// Shards, when above 1, splits the job into that many shards, of
	// which this run is ShardIndex (0-based; a Kubernetes Indexed Job's
	// JOB_COMPLETION_INDEX). Every input row belongs to exactly one shard,
	// the same on every run and machine (see rows.Shard). The shard's
	// journal is results.ShardPath(Output, ShardIndex, Shards), e.g.
	// results.shard-03-of-16.jsonl, and its fingerprint records both, so a
	// shard never resumes another shard's journal or a job split another
	// way. RPM, TPM and MaxCost are the job's totals: each shard takes its
	// 1/Shards share. Limit counts the shard's rows.
	Shards, ShardIndex int

	// WorkDir holds the working files of journals on object storage
	// (Output a URL such as s3://bucket/job/results.jsonl); default a
	// directory under os.TempDir(). UploadInterval is how often such a
	// journal uploads what was journalled since, as a new segment;
	// default DefaultUploadInterval. A machine lost costs the answers
	// journalled since the last upload: a resume elsewhere sends those
	// rows again.
	WorkDir        string
	UploadInterval time.Duration
	// OnRecord, when set, is called with each record once it is written
	// to the journal, from the journal's writer goroutine, in journal
	// order: a sink for a caller that consumes results as they come. It
	// must not keep rec nor block for long (it holds up the writer).
	OnRecord func(rec *results.Record)

	// Executor is how requests reach the endpoint: nil is the worker
	// pool (Concurrency workers, one request at a time each); a run mode
	// (background responses, the Batch API) is another Executor.
	Executor Executor

	// Endpoint sends the requests. When nil, a *httpapi.Client is built
	// from BaseURL, APIKey, RawAuth, Header and HTTPClient.
	Endpoint Endpoint
	// BaseURL is the API root; default DefaultBaseURL.
	BaseURL string
	// APIKey is sent as a bearer token (or raw, with RawAuth). It never
	// appears in the journal, the summary, logs or errors.
	APIKey  string
	RawAuth bool
	// Header holds extra request headers.
	Header http.Header
	// HTTPClient sends the requests; nil means a client tuned for
	// Concurrency connections to one host.
	HTTPClient *http.Client

	// Concurrency caps requests in flight; default DefaultConcurrency.
	Concurrency int
	// MaxAttempts caps attempts per row; default retry.DefaultMaxAttempts.
	MaxAttempts int
	// RetryInitial and RetryMax bound the exponential backoff between
	// attempts; defaults retry.DefaultInitial and retry.DefaultMax.
	RetryInitial, RetryMax time.Duration
	// RPM and TPM, when positive, pace sends to at most RPM requests and
	// TPM tokens a minute. A request's token cost is estimated before it
	// is sent (input tokens plus max_output_tokens when the body sets it)
	// and corrected from the answer's usage. Whether or not they are set,
	// limits announced by the endpoint's x-ratelimit-* headers are learned
	// and paced to as well (the stricter limit wins).
	RPM, TPM int
	// Timeout bounds one attempt; default DefaultTimeout (generous, for
	// reasoning models).
	Timeout time.Duration
	// DrainTimeout is how long requests in flight may go on after the job
	// is stopped (interrupt, fatal answer) before they are cancelled;
	// default DefaultDrainTimeout.
	DrainTimeout time.Duration

	// SyncInterval is how long a journalled result may stay unsynced (no
	// fsync) while results arrive; default results.DefaultSyncInterval
	// (1s). The journal is also synced every second when idle and at the
	// end. A negative value syncs only at the end: a killed process still
	// loses nothing written, but a machine crash may lose up to the whole
	// run's results.
	SyncInterval time.Duration

	// Force appends to a journal written by a different job.
	Force bool
	// RetryFailed sends rows with a permanent error in the journal again.
	RetryFailed bool
	// Limit, when positive, reads only the first Limit rows of the input
	// (bad rows included, rows finished earlier included) and then ends the
	// run as if the input ended there. It is not part of the job's
	// fingerprint: a later run without it resumes the same journal and
	// sends the rest.
	Limit int64
	// Strict stops the job at the first bad input row (exit 2) instead of
	// journalling it as a failed row.
	Strict bool
	// Reuse lists earlier journals (glob patterns allowed): a row whose
	// request (endpoint and body, as request_sha256 hashes it) one of
	// them finished ok is journalled from that answer, marked as reused
	// (Record.Reused), without a request. Summary.Reused says how many
	// rows were reused and what they cost when answered.
	Reuse []string
	// Reask, when positive, sends a row again, up to Reask times, when
	// its answer breaks the JSON schema the request asks for (or is not
	// JSON) or is a refusal. Every answer is journalled and counted in
	// the usage and cost (Summary.Reasks); the row's latest record says
	// how many re-asks it took (Record.Reask).
	Reask int

	// Logger receives the job's log lines; nil discards them.
	Logger *slog.Logger
	// Progress, when set, is called every ProgressInterval from one
	// goroutine, and once more with Final set when the job ends.
	Progress         func(Progress)
	ProgressInterval time.Duration
	// Observer, when set, is told of the job's progress and of every
	// attempt: what pipeline/metrics serves to Prometheus.
	Observer Observer
	// SummaryInterval is how often the summary file is rewritten; default
	// DefaultSummaryInterval.
	SummaryInterval time.Duration

	// Prices prices the usage in the summary and progress, and the cap;
	// nil means prices.Default(), the embedded table.
	Prices *prices.Table
	// Names, when set, names a Config field (its Go name, e.g. "MaxCost")
	// in the messages of errors, logs and bad rows: the llmbatch command
	// gives its flags ("--max-cost"). Unset, messages name the field
	// itself ("Config.MaxCost").
	Names func(field string) string

	// MaxCost, when positive, caps the job's cost. A request is sent only
	// while the journal's cost (earlier runs included) plus the estimates
	// of the requests in flight plus its own estimate stays within the cap;
	// a request that does not fit while others are in flight waits for
	// them to settle. The job stops with a *StopError (exit 3; re-running
	// with a higher cap resumes) only when nothing is in flight and what is
	// spent plus the next request's estimate would pass the cap.
	//
	// A request's estimate is its input tokens (io/tokens on its body) plus
	// max_output_tokens when the body sets it, else the 95th percentile of
	// the output tokens of the answers so far, priced at the model's
	// uncached input and output prices. Before a few answers are in to
	// learn from, requests go one at a time, each estimated at its input
	// alone; then no more are in flight than answers have been learned
	// from. A job so stops having spent its cap less at most one request's
	// estimate; it passes the cap only by what answers cost beyond their
	// estimates (with max_output_tokens set, only the input estimate's
	// error).
	MaxCost prices.Money
}

// Source is where a job's rows come from.
type Source struct {
	// Input is the input file; "-" reads Reader (JSONL unless InputFormat
	// says otherwise), once, as a stream.
	Input string
	// InputFormat overrides the format chosen by Input's extension:
	// "jsonl", "csv", "tsv" or "parquet".
	InputFormat string
	// Reader is read when Input is "-": any io.Reader (a pipe, a network
	// stream, an in-memory buffer); nil means os.Stdin.
	Reader io.Reader
	// Delimiter overrides the CSV/TSV field delimiter.
	Delimiter rune
	// MaxRowBytes limits one JSONL line or CSV record; 0 means
	// rows.DefaultMaxRowBytes (4 MiB). A longer row is a bad row.
	MaxRowBytes int
}

// Template is what a job sends for each row: which API, the model, the
// templates that fill the request from the row's columns, the body's
// other fields, and the row's key.
type Template struct {
	// API is the endpoint's API (see LookupAPI); nil means the Responses
	// API, or the API a Batch API line's url names.
	API api.API
	// Model is the model for rows whose body names none.
	Model string
	// Prompt is a text/template over the row's columns that fills the
	// request's input, e.g. "Label the sentiment of: {{.text}}".
	Prompt string
	// PromptColumn names the column whose value is the input. With neither
	// Prompt nor PromptColumn, the first of "prompt", "input", "text" that
	// the row has is the input.
	PromptColumn string
	// Instructions is a text/template for the request's instructions.
	Instructions string
	// Body is a JSON object of further request fields (text.format,
	// reasoning, temperature, max_output_tokens, ...). Fields built from
	// the row (model, input, instructions) take precedence over it.
	Body []byte
	// IDColumn names the column holding each row's key; else a row's
	// custom_id, else its 0-based index, is its key. Keys must be unique:
	// a row repeating an earlier row's key is a bad row.
	IDColumn string
	// ModelColumn names a column whose non-empty value overrides Model for
	// its row.
	ModelColumn string
	// KeepColumns are copied from each row into its journal record
	// ("input"), so that results can be joined back to the input.
	KeepColumns []string
	// PackSize is how many rows go in one request for an API that packs
	// rows (embeddings); default DefaultPackSize, 1 sends a request per
	// row.
	PackSize int
}

// UsageError is a problem with the configuration or the input that the
// user must fix (exit status 2).
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

func usageErrorf(format string, a ...any) error {
	return &UsageError{Err: fmt.Errorf(format, a...)}
}

// StopError means the job stopped early because no request could succeed
// until the user acts: a fatal endpoint answer (401, 402, 403,
// insufficient_quota) or a journal that cannot be written (exit status 3).
// Finished rows are journalled; re-running resumes.
type StopError struct {
	Reason string
	Err    error
}

func (e *StopError) Error() string {
	if e.Err == nil {
		return e.Reason
	}
	return e.Reason + ": " + e.Err.Error()
}
func (e *StopError) Unwrap() error { return e.Err }

// ErrInterrupted is returned (wrapping the context's error) when the
// caller's context ended the job.
var ErrInterrupted = errors.New("interrupted")

func (c Config) withDefaults() Config {
	if c.Concurrency <= 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.PackSize <= 0 {
		c.PackSize = DefaultPackSize
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = DefaultDrainTimeout
	}
	if c.SummaryInterval <= 0 {
		c.SummaryInterval = DefaultSummaryInterval
	}
	if c.ProgressInterval <= 0 {
		c.ProgressInterval = DefaultProgressInterval
	}
	if c.BaseURL == "" {
		c.BaseURL = DefaultBaseURL
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Prices == nil {
		c.Prices = prices.Default()
	}
	return c
}

// name is how messages name the Config field field (see Names).
func (c *Config) name(field string) string {
	if c.Names != nil {
		if n := c.Names(field); n != "" {
			return n
		}
	}
	if strings.Contains(field, ".") { // another type's field: "EstimateOptions.From"
		return field
	}
	return "Config." + field
}

func (c *Config) validate() error {
	switch {
	case c.Input == "":
		return usageErrorf("no input file given (%s)", c.name("Input"))
	case c.Output == "":
		return usageErrorf("no results journal given (%s)", c.name("Output"))
	case c.Prompt != "" && c.PromptColumn != "":
		return usageErrorf("give %s or %s, not both", c.name("Prompt"), c.name("PromptColumn"))
	case c.RPM < 0 || c.TPM < 0:
		return usageErrorf("%s and %s must not be negative", c.name("RPM"), c.name("TPM"))
	case c.Limit < 0:
		return usageErrorf("%s must not be negative", c.name("Limit"))
	case c.Reask < 0:
		return usageErrorf("%s must not be negative", c.name("Reask"))
	case c.Shards < 0:
		return usageErrorf("%s must not be negative", c.name("Shards"))
	case c.ShardIndex < 0 || c.ShardIndex >= max(c.Shards, 1):
		return usageErrorf("%s %d is not a shard of %d: it must be in [0, %d)", c.name("ShardIndex"), c.ShardIndex, max(c.Shards, 1), max(c.Shards, 1))
	}
	if c.Endpoint == nil {
		if err := checkBaseURL(c.BaseURL); err != nil {
			return &UsageError{Err: err}
		}
	}
	return nil
}

// ErrBaseURL is wrapped by the error of a BaseURL that cannot be a base
// URL: Run checks it before anything is read or sent.
var ErrBaseURL = errors.New("invalid base URL")

// checkBaseURL checks that s is an absolute http or https URL with a host,
// such as https://api.openai.com/v1 or http://127.0.0.1:8000/v1.
func checkBaseURL(s string) error {
	const want = "a base URL looks like http(s)://host[:port]/v1, e.g. https://api.openai.com/v1 (requests go to BASE/responses)"
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return fmt.Errorf("%w %q: %s", ErrBaseURL, s, want)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("%w %q: no http:// or https:// scheme; %s", ErrBaseURL, s, want)
	case u.Host == "" || u.Hostname() == "":
		return fmt.Errorf("%w %q: no host; %s", ErrBaseURL, s, want)
	case u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("%w %q: a query or fragment cannot take a path appended; %s", ErrBaseURL, s, want)
	}
	if p := strings.TrimSuffix(u.Path, "/"); strings.HasSuffix(p, "/responses") {
		return fmt.Errorf("%w %q: it ends in /responses, which llmbatch appends itself; drop it: %s", ErrBaseURL, s, want)
	}
	return nil
}

// newHTTPClient returns a client whose pool keeps a connection per worker
// and that follows no redirect to another origin (httpapi.CheckRedirect).
func newHTTPClient(concurrency int) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = concurrency + 16
	t.MaxIdleConnsPerHost = concurrency + 16
	t.IdleConnTimeout = 90 * time.Second
	return &http.Client{Transport: t, CheckRedirect: httpapi.CheckRedirect}
}
