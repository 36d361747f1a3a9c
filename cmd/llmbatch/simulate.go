package main

import (
	"context"
	"fmt"
	"net"

	"github.com/llmbatch/llmbatch/io/sim"
)

const simulateUsage = `Usage: llmbatch simulate [flags]

Serves a simulated /v1/responses endpoint on loopback until interrupted,
with deterministic answers, configurable latency, faults and rate limits.
It prints the base URL to use as --base-url.

Flags:
`

func simulate(ctx context.Context, args []string, env environ) error {
	var cfg sim.Config
	fs := newFlagSet("simulate", env.stderr, simulateUsage)
	addr := fs.String("addr", "127.0.0.1:8089", "loopback address to listen on (port 0 picks a free one)")
	cfg.RegisterFlags(fs)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("simulate: unexpected argument %q", pos[0])
	}
	if err := cfg.Validate(); err != nil {
		return usagef("simulate: %v", err)
	}
	if err := checkLoopback(*addr); err != nil {
		return err
	}
	srv := sim.New(cfg)
	base, err := srv.Start(*addr)
	if err != nil {
		return usagef("simulate: %v", err)
	}
	defer srv.Close()
	fmt.Fprintln(env.stdout, base)
	fmt.Fprintf(env.stderr, "simulated endpoint at %s (POST %s/responses; stats at GET %s/_sim/stats); Ctrl-C stops it\n",
		base, base, base[:len(base)-len("/v1")])
	<-ctx.Done()
	return nil
}

// checkLoopback refuses to serve the simulator beyond this machine.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return usagef("simulate: --addr %q: %v", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return usagef("simulate: --addr %q: the simulator serves loopback only (127.0.0.1, ::1, localhost)", addr)
	}
	return nil
}
