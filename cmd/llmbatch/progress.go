package main

import (
	"fmt"
	"io"
	"log/slog"
	"math"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/schollz/progressbar/v3"

	"github.com/llmbatch/llmbatch/pipeline"
)

// progress shows a job's progress: a one-line status on a terminal, else
// (and always with --log-format json) a log line every 10 seconds.
//
// The status line is a progressbar (schollz/progressbar/v3) redrawn in
// place and fitted to the terminal's width, read again at every redraw so that
// a resize is followed: fields are dropped, least useful first, rather
// than letting the line wrap (a wrapped line scrolls at every redraw).
// The rate and the ETA count only the rows this run journalled (not
// those a resume skipped) and are smoothed over about the last 30
// seconds, so that a pause for 429s bends the ETA instead of blanking it.
type progress struct {
	interval time.Duration
	logger   *slog.Logger
	json     bool // log lines for --log-format json: numbers as numbers, ETA

	limit int64 // --limit: the rows this job reads at most (0: all)

	w     io.Writer  // where the status line goes; nil: log lines
	width func() int // the terminal's columns; 0: unknown

	mu    sync.Mutex
	drawn bool // a status line is on the screen, not ended by a newline
	rate  ewmaRate
	last  pipeline.Progress // the latest snapshot (the final one at the end)
	// tier names the price tier of the job's mode ("batch"): its cost
	// is shown as at that tier's prices.
	tier string
}

// rateWindow is about how far back the rate and the ETA look.
const rateWindow = 30 * time.Second

func newProgress(env environ, logger *slog.Logger, json bool) *progress {
	if !env.isTTY() || json { // a status line is no JSON line
		return &progress{interval: 10 * time.Second, logger: logger, json: json}
	}
	width := env.termWidth
	if width == nil {
		width = func() int { return 0 }
	}
	return &progress{interval: 250 * time.Millisecond, w: env.stderr, width: width, logger: logger}
}

// logWriter returns w wrapped so that what is written through it (log
// lines, notices) first erases a status line on the screen; the next
// redraw draws it again below. Without a status line it returns w.
func (p *progress) logWriter(w io.Writer) io.Writer {
	if p.w == nil {
		return w
	}
	return clearingWriter{p: p, w: w}
}

type clearingWriter struct {
	p *progress
	w io.Writer
}

func (c clearingWriter) Write(b []byte) (int, error) {
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	if c.p.drawn {
		io.WriteString(c.p.w, "\r\x1b[K")
		c.p.drawn = false
	}
	return c.w.Write(b)
}

// final returns the last snapshot, the final one once the run ended.
func (p *progress) final() pipeline.Progress {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last
}

// quit ends a status line on the screen with a newline, so that a line
// printed after it starts at the left.
func (p *progress) quit() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		io.WriteString(p.w, "\n")
		p.drawn = false
	}
}

func (p *progress) update(s pipeline.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.limit > 0 && (s.Total < 0 || s.Total > p.limit) {
		s.Total = p.limit // the rows this run reads, not the input's
	}
	p.last = s
	r := p.rate.observe(s.Finished, s.Elapsed)
	eta, etaOK := etaOf(s, r)
	switch {
	case p.w != nil:
		drawStatus(p.w, s, r, eta, etaOK, p.width())
		p.drawn = true
		if s.Final {
			io.WriteString(p.w, "\n")
			p.drawn = false
		}
	case p.json:
		attrs := []any{"done", s.Done, "total", s.Total, "ok", s.OK, "failed", s.Failed, "retryable", s.Retryable,
			"skipped", s.Skipped, "finished_this_run", s.Finished, "in_flight", s.InFlight, "requests", s.Requests, "retries", s.Retries,
			"rate_limited", s.RateLimited, "input_tokens", s.Usage.InputTokens, "output_tokens", s.Usage.OutputTokens}
		attrs = append(attrs, costAttrs(s.Cost)...)
		if p.tier != "" {
			attrs = append(attrs, "prices", p.tier)
		}
		attrs = append(attrs, "elapsed_seconds", round1(s.Elapsed.Seconds()), "rows_per_s", round1(r))
		if etaOK {
			attrs = append(attrs, "eta_seconds", round1(eta.Seconds()))
		}
		p.logger.Info("progress", attrs...)
	default:
		attrs := []any{"done", s.Done, "total", s.Total, "ok", s.OK, "failed", s.Failed,
			"in_flight", s.InFlight, "requests", s.Requests, "retries", s.Retries, "rate_limited", s.RateLimited,
			"input_tokens", s.Usage.InputTokens, "output_tokens", s.Usage.OutputTokens, "cost", p.cost(s),
			"rows_per_s", fmt.Sprintf("%.1f", r)}
		if etaOK {
			attrs = append(attrs, "eta", fmtETA(eta))
		}
		p.logger.Info("progress", attrs...)
	}
}

// ewmaRate is this run's rows per second, exponentially weighted over
// about rateWindow: rows and seconds both decay, and the rate is their
// ratio, so that it starts as the run's average and then follows the
// last half minute or so (a pause lowers it gradually).
type ewmaRate struct {
	rows, secs float64
	lastRows   int64
	lastT      time.Duration
}

// observe takes the rows this run finished by elapsed and returns the
// rate.
func (e *ewmaRate) observe(finished int64, elapsed time.Duration) float64 {
	if dt := (elapsed - e.lastT).Seconds(); dt > 0 {
		d := math.Exp(-dt / rateWindow.Seconds())
		e.rows = e.rows*d + float64(finished-e.lastRows)
		e.secs = e.secs*d + dt
		e.lastRows, e.lastT = finished, elapsed
	}
	if e.secs <= 0 {
		return 0
	}
	return e.rows / e.secs
}

// etaOf is the time the rows left take at rate r; false when unknown (an
// input of unknown length, or no row finished yet).
func etaOf(s pipeline.Progress, r float64) (time.Duration, bool) {
	left := s.Total - s.Done - s.Retryable
	switch {
	case s.Total < 0 || left < 0:
		return 0, false
	case left == 0:
		return 0, true
	case r <= 0:
		return 0, false
	}
	return time.Duration(float64(left) / r * float64(time.Second)), true
}

// The status line is drawn by a progressbar (schollz/progressbar/v3)
// made anew at each redraw with the bar width and the description that
// fit the terminal's width of that moment; the ANSI erase-to-end-of-line
// cleans what a longer line left. Its layout, description at the line's
// end: "NNN% [====    ]  DESCRIPTION " ("  DESCRIPTION " without a bar;
// "COUNT  DESCRIPTION " when the total is unknown).
const (
	pctCols  = 6  // "%4d%% " and the space after the bar
	barExtra = 2  // "[" and "]"
	descPad  = 3  // the (empty) stats' space, one before and one after the description
	minBar   = 10 // a narrower bar is not drawn
	maxBar   = 40
	// freeCols are left free at the line's end: writing the last column
	// makes some terminals wrap, and the "^C" a terminal echoes on an
	// interrupt must fit, or it wraps and the next redraw leaves the old
	// line above.
	freeCols = 3
)

// drawStatus draws the status line on w in at most width-freeCols columns.
func drawStatus(w io.Writer, s pipeline.Progress, rate float64, eta time.Duration, etaOK bool, width int) {
	desc, cells := fitStatus(s, rate, eta, etaOK, width)
	cw := &countingWriter{w: w}
	opts := []progressbar.Option{
		progressbar.OptionSetWriter(cw),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowDescriptionAtLineEnd(),
		progressbar.OptionSetPredictTime(false),       // the ETA is ours, in desc
		progressbar.OptionSetElapsedTime(false),       // so is the time
		progressbar.OptionUseANSICodes(true),          // erase to the end of the line
		progressbar.OptionSetSpinnerChangeInterval(0), // no goroutine of its own
	}
	max := s.Total
	if s.Total <= 0 {
		// Unknown total: the "spinner" is the count of rows done.
		max = -1
		opts = append(opts, progressbar.OptionSpinnerCustom([]string{group(s.Done+s.Retryable) + " rows"}),
			progressbar.OptionSetWidth(1))
	} else if cells > 0 {
		opts = append(opts, progressbar.OptionSetWidth(cells), progressbar.OptionSetTheme(progressbar.Theme{
			Saucer: "=", SaucerHead: ">", SaucerPadding: " ", BarStart: "[", BarEnd: "]"}))
	} else {
		opts = append(opts, progressbar.OptionSetWidth(0), progressbar.OptionSetTheme(progressbar.Theme{}))
	}
	bar := progressbar.NewOptions64(max, opts...)
	if max > 0 {
		bar.Set64(min(s.Done+s.Retryable, max)) // draws once the percent is above 0
	}
	if cw.n == 0 {
		bar.RenderBlank()
	}
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += n
	return n, err
}

// fitStatus returns the description and the bar's width (0: no bar) that
// fit in width-freeCols columns. The fields are kept in order of use — rows done
// of the total, rate, ETA, in flight, failed, cost, the bar, 429s,
// retries, tokens, rows done earlier — and each one that does not fit is
// dropped with all after it; the bar (at least 10 cells) then gets the
// room left.
func fitStatus(s pipeline.Progress, rate float64, eta time.Duration, etaOK bool, width int) (string, int) {
	if width <= 0 {
		width = 80
	}
	limit := width - freeCols
	pos := s.Done + s.Retryable
	known := s.Total > 0
	used := pctCols + descPad
	var count string
	if known {
		count = group(pos) + "/" + group(s.Total)
	} else {
		used = utf8.RuneCountInString(group(pos)+" rows") + descPad // the spinner
	}
	costText := s.Cost.String()
	if !s.Cost.Known {
		costText = "cost unknown"
	}
	etaText := "ETA --"
	if etaOK {
		etaText = "ETA " + fmtETA(eta)
	}
	if s.Final {
		etaText = "in " + fmtETA(s.Elapsed)
	}
	const (
		sep     = " · "
		barCell = "\x00bar" // where the bar's priority is
	)
	type field struct {
		text string
		show bool
	}
	// In order of priority; the description shows them in this order too.
	fields := []field{
		{count, known},
		{fmtRate(rate), true},
		{etaText, s.Total >= 0 || s.Final}, // no ETA without a total (stdin)
		{fmt.Sprintf("%d in flight", s.InFlight), !s.Final},
		{fmt.Sprintf("%d failed", s.Failed+s.Retryable), s.Failed+s.Retryable > 0},
		{costText, true},
		{barCell, known},
		{fmt.Sprintf("429s %d", s.RateLimited), s.RateLimited > 0},
		{fmt.Sprintf("retries %d", s.Retries), s.Retries > 0},
		{fmt.Sprintf("tok %s/%s", short(s.Usage.InputTokens), short(s.Usage.OutputTokens)), true},
		{fmt.Sprintf("%s done earlier", group(s.Skipped)), s.Skipped > 0},
	}
	var kept []string
	bar := 0
	for _, f := range fields {
		if !f.show {
			continue
		}
		n := utf8.RuneCountInString(f.text)
		switch {
		case f.text == barCell:
			n = barExtra + minBar
		case len(kept) > 0:
			n += len([]rune(sep))
		}
		if used+n > limit {
			break // the rest are less useful: drop them too
		}
		used += n
		if f.text == barCell {
			bar = minBar
			continue
		}
		kept = append(kept, f.text)
	}
	if bar > 0 {
		bar = min(bar+limit-used, maxBar)
	}
	return strings.Join(kept, sep), bar
}

// fmtRate is a rate of rows, per second or, when slow, per minute: "4.8/s"
// (the count of rows is next to it).
func fmtRate(r float64) string {
	switch {
	case r >= 100:
		return fmt.Sprintf("%.0f/s", r)
	case r >= 1:
		return fmt.Sprintf("%.1f/s", r)
	case r > 0:
		return fmt.Sprintf("%.1f/min", r*60)
	}
	return "0/s"
}

// fmtETA is a duration to the second (to the minute past an hour).
func fmtETA(d time.Duration) string {
	if d >= time.Hour {
		d = d.Round(time.Minute)
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return d.Round(time.Second).String()
}

// group writes n with thousands separators: 12,345.
func group(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return s
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
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
