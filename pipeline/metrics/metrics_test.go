package metrics_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/llmbatch/llmbatch/io/sim"
	"github.com/llmbatch/llmbatch/pipeline"
	"github.com/llmbatch/llmbatch/pipeline/metrics"
)

// scrape GETs url and parses the text exposition format.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse the scrape: %v", err)
	}
	return fams
}

// value returns the value of the metric of family name whose labels
// include want, or -1 when there is none; it checks the shard labels.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, want ...string) float64 {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		return -1
	}
next:
	for _, m := range f.Metric {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["shard"] != "2" || labels["shards"] != "4" {
			t.Errorf("%s: labels %v, want shard 2 of 4", name, labels)
		}
		for i := 0; i+1 < len(want); i += 2 {
			if labels[want[i]] != want[i+1] {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return -1
}

// TestMetrics_ScrapedDuringAJob runs shard 2 of 4 of a job against the
// simulator (a few 429s and 500s, a requests-per-minute limit) with its
// metrics served over loopback, scrapes and parses them while the job
// runs and once it has ended, and checks them against the job's summary
// and the simulator's own counts.
func TestMetrics_ScrapedDuringAJob(t *testing.T) {
	srv := sim.New(sim.Config{Seed: 9, Latency: 30 * time.Millisecond, RateLimit: 0.05, ServerError: 0.03, RetryAfter: 20 * time.Millisecond})
	base, err := srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	dir := t.TempDir()
	in := filepath.Join(dir, "in.jsonl")
	var b strings.Builder
	for i := range 400 {
		fmt.Fprintf(&b, "{\"id\":\"k%03d\",\"text\":\"review %d\"}\n", i, i)
	}
	os.WriteFile(in, []byte(b.String()), 0o600)

	m := metrics.New(2, 4)
	addr, stop, err := m.Serve("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	url := "http://" + addr + "/metrics"
	if fams := scrape(t, url); value(t, fams, "llmbatch_rows", "outcome", "ok") != -1 {
		t.Errorf("rows before the job started: %v", fams["llmbatch_rows"])
	}

	cfg := pipeline.Config{Source: pipeline.Source{Input: in}, Template: pipeline.Template{Model: "gpt-5-mini", IDColumn: "id"},
		Output: filepath.Join(dir, "results.jsonl"), BaseURL: base, Concurrency: 4, RPM: 24000, RetryInitial: 10 * time.Millisecond,
		Shards: 4, ShardIndex: 2, Observer: m}
	type result struct {
		ok, total int64
		err       error
	}
	done := make(chan result, 1)
	go func() {
		sum, err := pipeline.Run(context.Background(), cfg)
		var ok, total int64
		if sum != nil {
			ok, total = sum.Rows.OK, sum.Rows.Total
		}
		done <- result{ok, total, err}
	}()
	var during int
	var sawInFlight bool
	var res result
wait:
	for {
		select {
		case res = <-done:
			break wait
		case <-time.After(50 * time.Millisecond):
		}
		fams := scrape(t, url)
		if ok := value(t, fams, "llmbatch_rows", "outcome", "ok"); ok > 0 && ok < 90 {
			during++
		}
		sawInFlight = sawInFlight || value(t, fams, "llmbatch_requests_in_flight") > 0
		if got := value(t, fams, "llmbatch_pace_limit", "kind", "requests_per_minute"); got >= 0 && got != 6000 {
			t.Errorf("pace limit %v, want 24000/4 shards = 6000", got)
		}
	}
	if res.err != nil {
		t.Fatal(res.err)
	}
	if during == 0 || !sawInFlight {
		t.Errorf("no scrape saw the job under way (%d with rows ok in (0, 90); requests in flight seen: %v)", during, sawInFlight)
	}

	fams := scrape(t, url)
	st := srv.Stats()
	checks := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"llmbatch_rows", []string{"outcome", "ok"}, float64(res.ok)},
		{"llmbatch_rows", []string{"outcome", "pending"}, 0},
		{"llmbatch_input_rows", nil, float64(res.total)},
		{"llmbatch_requests_total", []string{"status", "200"}, float64(st.ByStatus[200])},
		{"llmbatch_requests_total", []string{"status", "429"}, float64(st.ByStatus[429])},
		{"llmbatch_rate_limited_total", nil, float64(st.ByStatus[429])},
		{"llmbatch_retries_total", nil, float64(st.Requests) - float64(res.total)},
		{"llmbatch_tokens_total", []string{"kind", "input"}, float64(st.InputTokens)},
		{"llmbatch_tokens_total", []string{"kind", "output"}, float64(st.OutputTokens)},
		{"llmbatch_request_duration_seconds", nil, float64(st.Requests)},
		{"llmbatch_requests_in_flight", nil, 0},
	}
	for _, c := range checks {
		if got := value(t, fams, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	// Shard 2 of 4 holds the third quarter of the input's bytes.
	if res.ok != res.total || res.total < 90 || res.total > 110 || st.ByStatus[429] == 0 {
		t.Errorf("%d rows ok of %d (want about 100), %d 429s (want some)", res.ok, res.total, st.ByStatus[429])
	}
	if cost := value(t, fams, "llmbatch_cost_usd_total"); cost <= 0 {
		t.Errorf("cost %v", cost)
	}
}
