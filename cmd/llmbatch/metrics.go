package main

import (
	"log/slog"

	"github.com/llmbatch/llmbatch/pipeline"
	"github.com/llmbatch/llmbatch/pipeline/metrics"
)

// startMetrics serves the job's Prometheus metrics on addr (--metrics-addr)
// and makes them cfg's Observer. It returns the function that stops the
// server; with no addr it does nothing.
func startMetrics(addr string, cfg *pipeline.Config, logger *slog.Logger) (stop func(), err error) {
	if addr == "" {
		return func() {}, nil
	}
	m := metrics.New(cfg.ShardIndex, cfg.Shards)
	bound, stop, err := m.Serve(addr)
	if err != nil {
		return nil, usagef("run: --metrics-addr %s: %v", addr, err)
	}
	cfg.Observer = m
	logger.Info("serving metrics", "url", "http://"+bound+"/metrics")
	return stop, nil
}
