package main

import (
	"bytes"
	"context"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/llmbatch/llmbatch/io/prices"
	"github.com/llmbatch/llmbatch/io/sim"
	"github.com/llmbatch/llmbatch/pipeline"
)

// ttyRun runs "llmbatch run" as on a terminal whose width is width(),
// and returns the exit status and stderr.
func ttyRun(t *testing.T, width func() int, args ...string) (int, string) {
	t.Helper()
	env, _, _ := testEnv(map[string]string{"OPENAI_API_KEY": "sk-test-tty-0123456789"})
	stderr := new(syncBuffer)
	env.stderr = stderr
	env.isTTY = func() bool { return true }
	env.termWidth = width
	return run(context.Background(), args, env), stderr.String()
}

// statusLines returns the status lines drawn on stderr (each "\r" starts
// one), without their erase-to-end-of-line.
func statusLines(stderr string) []string {
	var out []string
	for _, seg := range strings.Split(stderr, "\r")[1:] {
		seg, _, _ = strings.Cut(seg, "\n")
		seg = strings.TrimSuffix(seg, "\x1b[0K") // progressbar's erase to the end of the line
		if seg = strings.TrimSuffix(seg, "\x1b[K"); seg != "" {
			out = append(out, seg)
		}
	}
	return out
}

// On a terminal 60 columns wide, then resized to 120 mid-run, every
// redraw fits the width it was drawn at: the line never wraps, so it
// never scrolls. The width is read again at each redraw.
func TestRun_StatusLineFitsTheTerminal(t *testing.T) {
	dir := t.TempDir()
	in := writeRows(t, dir, 120)
	_, base := startTestSim(t, sim.Config{Seed: 1, Latency: 10 * time.Millisecond, RateLimit: 0.1, RetryAfter: 50 * time.Millisecond})
	var (
		mu     sync.Mutex
		widths []int
	)
	width := func() int {
		mu.Lock()
		defer mu.Unlock()
		w := 60
		if len(widths) >= 3 {
			w = 120 // resized
		}
		widths = append(widths, w)
		return w
	}
	args := jobArgs(in, filepath.Join(dir, "r.jsonl"), base, "--concurrency", "2", "--quiet=false")
	code, stderr := ttyRun(t, width, args...)
	if code != exitOK {
		t.Fatalf("exit %d; stderr:\n%q", code, stderr)
	}
	lines := statusLines(stderr)
	if len(lines) != len(widths) || len(lines) < 5 {
		t.Fatalf("%d status lines for %d width reads, want as many and at least 5; stderr:\n%q", len(lines), len(widths), stderr)
	}
	for i, l := range lines {
		if n := utf8.RuneCountInString(l); n > widths[i]-freeCols {
			t.Errorf("status line %d is %d columns on a %d-column terminal: %q", i, n, widths[i], l)
		}
	}
	// Only the final redraw ends its line; the closing lines follow.
	if i := strings.Index(stderr, "\n"); i < strings.LastIndex(stderr, "\r") {
		t.Errorf("a newline before the last redraw: the status line scrolled:\n%q", stderr)
	}
	if !strings.Contains(lines[0], "/120 · ") || !strings.HasPrefix(lines[len(lines)-1], " 100% [====") || !strings.Contains(lines[len(lines)-1], "]  120/120 · ") {
		t.Errorf("first %q, last %q: want the rows done of 120", lines[0], lines[len(lines)-1])
	}
	if wide := lines[len(lines)-1]; !strings.Contains(wide, "[====") || !strings.Contains(wide, "$") {
		t.Errorf("at 120 columns the final line has no bar or no cost: %q", wide)
	}
	t.Logf("60 columns: %q", lines[0])
	t.Logf("120 columns: %q", lines[len(lines)-1])
}

var rateRE = regexp.MustCompile(` ([0-9.]+)/s`)

// After a resume the rate counts only this run's rows: 290 rows finished
// earlier and skipped do not make a run sending 10, one at a time at
// ~50ms each, look like hundreds of rows a second. The closing lines
// tell this run (10 rows, its cost) from the journal total (300 rows).
func TestRun_ResumeRateCountsThisRunOnly(t *testing.T) {
	dir := t.TempDir()
	in := writeRows(t, dir, 300)
	out := filepath.Join(dir, "r.jsonl")
	_, fast := startTestSim(t, sim.Config{Seed: 1})
	code, errs := ttyRun(t, nil, jobArgs(in, out, fast, "--limit", "290", "--quiet=false")...)
	if code != exitOK {
		t.Fatalf("first run: exit %d; stderr:\n%s", code, errs)
	}
	// With --limit the line counts toward the rows the run reads.
	if l := statusLines(errs); len(l) == 0 || !strings.Contains(l[len(l)-1], " 100% [") || !strings.Contains(l[len(l)-1], "]  290/290 · ") {
		t.Errorf("--limit 290: status lines %q, want the last at 100%% of 290", l)
	}
	_, slow := startTestSim(t, sim.Config{Seed: 1, Latency: 50 * time.Millisecond})
	code, stderr := ttyRun(t, func() int { return 200 }, jobArgs(in, out, slow, "--concurrency", "1", "--quiet=false")...)
	if code != exitOK {
		t.Fatalf("resume: exit %d; stderr:\n%q", code, stderr)
	}
	lines := statusLines(stderr)
	if len(lines) < 2 {
		t.Fatalf("%d status lines; stderr:\n%q", len(lines), stderr)
	}
	for _, l := range lines {
		m := rateRE.FindStringSubmatch(l)
		if m == nil {
			continue // per minute: slow, as it should be
		}
		// One request at a time, each at least 50ms: 20 rows/s at most.
		if r, _ := strconv.ParseFloat(m[1], 64); r > 20 {
			t.Errorf("rate %s/s with one 50ms request at a time: %q", m[1], l)
		}
	}
	closing := stderr[strings.LastIndex(stderr, "\r"):]
	for _, want := range []string{
		"\nthis run: 10 rows finished, 10 requests, 0 retries, 0 rate-limited (429), cost $",
		"\njournal total: 300 ok, 0 failed, 0 to retry (290 done earlier, skipped)\n",
	} {
		if !strings.Contains(closing, want) {
			t.Errorf("closing lines lack %q:\n%s", want, closing)
		}
	}
}

// The rate is this run's rows over about the last 30 seconds: it starts
// as the run's average, and a pause (429s with a long Retry-After)
// lowers it gradually rather than to nothing, so the ETA stays.
func TestEWMARate_SmoothsAPause(t *testing.T) {
	var e ewmaRate
	var r float64
	// 60s at 10 rows/s, observed every 250ms.
	for i := 1; i <= 240; i++ {
		r = e.observe(int64(i*10/4), time.Duration(i)*250*time.Millisecond)
	}
	if r < 9.5 || r > 10.5 {
		t.Fatalf("steady rate = %.2f, want 10", r)
	}
	// A 10s pause: nothing finishes.
	for i := 241; i <= 280; i++ {
		r = e.observe(600, time.Duration(i)*250*time.Millisecond)
	}
	if r < 5 || r > 8 {
		t.Errorf("rate after a 10s pause = %.2f, want it lowered, not gone (5..8)", r)
	}
	eta, ok := etaOf(pipeline.Progress{Total: 1000, Done: 600}, r)
	if !ok || eta < 50*time.Second || eta > 80*time.Second {
		t.Errorf("ETA after the pause = %v, %v; want about a minute", eta, ok)
	}
	// The first observation is the run's average.
	var f ewmaRate
	if r := f.observe(20, 2*time.Second); r != 10 {
		t.Errorf("first rate = %v, want 10", r)
	}
}

// Narrow terminals drop fields, least useful first; wide ones show all of
// them and a bar. The line is progressbar's, drawn with the width and the
// description fitted.
func TestStatusLine_DropsFieldsToFit(t *testing.T) {
	s := pipeline.Progress{Total: 12000, Done: 1234, Failed: 3, OK: 1231, Skipped: 800, Finished: 434, InFlight: 16,
		Retries: 12, RateLimited: 9, Cost: prices.Cost{Known: true, Amount: usd(t, "0.0123")},
		Elapsed: 90 * time.Second}
	s.Usage.InputTokens, s.Usage.OutputTokens = 123456, 45678
	for _, tc := range []struct {
		width      int
		want, lack []string
	}{
		{40, []string{"  10%   1,234/12,000 · 4.8/s"}, []string{"[", "tok", "in flight"}},
		{60, []string{"  10%   1,234/12,000 · 4.8/s · ETA 3m7s · 16 in flight"}, []string{"[", "tok", "retries"}},
		{120, []string{"  10% [>", "]  1,234/12,000 · 4.8/s · ETA 3m7s · 16 in flight · 3 failed · $0.012300 · 429s 9 · retries 12"}, []string{"tok"}},
		{200, []string{"tok 123k/45k", "800 done earlier"}, nil},
		{80, []string{"1,234 rows  4.8/s · 16 in flight"}, []string{"[", "%", "ETA"}},
	} {
		var buf bytes.Buffer
		if tc.width == 80 { // stdin: no total
			u := s
			u.Total = -1
			drawStatus(&buf, u, 4.82, 0, false, tc.width)
		} else {
			drawStatus(&buf, s, 4.82, 3*time.Minute+7*time.Second, true, tc.width)
		}
		lines := statusLines(buf.String())
		if len(lines) != 1 {
			t.Fatalf("width %d: drew %q, want one line", tc.width, buf.String())
		}
		l := lines[0]
		if n := utf8.RuneCountInString(l); n > tc.width-freeCols {
			t.Errorf("width %d: %d columns: %q", tc.width, n, l)
		}
		for _, w := range tc.want {
			if !strings.Contains(l, w) {
				t.Errorf("width %d: %q lacks %q", tc.width, l, w)
			}
		}
		for _, w := range tc.lack {
			if strings.Contains(l, w) {
				t.Errorf("width %d: %q has %q", tc.width, l, w)
			}
		}
	}
}

// A second interruption prints one line saying the journal is
// resumable and how, then exits 130 at once (main's quitter; here its
// exit is recorded instead).
func TestRun_SecondInterruptPrintsOneLine(t *testing.T) {
	dir := t.TempDir()
	in := writeRows(t, dir, 50)
	out := filepath.Join(dir, "r.jsonl")
	_, base := startTestSim(t, sim.Config{Seed: 1, Latency: 2 * time.Second})
	env, _, _ := testEnv(map[string]string{"OPENAI_API_KEY": jsonTestKey})
	stderr := new(syncBuffer)
	env.stderr = stderr
	env.isTTY = func() bool { return true }
	env.termWidth = func() int { return 80 }
	exited := make(chan int, 1)
	env.quit = &quitter{w: stderr, exit: func(code int) { exited <- code }}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append(jobArgs(in, out, base), "--concurrency", "2", "--quiet=false", "--drain-timeout", "200ms"), env)
	}()
	time.Sleep(300 * time.Millisecond) // a few redraws
	cancel()
	for !strings.Contains(stderr.String(), "interrupt again") {
		time.Sleep(5 * time.Millisecond)
	}
	env.quit.quit()
	if code := <-exited; code != exitInterrupted {
		t.Errorf("exit status %d, want %d", code, exitInterrupted)
	}
	<-done
	s := stderr.String()
	const want = "\nllmbatch: interrupted again: quitting now; the journal keeps every finished row: re-run the same command to resume\n"
	if strings.Count(s, "interrupted again") != 1 || !strings.Contains(s, want) {
		t.Errorf("stderr lacks one line %q:\n%q", want, s)
	}
}

func usd(t *testing.T, s string) prices.Money {
	t.Helper()
	m, err := prices.ParseUSD(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
