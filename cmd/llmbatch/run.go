package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/llmbatch/llmbatch/io/results"
	"github.com/llmbatch/llmbatch/io/sim"
	"github.com/llmbatch/llmbatch/pipeline"
)

// runOptions are the flags of "llmbatch run".
type runOptions struct {
	Input, InputFormat, Output             string
	Model, Prompt, PromptColumn, Instr     string
	BodyFile, IDColumn                     string
	BaseURL, APIKeyEnv, AuthScheme         string
	Header                                 headerFlag
	Concurrency, MaxAttempts               int
	RPM, TPM                               int
	Timeout, DrainTimeout                  time.Duration
	Force, RetryFailed, Strict, Sim, Quiet bool
	SimSeed                                int64
	LogFormat                              string
}

const runUsage = `Usage: llmbatch run [flags] INPUT

Sends one /v1/responses request per input row and appends each result to
the journal (-o). Re-running the same command resumes: finished rows are
not sent again.

Flags:
`

func (o *runOptions) register(fs *flag.FlagSet, env environ) {
	fs.StringVar(&o.Output, "o", "", "results journal to write or resume (JSONL; required)")
	fs.StringVar(&o.InputFormat, "input-format", "", "input format, overriding the extension: jsonl")
	fs.StringVar(&o.Model, "model", env.getenv("OPENAI_MODEL"), "model for rows whose body names none (env OPENAI_MODEL)")
	fs.StringVar(&o.Prompt, "prompt", "", "Go text/template over the row's columns that fills the request's input, e.g. 'Label: {{.text}}'")
	fs.StringVar(&o.PromptColumn, "prompt-column", "", "column whose value is the input (default: the first of prompt, input, text)")
	fs.StringVar(&o.Instr, "instructions", "", "template for the request's instructions")
	fs.StringVar(&o.BodyFile, "body", "", "JSON file of further request fields (text.format, reasoning, max_output_tokens, ...)")
	fs.StringVar(&o.IDColumn, "id-column", "", "column holding each row's key (default: custom_id, else the row index)")
	fs.StringVar(&o.BaseURL, "base-url", or(env.getenv("OPENAI_BASE_URL"), pipeline.DefaultBaseURL), "API root; requests go to BASE/responses (env OPENAI_BASE_URL)")
	fs.StringVar(&o.APIKeyEnv, "api-key-env", "OPENAI_API_KEY", "name of the environment variable holding the API key")
	fs.StringVar(&o.AuthScheme, "auth-scheme", "bearer", "how to send the key: bearer (Authorization: Bearer KEY) or raw (Authorization: KEY)")
	fs.IntVar(&o.Concurrency, "concurrency", pipeline.DefaultConcurrency, "requests in flight at most")
	fs.IntVar(&o.RPM, "rpm", 0, "pace sends to at most `N` requests a minute (0: only the limits the endpoint announces)")
	fs.IntVar(&o.TPM, "tpm", 0, "pace sends to at most `N` tokens a minute, input estimate plus max_output_tokens (0: only the endpoint's)")
	fs.IntVar(&o.MaxAttempts, "max-attempts", 8, "attempts per row at most, the first included")
	fs.DurationVar(&o.Timeout, "timeout", pipeline.DefaultTimeout, "time limit of one attempt")
	fs.DurationVar(&o.DrainTimeout, "drain-timeout", pipeline.DefaultDrainTimeout, "on stop, how long requests in flight may finish")
	fs.BoolVar(&o.Force, "force", false, "append to a journal written by a different job")
	fs.BoolVar(&o.RetryFailed, "retry-failed", false, "send rows that failed for good (e.g. 400) again")
	fs.BoolVar(&o.Strict, "strict", false, "stop at the first bad input row (exit 2) instead of journalling it as failed")
	fs.BoolVar(&o.Sim, "sim", false, "run against the simulated endpoint, started in-process on loopback (no key needed)")
	fs.Int64Var(&o.SimSeed, "sim-seed", 1, "seed of the simulated endpoint (with --sim)")
	fs.BoolVar(&o.Quiet, "quiet", false, "no progress bar or progress lines")
	fs.StringVar(&o.LogFormat, "log-format", "text", "log format on stderr: text or json")
}

// validate checks the options and fills Input from the positional args.
func (o *runOptions) validate(pos []string) error {
	switch {
	case len(pos) == 0:
		return usagef("run: no INPUT given (usage: llmbatch run [flags] INPUT -o results.jsonl)")
	case len(pos) > 1:
		return usagef("run: one INPUT at a time, got %d: %s", len(pos), strings.Join(pos, " "))
	case o.Output == "":
		return usagef("run: no results journal given: add -o results.jsonl")
	case o.Concurrency < 1:
		return usagef("run: --concurrency must be at least 1")
	case o.RPM < 0 || o.TPM < 0:
		return usagef("run: --rpm and --tpm must not be negative")
	case o.MaxAttempts < 1:
		return usagef("run: --max-attempts must be at least 1")
	case o.AuthScheme != "bearer" && o.AuthScheme != "raw":
		return usagef("run: --auth-scheme must be bearer or raw, not %q", o.AuthScheme)
	case o.LogFormat != "text" && o.LogFormat != "json":
		return usagef("run: --log-format must be text or json, not %q", o.LogFormat)
	}
	o.Input = pos[0]
	return nil
}

func runJob(ctx context.Context, args []string, env environ) int {
	var o runOptions
	fs := newFlagSet("run", env.stderr, runUsage)
	o.register(fs, env)
	fs.Var(&o.Header, "H", "extra request header 'Name: value' (repeatable)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return exitCode(err, nil, env)
	}
	if err := o.validate(pos); err != nil {
		return exitCode(err, nil, env)
	}
	logger := newLogger(env, o.LogFormat)
	cfg := pipeline.Config{
		Input: o.Input, InputFormat: o.InputFormat, Stdin: env.stdin, Output: o.Output,
		Model: o.Model, Prompt: o.Prompt, PromptColumn: o.PromptColumn, Instructions: o.Instr,
		IDColumn: o.IDColumn, BaseURL: o.BaseURL, RawAuth: o.AuthScheme == "raw", Header: o.Header.h,
		Concurrency: o.Concurrency, MaxAttempts: o.MaxAttempts, Timeout: o.Timeout, DrainTimeout: o.DrainTimeout,
		RPM: o.RPM, TPM: o.TPM,
		Force: o.Force, RetryFailed: o.RetryFailed, Strict: o.Strict, Logger: logger,
	}
	if o.BodyFile != "" {
		b, err := os.ReadFile(o.BodyFile)
		if err != nil {
			return exitCode(usagef("run: --body: %v", err), nil, env)
		}
		cfg.Body = b
	}
	if o.Sim {
		srv := sim.New(demoSim(o.SimSeed))
		base, err := srv.Start("127.0.0.1:0")
		if err != nil {
			return exitCode(fmt.Errorf("start the simulated endpoint: %w", err), nil, env)
		}
		defer srv.Close()
		cfg.BaseURL = base
		if cfg.Model == "" {
			cfg.Model = "gpt-5-mini"
		}
		logger.Info("using the simulated endpoint", "url", base, "model", cfg.Model)
	} else {
		cfg.APIKey = env.getenv(o.APIKeyEnv)
		if cfg.APIKey == "" {
			return exitCode(usagef("run: no API key: set %s (or use --sim to try the simulated endpoint)", o.APIKeyEnv), nil, env)
		}
	}
	if !o.Quiet {
		p := newProgress(env, logger)
		cfg.Progress = p.update
		cfg.ProgressInterval = p.interval
	}
	sum, err := pipeline.Run(ctx, cfg)
	if sum != nil && !o.Quiet {
		printDone(env, &o, sum)
	}
	return exitCode(err, sum, env)
}

// demoSim is the simulated endpoint of "run --sim": some latency and a
// few rate limits and server errors, so that the demo shows retries.
func demoSim(seed int64) sim.Config {
	return sim.Config{
		Seed:          seed,
		Latency:       40 * time.Millisecond,
		LatencyJitter: 120 * time.Millisecond,
		RateLimit:     0.04,
		ServerError:   0.03,
		RetryAfter:    300 * time.Millisecond,
	}
}

func newLogger(env environ, format string) *slog.Logger {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(env.stderr, opts))
	}
	return slog.New(slog.NewTextHandler(env.stderr, opts))
}

func printDone(env environ, o *runOptions, s *results.Summary) {
	u := s.Usage.Total
	fmt.Fprintf(env.stderr, "rows: %d ok, %d failed, %d to retry", s.Rows.OK, s.Rows.Failed, s.Rows.Retryable)
	if s.Rows.Pending > 0 {
		fmt.Fprintf(env.stderr, ", %d pending", s.Rows.Pending)
	}
	if s.Rows.Skipped > 0 {
		fmt.Fprintf(env.stderr, " (%d done earlier, skipped)", s.Rows.Skipped)
	}
	fmt.Fprintf(env.stderr, "\nthis run: %d requests, %d retries, %d rate-limited (429) in %.1fs\n",
		s.Run.Requests, s.Run.Retries, s.Run.RateLimited, s.Run.WallSeconds)
	fmt.Fprintf(env.stderr, "tokens: %d input (%d cached), %d output (%d reasoning)\n",
		u.InputTokens, u.CachedInputTokens, u.OutputTokens, u.ReasoningTokens)
	fmt.Fprintf(env.stderr, "journal: %s  summary: %s\n", o.Output, results.SummaryPath(o.Output))
	if s.Rows.Failed > 0 || s.Rows.Retryable > 0 {
		fmt.Fprintf(env.stderr, "some rows failed: see their \"error\" in the journal; re-running sends the %d retryable ones again (--retry-failed also the others)\n", s.Rows.Retryable)
	}
}

func or(s, def string) string {
	if s != "" {
		return s
	}
	return def
}
