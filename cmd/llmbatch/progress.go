package main

import (
	"fmt"
	"io"
	"log/slog"
	"math"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/llmbatch/llmbatch/pipeline"
)

// progress shows a job's progress: a bar on a terminal, else (and always
// with --log-format json) a log line every 10 seconds.
type progress struct {
	interval time.Duration
	bar      *progressbar.ProgressBar
	logger   *slog.Logger
	max      int64
	w        io.Writer
	json     bool // log lines for --log-format json: numbers as numbers, ETA
	// tier names the price tier of the job's mode ("batch"): its cost
	// is shown as at that tier's prices.
	tier string
}

func newProgress(env environ, logger *slog.Logger, json bool) *progress {
	if !env.isTTY() || json { // a bar is no JSON line
		return &progress{interval: 10 * time.Second, logger: logger, json: json}
	}
	bar := progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(env.stderr),
		progressbar.OptionSetDescription("rows"),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("rows"),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionShowDescriptionAtLineEnd(),
		progressbar.OptionFullWidth(),
	)
	return &progress{interval: 250 * time.Millisecond, bar: bar, max: -1, w: env.stderr}
}

func (p *progress) update(s pipeline.Progress) {
	if p.bar == nil && p.json {
		r := rate(s)
		attrs := []any{"done", s.Done, "total", s.Total, "ok", s.OK, "failed", s.Failed, "retryable", s.Retryable,
			"skipped", s.Skipped, "in_flight", s.InFlight, "requests", s.Requests, "retries", s.Retries,
			"rate_limited", s.RateLimited, "input_tokens", s.Usage.InputTokens, "output_tokens", s.Usage.OutputTokens}
		attrs = append(attrs, costAttrs(s.Cost)...)
		if p.tier != "" {
			attrs = append(attrs, "prices", p.tier)
		}
		attrs = append(attrs, "elapsed_seconds", round1(s.Elapsed.Seconds()), "rows_per_s", round1(r))
		if left := s.Total - s.Done - s.Retryable; s.Total >= 0 && left >= 0 && (r > 0 || left == 0) {
			eta := 0.0
			if left > 0 {
				eta = float64(left) / r
			}
			attrs = append(attrs, "eta_seconds", round1(eta))
		}
		p.logger.Info("progress", attrs...)
		return
	}
	if p.bar == nil {
		p.logger.Info("progress", "done", s.Done, "total", s.Total, "ok", s.OK, "failed", s.Failed,
			"in_flight", s.InFlight, "requests", s.Requests, "retries", s.Retries, "rate_limited", s.RateLimited,
			"input_tokens", s.Usage.InputTokens, "output_tokens", s.Usage.OutputTokens, "cost", p.cost(s),
			"rows_per_s", fmt.Sprintf("%.1f", rate(s)))
		return
	}
	if s.Total >= 0 && s.Total != p.max {
		p.max = s.Total
		p.bar.ChangeMax64(s.Total)
	}
	p.bar.Describe(fmt.Sprintf("tok %s in / %s out · %s · retries %d · 429s %d · failed %d",
		short(s.Usage.InputTokens), short(s.Usage.OutputTokens), p.cost(s), s.Retries, s.RateLimited, s.Failed+s.Retryable))
	p.bar.Set64(s.Done + s.Retryable)
	if s.Final {
		p.bar.Exit()
		fmt.Fprintln(p.w)
	}
}

func rate(s pipeline.Progress) float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Done-s.Skipped) / s.Elapsed.Seconds()
}

func short(n int64) string {
	switch {
	case n >= 10_000_000:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 10_000:
		return fmt.Sprintf("%dk", n/1000)
	}
	return fmt.Sprint(n)
}

// round1 rounds x to one decimal.
func round1(x float64) float64 { return math.Round(x*10) / 10 }

// cost is the progress's cost, "$0.51 (batch prices)" in a tier's mode.
func (p *progress) cost(s pipeline.Progress) string {
	if p.tier != "" {
		return s.Cost.String() + " (" + p.tier + " prices)"
	}
	return s.Cost.String()
}
