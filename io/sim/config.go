package sim

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"time"
)

// Defaults applied by New to zero-valued Config fields.
const (
	DefaultModel      = "gpt-5-mini"
	DefaultSlowDelay  = 2 * time.Second
	DefaultRetryAfter = time.Second
	// DefaultBatchMaxLines and DefaultBatchMaxBytes are OpenAI's limits of a
	// batch input file: 50,000 requests and 200 MB.
	DefaultBatchMaxLines = 50_000
	DefaultBatchMaxBytes = 200_000_000
)

// Usage shapes accepted by Config.Usage.
const (
	UsageOpenAI   = "openai"   // input_tokens, output_tokens, ... (the Responses shape)
	UsageChat     = "chat"     // prompt_tokens, completion_tokens, ... (the Chat Completions shape)
	UsageDeepSeek = "deepseek" // the Chat Completions shape with prompt_cache_hit_tokens and prompt_cache_miss_tokens instead of prompt_tokens_details
)

// Config configures a Server. The zero value is a fast, fault-free server.
type Config struct {
	Seed          int64         // seeds every deterministic choice
	Latency       time.Duration // base delay before each answer
	LatencyJitter time.Duration // plus a uniform random 0..LatencyJitter
	// Usage is the usage shape of answers: "openai" (default), "chat" or
	// "deepseek". /v1/responses answers in the shape named; chat
	// completions answer in the Chat Completions shape unless it is
	// "deepseek"; embeddings always answer {prompt_tokens, total_tokens}.
	Usage  string
	APIKey string // if non-empty, requests must carry it as "Authorization: Bearer KEY" or "Authorization: KEY", else 401 invalid_api_key
	Model  string // model echoed when a /v1/responses request names none (default "gpt-5-mini"); chat and embeddings requests must name one

	// Fault probabilities in [0,1]. Each attempt draws deterministically from
	// (Seed, sha256 of the request body, how many times this server has seen
	// that body before). RateLimit, ServerError, Reset, Malformed, Incomplete
	// and Slow are exclusive bands of one draw, in that order, so each occurs
	// at its own rate as long as they sum to at most 1 (later bands are cut
	// off where the sum exceeds 1).
	RateLimit   float64       // 429 rate_limit_exceeded, with retry-after-ms and retry-after headers = RetryAfter
	ServerError float64       // 500, 502 or 503 (chosen by the draw), OpenAI error body
	Reset       float64       // connection reset: hijack the connection and close it with no answer (SO_LINGER 0)
	Malformed   float64       // 200 with a JSON body cut off in the middle
	Slow        float64       // answer normally but after an extra SlowDelay
	SlowDelay   time.Duration // default 2s
	Incomplete  float64       // 200 with status "incomplete", incomplete_details.reason "max_output_tokens" (chat: finish_reason "length"; embeddings: no effect)
	BadRequest  float64       // 400 invalid_request_error; decided by (Seed, body) only, so the same body always fails
	RetryAfter  time.Duration // wait announced with 429s; default 1s
	QuotaAfter  int           // if >0, every request after the first QuotaAfter requests gets 429 insufficient_quota (counting requests that pass authentication and validation)

	// Rate limits enforced like OpenAI's: per-minute buckets that refill
	// continuously. 0 means unlimited (and the x-ratelimit-* headers for that
	// dimension are omitted).
	RPM int
	TPM int // a request's token cost = estimated input tokens + its output cap, if set (max_output_tokens; max_completion_tokens or max_tokens, times n)
	// StartEmpty starts the RPM/TPM buckets empty, as if an earlier job
	// had just used up the minute, instead of full. A client then gets at
	// most the limit's steady rate from the start, which makes a
	// throughput measurement comparable with rows/RPM and tokens/TPM.
	StartEmpty bool

	// NoResponses makes /v1/responses answer 404 with an OpenAI not-found
	// error body, as a server that offers only chat completions does.
	NoResponses bool
	// ShuffleEmbeddings answers the items of an embeddings request in a
	// shuffled order (deterministic in Seed and the body), each with its
	// correct index, to test that a client unpacks by index.
	ShuffleEmbeddings bool

	// Background responses (POST /v1/responses with "background": true;
	// see the package doc). The create call goes through the faults and
	// limits above; the response is then queued for the first half of its
	// delay, in_progress for the second half, then final.
	BackgroundDelay  time.Duration // creation to final state; 0: final at once (the create still answers queued)
	BackgroundJitter time.Duration // plus a uniform 0..BackgroundJitter, drawn from (Seed, body, attempt)
	BackgroundFail   float64       // share of background responses that end "failed" (error.code "server_error"), drawn from (Seed, body, attempt); not billed
	// BackgroundExpireAfter, if >0, removes a background response from
	// storage this long after it reached its final state: GET and cancel
	// then answer 404, as for a response past OpenAI's retention.
	BackgroundExpireAfter time.Duration
	// NoBackground ignores "background": true and answers the create
	// synchronously (status "completed"), as a stateless server that does
	// not implement background mode does (OpenRouter, llama.cpp, vLLM
	// without its store).
	NoBackground bool

	// Files and Batches (POST /v1/files, /v1/batches; see the package
	// doc). A batch is validating for the first tenth of BatchDelay,
	// in_progress (its lines answered one by one, evenly spread) until
	// nine tenths, finalizing until BatchDelay, then completed; cancelling
	// lasts a tenth of BatchDelay.
	BatchDelay time.Duration // creation to completed; 0: completed at once (the create still answers validating)
	BatchFail  float64       // share of batch lines answered 500 server_error (in the error file), drawn from (Seed, batch id, custom_id); not billed
	// BatchExpireAfter, if >0, expires a batch not completed this long
	// after its creation: status "expired", the lines answered by then in
	// the output file, the others in the error file as batch_expired.
	BatchExpireAfter time.Duration
	BatchMaxLines    int   // lines per input file, else the batch fails with too_many_tasks (default 50,000)
	BatchMaxBytes    int64 // bytes per input file, else POST /v1/batches answers 400 "File is too large." (default 200 MB)
	// BatchTokenLimit, if >0, is the enqueued token limit per model: a
	// batch whose lines' tokens (the TPM cost of each) plus those of the
	// model's unfinished batches exceed it fails with token_limit_exceeded.
	BatchTokenLimit int64
}

// RegisterFlags binds c's fields to flags on fs, for the `llmbatch simulate`
// command. The flags' defaults are c's current values, with the documented
// defaults filled in for zero-valued Model, Usage, SlowDelay and RetryAfter.
// The key is never taken from the command line: -api-key-env names an
// environment variable, which is read when the flag is parsed.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	if c.Model == "" {
		c.Model = DefaultModel
	}
	if c.Usage == "" {
		c.Usage = UsageOpenAI
	}
	if c.SlowDelay == 0 {
		c.SlowDelay = DefaultSlowDelay
	}
	if c.RetryAfter == 0 {
		c.RetryAfter = DefaultRetryAfter
	}
	if c.BatchMaxLines == 0 {
		c.BatchMaxLines = DefaultBatchMaxLines
	}
	if c.BatchMaxBytes == 0 {
		c.BatchMaxBytes = DefaultBatchMaxBytes
	}
	fs.Int64Var(&c.Seed, "seed", c.Seed, "seed for every deterministic choice (texts, token counts, faults)")
	fs.DurationVar(&c.Latency, "latency", c.Latency, "base delay before each answer")
	fs.DurationVar(&c.LatencyJitter, "latency-jitter", c.LatencyJitter, "extra uniform random delay, 0..`d`, added to -latency")
	fs.StringVar(&c.Usage, "usage", c.Usage, "usage shape in answers: openai, chat or deepseek (prompt_cache_hit_tokens); chat completions use the chat shape unless deepseek")
	fs.StringVar(&c.Model, "model", c.Model, "model echoed when a /v1/responses request names none (chat and embeddings requests must name one)")
	fs.Func("api-key-env", "require the API key held in the environment variable `NAME` (401 otherwise)", func(name string) error {
		if name == "" {
			return errors.New("empty variable name")
		}
		key := os.Getenv(name)
		if key == "" {
			return fmt.Errorf("environment variable %s is empty or unset", name)
		}
		c.APIKey = key
		return nil
	})
	fs.Float64Var(&c.RateLimit, "rate-limit", c.RateLimit, "probability of a 429 rate_limit_exceeded answer (also on the stored-object routes: GET/cancel of background responses, files, batches)")
	fs.Float64Var(&c.ServerError, "server-error", c.ServerError, "probability of a 500, 502 or 503 answer (also on the stored-object routes)")
	fs.Float64Var(&c.Reset, "reset", c.Reset, "probability of a connection reset with no answer")
	fs.Float64Var(&c.Malformed, "malformed", c.Malformed, "probability of a 200 whose JSON body is cut off")
	fs.Float64Var(&c.Slow, "slow", c.Slow, "probability of an answer delayed by an extra -slow-delay")
	fs.DurationVar(&c.SlowDelay, "slow-delay", c.SlowDelay, "extra delay of a slow answer")
	fs.Float64Var(&c.Incomplete, "incomplete", c.Incomplete, "probability of a 200 with status incomplete (max_output_tokens), or finish_reason length for chat")
	fs.Float64Var(&c.BadRequest, "bad-request", c.BadRequest, "fraction of request bodies that always get 400 invalid_request_error")
	fs.DurationVar(&c.RetryAfter, "retry-after", c.RetryAfter, "wait announced by injected 429s")
	fs.IntVar(&c.QuotaAfter, "quota-after", c.QuotaAfter, "answer 429 insufficient_quota to every request after the first `N` (0: never)")
	fs.IntVar(&c.RPM, "rpm", c.RPM, "requests-per-minute limit (0: unlimited)")
	fs.IntVar(&c.TPM, "tpm", c.TPM, "tokens-per-minute limit (0: unlimited)")
	fs.BoolVar(&c.StartEmpty, "start-empty", c.StartEmpty, "start the -rpm/-tpm buckets empty (as if the minute were used up) instead of full")
	fs.BoolVar(&c.NoResponses, "no-responses", c.NoResponses, "answer 404 on /v1/responses, as a chat-only server does")
	fs.BoolVar(&c.ShuffleEmbeddings, "shuffle-embeddings", c.ShuffleEmbeddings, "answer embeddings items in a shuffled order (each with its correct index)")
	fs.DurationVar(&c.BackgroundDelay, "background-delay", c.BackgroundDelay, "time a background response takes from queued to its final state (0: final at the first GET)")
	fs.DurationVar(&c.BackgroundJitter, "background-jitter", c.BackgroundJitter, "extra uniform random time, 0..`d`, added to -background-delay")
	fs.Float64Var(&c.BackgroundFail, "background-fail", c.BackgroundFail, "share of background responses that end failed (server_error)")
	fs.DurationVar(&c.BackgroundExpireAfter, "background-expire-after", c.BackgroundExpireAfter, "remove a background response `d` after it ended: GET answers 404 (0: keep)")
	fs.BoolVar(&c.NoBackground, "no-background", c.NoBackground, "ignore background: true and answer synchronously, as a stateless server does")
	fs.DurationVar(&c.BatchDelay, "batch-delay", c.BatchDelay, "time a batch takes from validating to completed (0: completed at the first GET)")
	fs.Float64Var(&c.BatchFail, "batch-fail", c.BatchFail, "share of batch lines answered 500 server_error (in the error file)")
	fs.DurationVar(&c.BatchExpireAfter, "batch-expire-after", c.BatchExpireAfter, "expire a batch not completed `d` after creation, with partial results (0: never)")
	fs.IntVar(&c.BatchMaxLines, "batch-max-lines", c.BatchMaxLines, "lines per batch input file, else the batch fails with too_many_tasks")
	fs.Int64Var(&c.BatchMaxBytes, "batch-max-bytes", c.BatchMaxBytes, "bytes per batch input file, else batch creation answers 400")
	fs.Int64Var(&c.BatchTokenLimit, "batch-token-limit", c.BatchTokenLimit, "enqueued tokens per model over unfinished batches, else token_limit_exceeded (0: unlimited)")
}

// Validate reports the first field of c that is out of range: a probability
// outside [0,1], a negative duration or count, or an unknown usage shape.
// New does not call it; it clamps instead.
func (c *Config) Validate() error {
	probs := []struct {
		name string
		p    float64
	}{
		{"rate-limit", c.RateLimit},
		{"server-error", c.ServerError},
		{"reset", c.Reset},
		{"malformed", c.Malformed},
		{"slow", c.Slow},
		{"incomplete", c.Incomplete},
		{"bad-request", c.BadRequest},
		{"background-fail", c.BackgroundFail},
		{"batch-fail", c.BatchFail},
	}
	for _, p := range probs {
		if math.IsNaN(p.p) || p.p < 0 || p.p > 1 {
			return fmt.Errorf("sim: %s probability %v is outside [0,1]", p.name, p.p)
		}
	}
	durs := []struct {
		name string
		d    time.Duration
	}{
		{"latency", c.Latency},
		{"latency-jitter", c.LatencyJitter},
		{"slow-delay", c.SlowDelay},
		{"retry-after", c.RetryAfter},
		{"background-delay", c.BackgroundDelay},
		{"background-jitter", c.BackgroundJitter},
		{"background-expire-after", c.BackgroundExpireAfter},
		{"batch-delay", c.BatchDelay},
		{"batch-expire-after", c.BatchExpireAfter},
	}
	for _, d := range durs {
		if d.d < 0 {
			return fmt.Errorf("sim: %s %v is negative", d.name, d.d)
		}
	}
	switch {
	case c.QuotaAfter < 0:
		return fmt.Errorf("sim: quota-after %d is negative", c.QuotaAfter)
	case c.RPM < 0:
		return fmt.Errorf("sim: rpm %d is negative", c.RPM)
	case c.TPM < 0:
		return fmt.Errorf("sim: tpm %d is negative", c.TPM)
	case c.BatchMaxLines < 0:
		return fmt.Errorf("sim: batch-max-lines %d is negative", c.BatchMaxLines)
	case c.BatchMaxBytes < 0:
		return fmt.Errorf("sim: batch-max-bytes %d is negative", c.BatchMaxBytes)
	case c.BatchTokenLimit < 0:
		return fmt.Errorf("sim: batch-token-limit %d is negative", c.BatchTokenLimit)
	}
	switch c.Usage {
	case "", UsageOpenAI, UsageChat, UsageDeepSeek:
	default:
		return fmt.Errorf("sim: usage shape %q is not %q, %q or %q", c.Usage, UsageOpenAI, UsageChat, UsageDeepSeek)
	}
	return nil
}

// normalized returns c with defaults filled in and out-of-range values
// clamped.
func (c Config) normalized() Config {
	if c.Model == "" {
		c.Model = DefaultModel
	}
	if c.Usage != UsageChat && c.Usage != UsageDeepSeek {
		c.Usage = UsageOpenAI
	}
	if c.SlowDelay <= 0 {
		c.SlowDelay = DefaultSlowDelay
	}
	if c.RetryAfter <= 0 {
		c.RetryAfter = DefaultRetryAfter
	}
	c.Latency = max(c.Latency, 0)
	c.LatencyJitter = max(c.LatencyJitter, 0)
	for _, d := range []*time.Duration{&c.BackgroundDelay, &c.BackgroundJitter, &c.BackgroundExpireAfter, &c.BatchDelay, &c.BatchExpireAfter} {
		*d = max(*d, 0)
	}
	if c.BatchMaxLines <= 0 {
		c.BatchMaxLines = DefaultBatchMaxLines
	}
	if c.BatchMaxBytes <= 0 {
		c.BatchMaxBytes = DefaultBatchMaxBytes
	}
	c.BatchTokenLimit = max(c.BatchTokenLimit, 0)
	for _, p := range []*float64{&c.RateLimit, &c.ServerError, &c.Reset, &c.Malformed, &c.Slow, &c.Incomplete, &c.BadRequest, &c.BackgroundFail, &c.BatchFail} {
		if math.IsNaN(*p) || *p < 0 {
			*p = 0
		}
		*p = min(*p, 1)
	}
	c.QuotaAfter = max(c.QuotaAfter, 0)
	c.RPM = max(c.RPM, 0)
	c.TPM = max(c.TPM, 0)
	return c
}
