package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/llmbatch/llmbatch/io/results"
	"github.com/llmbatch/llmbatch/io/secret"
	"github.com/llmbatch/llmbatch/io/sim"
	"github.com/llmbatch/llmbatch/io/store"
	"github.com/llmbatch/llmbatch/pipeline"
	"github.com/llmbatch/llmbatch/pipeline/batchapi"
)

// runOptions are the flags of "llmbatch run".
type runOptions struct {
	Input, InputFormat, Output, Endpoint   string
	Model, Prompt, PromptColumn, Instr     string
	BodyFile, IDColumn, ModelColumn        string
	KeepColumns, Delimiter                 string
	MaxRowBytes                            int
	BaseURL, APIKeyEnv, AuthScheme         string
	Header                                 headerFlag
	Concurrency, MaxAttempts               int
	RPM, TPM                               int
	Timeout, DrainTimeout                  time.Duration
	Force, RetryFailed, Strict, Sim, Quiet bool
	SimSeed                                int64
	SimLatency                             time.Duration
	SimFaults                              bool
	LogFormat                              string

	EmbedBatch int     // --embed-batch
	PricesFile string  // --prices
	MaxCost    usdFlag // --max-cost
	Limit      int64   // --limit
	DryRun     bool    // --dry-run

	Mode    modeOptions   // --mode and the modes' flags (mode.go)
	answers answerOptions // --reask
	Shards  shardFlags
	Metrics string // --metrics-addr
}

const runUsage = `Usage: llmbatch run [flags] INPUT

Sends one request per input row to the endpoint's API (/v1/responses by
default; --endpoint chat or embeddings) and appends each result to the
journal (-o). Re-running the same command resumes: finished rows are
not sent again.

Exit status: 0 every row ok; 1 the job finished with failed rows or rows
left to retry (or an unexpected error); 2 bad usage or input; 3 stopped
by a fatal endpoint answer (bad key, no quota), --max-cost or a journal
that cannot be written; 130 interrupted. After 1, 3 or 130, re-running
the same command resumes.

Flags:
`

func (o *runOptions) register(fs *flag.FlagSet, env environ) {
	fs.StringVar(&o.Output, "o", "", "results journal to write or resume (JSONL; required)")
	o.registerBuild(fs, env)
	fs.Var(&o.MaxCost, "max-cost", "cost cap in USD, e.g. 20 or 12.50: no new request once the journal's cost plus what is in flight would pass it (exit 3; re-run with a higher cap to resume)")
	fs.StringVar(&o.BaseURL, "base-url", or(env.getenv("OPENAI_BASE_URL"), pipeline.DefaultBaseURL), "API root; requests go to BASE/responses (env OPENAI_BASE_URL)")
	fs.StringVar(&o.APIKeyEnv, "api-key-env", "OPENAI_API_KEY", "name of the environment variable holding the API key")
	fs.StringVar(&o.AuthScheme, "auth-scheme", "bearer", "how to send the key: bearer (Authorization: Bearer KEY) or raw (Authorization: KEY)")
	fs.IntVar(&o.Concurrency, "concurrency", pipeline.DefaultConcurrency, "requests in flight at most")
	fs.IntVar(&o.EmbedBatch, "embed-batch", pipeline.DefaultPackSize, "with --endpoint embeddings, rows packed into one request at most (1: a request per row)")
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
	fs.DurationVar(&o.SimLatency, "sim-latency", 40*time.Millisecond, "base latency of the simulated endpoint (with --sim; answers take 1 to 4 times this)")
	fs.BoolVar(&o.SimFaults, "sim-faults", true, "let the simulated endpoint answer a few 429s and 5xx (with --sim)")
	fs.BoolVar(&o.Quiet, "quiet", false, "no progress bar, progress lines or closing totals; warnings and errors only")
	fs.StringVar(&o.LogFormat, "log-format", "text", "log format on stderr: text or json")
	fs.Int64Var(&o.Limit, "limit", 0, "run only the first `N` rows of the input, bad ones included (0: all); re-running without it continues the same journal")
	o.Mode.register(fs)
	o.answers.register(fs)
	o.Shards.register(fs, env)
	fs.StringVar(&o.Metrics, "metrics-addr", "", "serve Prometheus metrics on `host:port` (e.g. :9090), path /metrics, labelled by shard (off by default)")
	fs.BoolVar(&o.DryRun, "dry-run", false, "print the first request (with --limit N, those of the first N rows) as it would be sent, the key masked; send nothing, write no file")
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
	case !journalExt(store.Redact(o.Output)):
		return usagef("run: -o %s: the results journal is JSONL: name it .jsonl or .ndjson; for CSV or Parquet, export the journal after the run: %s",
			o.Output, exportHint(o.Output))
	case o.Concurrency < 1:
		return usagef("run: --concurrency must be at least 1")
	case o.RPM < 0 || o.TPM < 0:
		return usagef("run: --rpm and --tpm must not be negative")
	case o.EmbedBatch < 1 || o.EmbedBatch > 2048:
		return usagef("run: --embed-batch must be between 1 and 2048 (the inputs one embeddings request may hold)")
	case o.MaxAttempts < 1:
		return usagef("run: --max-attempts must be at least 1")
	case o.AuthScheme != "bearer" && o.AuthScheme != "raw":
		return usagef("run: --auth-scheme must be bearer or raw, not %q", o.AuthScheme)
	case utf8.RuneCountInString(o.Delimiter) > 1:
		return usagef("run: --delimiter must be one character, not %q", o.Delimiter)
	case o.MaxRowBytes < 1:
		return usagef("run: --max-row-bytes must be at least 1")
	case o.LogFormat != "text" && o.LogFormat != "json":
		return usagef("run: --log-format must be text or json, not %q", o.LogFormat)
	}
	if err := o.Mode.validate(); err != nil {
		return err
	}
	o.Input = pos[0]
	return o.answers.validate()
}

func runJob(ctx context.Context, args []string, env environ) int {
	var o runOptions
	fs := newFlagSet("run", env.stderr, runUsage)
	o.register(fs, env)
	fs.Var(&o.Header, "H", "extra request header 'Name: value' (repeatable); env OPENAI_ORG_ID and OPENAI_PROJECT_ID add OpenAI-Organization and OpenAI-Project unless -H gives them")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return exitCode(err, nil, env)
	}
	if err := o.validate(pos); err != nil {
		return exitCode(err, nil, env)
	}
	logger := newLogger(env, o.LogFormat, o.Quiet)
	if o.LogFormat == "json" {
		env.log = logger
	}
	cfg := pipeline.Config{
		Source: pipeline.Source{Input: o.Input, InputFormat: o.InputFormat, Reader: env.stdin},
		Template: pipeline.Template{Model: o.Model, Prompt: o.Prompt, PromptColumn: o.PromptColumn, Instructions: o.Instr,
			IDColumn: o.IDColumn, PackSize: o.EmbedBatch},
		Output:  o.Output,
		BaseURL: o.BaseURL, RawAuth: o.AuthScheme == "raw", Header: o.Header.h,
		Concurrency: o.Concurrency, MaxAttempts: o.MaxAttempts, Timeout: o.Timeout, DrainTimeout: o.DrainTimeout,
		RPM: o.RPM, TPM: o.TPM,
		Force: o.Force, RetryFailed: o.RetryFailed, Strict: o.Strict, Logger: logger,
	}
	if err := o.buildConfig(&cfg, "run"); err != nil {
		return exitCode(err, nil, env)
	}
	if err := checkKeepColumns(&cfg, "run"); err != nil {
		return exitCode(err, nil, env)
	}
	cfg.MaxCost = o.MaxCost.m
	cfg.Limit = o.Limit
	if err := o.Mode.apply(&cfg, &o); err != nil {
		return exitCode(err, nil, env)
	}
	o.answers.apply(&cfg)
	if err := o.Shards.apply(&cfg); err != nil {
		return exitCode(err, nil, env)
	}
	if o.Sim {
		simCfg := demoSim(o.SimSeed, o.SimLatency, o.SimFaults)
		o.Mode.simConfig(&simCfg)
		srv := sim.New(simCfg)
		base, err := srv.Start("127.0.0.1:0")
		if err != nil {
			return exitCode(fmt.Errorf("start the simulated endpoint: %w", err), nil, env)
		}
		defer srv.Close()
		cfg.BaseURL = base
		if cfg.Model == "" {
			cfg.Model = "gpt-5-mini"
			if o.Endpoint == "embeddings" {
				cfg.Model = "text-embedding-3-small"
			}
		}
		logger.Info("using the simulated endpoint", "url", base, "model", cfg.Model)
	} else {
		cfg.APIKey = env.getenv(o.APIKeyEnv)
		cfg.Header = withSDKHeaders(cfg.Header, env.getenv)
		if cfg.APIKey == "" {
			return exitCode(usagef("run: no API key: set %s (or use --sim to try the simulated endpoint)", o.APIKeyEnv), nil, env)
		}
		// Everything printed from here on (logs, progress, errors) has
		// the key removed, should an endpoint echo it.
		if red := secret.NewRedactor(cfg.APIKey); red != nil {
			env.stderr = &secret.Writer{W: env.stderr, R: red}
			logger = newLogger(env, o.LogFormat, o.Quiet)
			cfg.Logger = logger
			if o.LogFormat == "json" {
				env.log = logger
			}
		}
	}
	if o.DryRun {
		return exitCode(pipeline.DryRun(ctx, cfg, env.stdout), nil, env)
	}
	var p *progress
	if !o.Quiet {
		p = newProgress(env, logger, o.LogFormat == "json")
		p.limit = o.Limit
		if o.Mode.Mode == modeBatch {
			p.tier = batchapi.Tier
		}
		cfg.Progress = p.update
		cfg.ProgressInterval = p.interval
		if w := p.logWriter(env.stderr); w != env.stderr {
			// Log lines and notices erase the status line first.
			env.stderr = w
			logger = newLogger(env, o.LogFormat, o.Quiet)
			cfg.Logger = logger
		}
	}
	var batchExec *batchapi.Executor
	if o.Mode.Mode == modeBatch {
		if batchExec, err = o.Mode.batch.apply(&cfg, &o, cfg.Logger); err != nil {
			return exitCode(err, nil, env)
		}
	}
	env.quit.setLine(func() { quitNotice(env, p) })
	defer env.quit.setLine(nil)
	stopMetrics, err := startMetrics(o.Metrics, &cfg, logger)
	if err != nil {
		return exitCode(err, nil, env)
	}
	defer stopMetrics()
	noticed := make(chan struct{})
	stopNotice := context.AfterFunc(ctx, func() { o.Mode.notice(env); close(noticed) })
	sum, err := pipeline.Run(ctx, cfg)
	if !stopNotice() {
		<-noticed // the notice comes before the closing lines and the exit line
	}
	if sum != nil && !o.Quiet {
		if env.log != nil {
			logDone(logger, &o, sum, p.final())
		} else {
			printDone(env, &o, sum, p.final())
		}
		o.Mode.done(env, sum)
	}
	if batchExec != nil {
		batchDone(env, &o, batchExec)
	}
	return exitCode(err, sum, env)
}

// interruptNotice says what the first interruption (Ctrl-C, SIGTERM,
// SIGHUP) of a job does.
func interruptNotice(env environ) {
	const msg = "interrupted: no new requests; waiting for those in flight (at most --drain-timeout); interrupt again to quit at once"
	if env.log != nil {
		env.log.Warn(msg)
		return
	}
	fmt.Fprintln(env.stderr, "llmbatch: "+msg)
}

// quitNotice is the line a second interruption prints before the process
// exits 130 at once.
func quitNotice(env environ, p *progress) {
	const msg = "interrupted again: quitting now; the journal keeps every finished row: re-run the same command to resume"
	if p != nil {
		p.quit()
	}
	if env.log != nil {
		env.log.Warn(msg, "exit_status", exitInterrupted)
		return
	}
	fmt.Fprintln(env.stderr, "llmbatch: "+msg)
}

// demoSim is the simulated endpoint of "run --sim": some latency and,
// unless faults are off, a few rate limits and server errors, so that the
// demo shows retries.
func demoSim(seed int64, latency time.Duration, faults bool) sim.Config {
	cfg := sim.Config{Seed: seed, Latency: latency, LatencyJitter: 3 * latency}
	if faults {
		cfg.RateLimit, cfg.ServerError, cfg.RetryAfter = 0.04, 0.03, 300*time.Millisecond
	}
	return cfg
}

// newLogger logs to stderr; quiet keeps only warnings and errors.
func newLogger(env environ, format string, quiet bool) *slog.Logger {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	if quiet {
		opts.Level = slog.LevelWarn
	}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(env.stderr, opts))
	}
	return slog.New(slog.NewTextHandler(env.stderr, opts))
}

// runRows is how many rows this run finished: the final snapshot's count
// (a row re-asked has several records), else the records it journalled.
func runRows(s *results.Summary, f pipeline.Progress) int64 {
	if f.Final {
		return f.Finished
	}
	return s.Run.Recorded
}

// printDone prints the closing lines: what this run did (rows it
// journalled, requests, retries, 429s, its cost, its time), then the
// journal's totals over every run (rows by state, tokens, cost). f is
// the run's final progress snapshot, for this run's cost.
func printDone(env environ, o *runOptions, s *results.Summary, f pipeline.Progress) {
	u := s.Usage.Total
	fmt.Fprintf(env.stderr, "this run: %s finished, %d requests, %d retries, %d rate-limited (429)",
		rowsN(runRows(s, f)), s.Run.Requests, s.Run.Retries, s.Run.RateLimited)
	if f.Final {
		fmt.Fprintf(env.stderr, ", cost %s", f.RunCost)
	}
	fmt.Fprintf(env.stderr, ", in %.1fs\n", s.Run.WallSeconds)
	fmt.Fprintf(env.stderr, "journal total: %d ok, %d failed, %d to retry", s.Rows.OK, s.Rows.Failed, s.Rows.Retryable)
	if s.Rows.Pending > 0 {
		fmt.Fprintf(env.stderr, ", %d pending", s.Rows.Pending)
	}
	if s.Rows.Skipped > 0 {
		fmt.Fprintf(env.stderr, " (%d done earlier, skipped)", s.Rows.Skipped)
	}
	fmt.Fprintf(env.stderr, "\n  tokens: %d input (%d cached), %d output (%d reasoning)\n",
		u.InputTokens, u.CachedInputTokens, u.OutputTokens, u.ReasoningTokens)
	printCost(env, "  cost: ", s.Cost)
	printAnswers(env, s)
	journal := o.Shards.journal(o.Output)
	fmt.Fprintf(env.stderr, "journal: %s  summary: %s\n", journal, results.SummaryPath(journal))
	if o.Limit > 0 && s.Rows.Pending > 0 {
		fmt.Fprintf(env.stderr, "--limit %d: %s not read yet: re-run without --limit (or with a higher one) to continue\n", o.Limit, rowsN(s.Rows.Pending))
	}
	if s.Rows.Retryable > 0 {
		fmt.Fprintf(env.stderr, "%s ran out of attempts on transient errors: re-run the same command to send them again\n", rowsN(s.Rows.Retryable))
	}
	if s.Rows.Failed > 0 {
		fmt.Fprintf(env.stderr, "%s failed for good: see their \"error\" in the journal; --retry-failed sends them again\n", rowsN(s.Rows.Failed))
	}
}

// journalExt reports whether name may be a results journal: .jsonl,
// .ndjson, or no extension at all.
func journalExt(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case "", ".jsonl", ".ndjson":
		return true
	}
	return false
}

// exportHint is the export command that turns the journal into what -o
// named.
func exportHint(out string) string {
	ext := strings.ToLower(filepath.Ext(out))
	journal := strings.TrimSuffix(out, filepath.Ext(out)) + ".jsonl"
	if ext == ".csv" || ext == ".parquet" {
		return "llmbatch export " + journal + " -o " + out
	}
	return "llmbatch export " + journal + " -o FILE.csv|FILE.parquet"
}

// splitList splits a comma-separated list, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func or(s, def string) string {
	if s != "" {
		return s
	}
	return def
}

// rowsN is "1 row" or "N rows".
func rowsN(n int64) string {
	if n == 1 {
		return "1 row"
	}
	return fmt.Sprintf("%d rows", n)
}
