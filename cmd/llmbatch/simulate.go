package main

import (
	"context"
	"fmt"
	"net"

	"github.com/llmbatch/llmbatch/io/sim"
)

const simulateUsage = `Usage: llmbatch simulate [flags]

Serves a simulated OpenAI-compatible server on loopback until interrupted:
POST /v1/responses, /v1/chat/completions and /v1/embeddings, with
deterministic answers and vectors, and the same configurable latency,
faults and rate limits on all three. -no-responses makes /v1/responses
answer 404, as a chat-only server does. It prints the base URL to use as
--base-url.

It also keeps what the asynchronous modes need, in memory:
background responses ("background": true; GET /v1/responses/{id}, POST
/v1/responses/{id}/cancel), paced by -background-delay, with
-background-fail and -background-expire-after; and Files and Batches
(POST /v1/files, GET /v1/files/{id}[/content], POST /v1/batches, GET
/v1/batches/{id}, POST /v1/batches/{id}/cancel), paced by -batch-delay,
with -batch-fail, -batch-expire-after and the -batch-max-* limits.

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
	routes := "POST " + base + "/responses, /chat/completions, /embeddings, /files, /batches"
	if cfg.NoResponses {
		routes = "POST " + base + "/chat/completions, /embeddings, /files, /batches; /responses answers 404"
	}
	fmt.Fprintf(env.stderr, "simulated endpoint at %s (%s; stats at GET %s/_sim/stats); Ctrl-C stops it\n",
		base, routes, base[:len(base)-len("/v1")])
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
