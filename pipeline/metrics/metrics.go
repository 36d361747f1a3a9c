// Package metrics serves a job's metrics to Prometheus: a pipeline.Observer
// that keeps what only each attempt tells (requests by status, latency)
// and reads the rest from the job's progress when it is scraped (rows by
// outcome, retries, 429s, tokens by kind, cost, requests in flight, the
// pacer's limits). Every metric carries the labels shard and shards (the
// job's pipeline.Config.ShardIndex and Shards; "0" and "1" unsharded), so
// that the pods of one job sum up in one query:
//
//	sum by (outcome) (llmbatch_rows{job="reviews"})
//
// Metrics, all prefixed llmbatch_:
//
//	rows{outcome}                  gauge: rows by their journal state, earlier runs included:
//	                               ok, failed, retryable (sent again on resume), pending (unknown: absent), skipped (finished earlier, by this run)
//	input_rows                     gauge: rows in this shard's input (absent while unknown)
//	requests_total{status}         counter: attempts by HTTP status ("200", "429", ...; "none": no answer)
//	retries_total                  counter: attempts after a row's first
//	rate_limited_total             counter: 429 answers
//	tokens_total{kind}             counter: input, cached_input, output, reasoning (the journal's, earlier runs included)
//	cost_usd_total                 counter: the journal's cost (absent while a model has no price)
//	requests_in_flight             gauge
//	request_duration_seconds       histogram: from send to answer or error
//	pace_limit{kind}               gauge: requests_per_minute, tokens_per_minute the pacer paces to (0: none)
//	pace_window                    gauge: attempts the pacer lets be in flight
package metrics

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/llmbatch/llmbatch/io/prices"
	"github.com/llmbatch/llmbatch/pipeline"
)

// Metrics is one job's metrics. Set it as pipeline.Config.Observer and
// serve Handler (or call Serve).
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  prometheus.Histogram

	mu       sync.Mutex
	snapshot func() pipeline.Progress // nil until the job starts
}

// New returns the metrics of shard index of shards (0 and 1 for a job
// that is not sharded).
func New(index, shards int) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	labels := prometheus.Labels{"shard": strconv.Itoa(index), "shards": strconv.Itoa(max(shards, 1))}
	reg := prometheus.WrapRegistererWith(labels, m.reg)
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "llmbatch_requests_total",
		Help: "Attempts sent, by the HTTP status of their answer (none: no answer)."}, []string{"status"})
	m.latency = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "llmbatch_request_duration_seconds",
		Help:    "Time from an attempt's send to its answer or error.",
		Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120, 300, 600}})
	reg.MustRegister(m.requests, m.latency, (*collector)(m))
	return m
}

// Start implements pipeline.Observer.
func (m *Metrics) Start(snapshot func() pipeline.Progress) {
	m.mu.Lock()
	m.snapshot = snapshot
	m.mu.Unlock()
}

// Attempt implements pipeline.Observer.
func (m *Metrics) Attempt(a pipeline.Attempt) {
	status := "none"
	if a.Status > 0 {
		status = strconv.Itoa(a.Status)
	}
	m.requests.WithLabelValues(status).Inc()
	m.latency.Observe(a.Latency.Seconds())
}

// Handler serves the metrics in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Serve listens on addr (host:port; ":9090" for every interface) and
// serves the metrics on /metrics until ctx ends. It returns the address
// listened on once listening, and a function that stops the server.
func (m *Metrics) Serve(addr string) (bound string, stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", m.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return
		}
	}()
	return ln.Addr().String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
	}, nil
}

// collector reads the job's progress at each scrape.
type collector Metrics

var (
	descRows     = prometheus.NewDesc("llmbatch_rows", "Rows by their state in the journal (earlier runs included); skipped: finished earlier, skipped by this run.", []string{"outcome"}, nil)
	descInput    = prometheus.NewDesc("llmbatch_input_rows", "Rows in this shard's input.", nil, nil)
	descRetries  = prometheus.NewDesc("llmbatch_retries_total", "Attempts after a row's first.", nil, nil)
	descLimited  = prometheus.NewDesc("llmbatch_rate_limited_total", "429 answers.", nil, nil)
	descTokens   = prometheus.NewDesc("llmbatch_tokens_total", "Tokens in the journal's usage (earlier runs included), by kind.", []string{"kind"}, nil)
	descCost     = prometheus.NewDesc("llmbatch_cost_usd_total", "The journal's cost in USD (earlier runs included); absent while a model has no price.", nil, nil)
	descInFlight = prometheus.NewDesc("llmbatch_requests_in_flight", "Requests in flight.", nil, nil)
	descLimit    = prometheus.NewDesc("llmbatch_pace_limit", "The limits the pacer paces to (0: none).", []string{"kind"}, nil)
	descWindow   = prometheus.NewDesc("llmbatch_pace_window", "Attempts the pacer lets be in flight.", nil, nil)
)

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRows, descInput, descRetries, descLimited, descTokens, descCost, descInFlight, descLimit, descWindow} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	snap := c.snapshot
	c.mu.Unlock()
	if snap == nil {
		return // not started
	}
	p := snap()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	gauge(descRows, float64(p.OK), "ok")
	gauge(descRows, float64(p.Failed), "failed")
	gauge(descRows, float64(p.Retryable), "retryable")
	gauge(descRows, float64(p.Skipped), "skipped")
	if p.Total >= 0 {
		gauge(descRows, float64(max(p.Total-p.OK-p.Failed-p.Retryable, 0)), "pending")
		gauge(descInput, float64(p.Total))
	}
	counter(descRetries, float64(p.Retries))
	counter(descLimited, float64(p.RateLimited))
	u := p.Usage
	counter(descTokens, float64(u.InputTokens), "input")
	counter(descTokens, float64(u.CachedInputTokens), "cached_input")
	counter(descTokens, float64(u.OutputTokens), "output")
	counter(descTokens, float64(u.ReasoningTokens), "reasoning")
	if p.Cost.Known {
		counter(descCost, float64(p.Cost.Amount)/float64(prices.Dollar))
	}
	gauge(descInFlight, float64(p.InFlight))
	gauge(descLimit, float64(p.PaceRPM), "requests_per_minute")
	gauge(descLimit, float64(p.PaceTPM), "tokens_per_minute")
	gauge(descWindow, float64(p.PaceWindow))
}
