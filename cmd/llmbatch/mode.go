package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"time"

	"github.com/llmbatch/llmbatch/io/results"
	"github.com/llmbatch/llmbatch/io/sim"
	"github.com/llmbatch/llmbatch/pipeline"
	"github.com/llmbatch/llmbatch/pipeline/background"
	"github.com/llmbatch/llmbatch/pipeline/batchapi"
)

// Run modes (--mode): how requests reach the endpoint.
const (
	modeOnline     = "online"     // the worker pool: send each request, wait for its answer
	modeBackground = "background" // background responses: create, journal the id, poll (pipeline/background)
	modeBatch      = "batch"      // the Batch API: upload files, create batches, collect (pipeline/batchapi)
)

// modeOptions are the flags of run's modes: --mode and each mode's own.
type modeOptions struct {
	Mode         string
	MaxPending   int           // --max-pending (background)
	PollInterval time.Duration // --poll-interval (background, batch); 0: the mode's default
	batch        batchOptions  // --mode batch's own flags (batchmode.go)

	bg *background.Executor // the background mode's executor, once applied
}

func (m *modeOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&m.Mode, "mode", modeOnline, "how requests run: online (send each and wait for its answer), background (Responses API background mode: create, journal the id, poll; a crash re-pays nothing) or batch (the Batch API: half price, results within 24h)")
	fs.IntVar(&m.MaxPending, "max-pending", background.DefaultMaxPending, "with --mode background, responses running server-side at most, what the rate limits see (create calls in flight are bounded separately)")
	fs.DurationVar(&m.PollInterval, "poll-interval", 0, fmt.Sprintf("with --mode background, the wait before a response's first poll (default %v; later polls back off to at most 30 times this, capped at 30s); with --mode batch, the first wait between two polls of a batch (default %v; it grows to 10 times this)",
		background.DefaultPollInitial, batchapi.DefaultPollInterval))
	m.batch.register(fs)
}

func (m *modeOptions) validate() error {
	if m.PollInterval < 0 {
		return usagef("run: --poll-interval must be positive")
	}
	switch m.Mode {
	case modeOnline:
	case modeBackground:
		if m.MaxPending < 1 {
			return usagef("run: --max-pending must be at least 1")
		}
		if m.PollInterval == 0 {
			m.PollInterval = background.DefaultPollInitial
		}
	case modeBatch:
		m.batch.PollInterval = m.PollInterval
		if m.PollInterval == 0 {
			m.batch.PollInterval = batchapi.DefaultPollInterval
		}
		return m.batch.validate()
	default:
		return usagef("run: --mode must be %s, %s or %s, not %q", modeOnline, modeBackground, modeBatch, m.Mode)
	}
	return nil
}

// apply sets cfg's executor for the mode.
func (m *modeOptions) apply(cfg *pipeline.Config, o *runOptions) error {
	switch m.Mode {
	case modeBackground:
		if o.Endpoint != "" && o.Endpoint != "responses" {
			return usagef("run: --mode background runs on the Responses API only, not --endpoint %s", o.Endpoint)
		}
		m.bg = background.New(background.Config{MaxPending: m.MaxPending, PollInitial: m.PollInterval,
			PollMax: max(m.PollInterval, min(background.DefaultPollMax, 30*m.PollInterval)), Journal: o.Output})
		cfg.Executor = m.bg
		if o.DryRun {
			// The dry run prints the create as the mode sends it.
			body := map[string]json.RawMessage{}
			if len(cfg.Body) > 0 {
				if err := json.Unmarshal(cfg.Body, &body); err != nil {
					return nil // the build reports the body's error
				}
			}
			body["background"], body["store"] = json.RawMessage("true"), json.RawMessage("true")
			cfg.Body, _ = json.Marshal(body)
		}
	}
	return nil
}

// simConfig adapts the simulated endpoint of --sim to the mode.
func (m *modeOptions) simConfig(c *sim.Config) {
	switch m.Mode {
	case modeBackground:
		c.BackgroundDelay, c.BackgroundJitter = 2*time.Second, 2*time.Second
	case modeBatch:
		batchSim(c)
		if m.PollInterval == 0 {
			// The simulator's batches end in seconds: poll them so.
			m.batch.PollInterval = 500 * time.Millisecond
		}
	}
}

// done prints the mode's closing lines.
func (m *modeOptions) done(env environ, _ *results.Summary) {
	if m.bg == nil {
		return
	}
	st := m.bg.Stats()
	per := 0.0
	if st.Finished > 0 {
		per = float64(st.Polls) / float64(st.Finished)
	}
	if env.log != nil {
		return // the executor logged its counts
	}
	fmt.Fprintf(env.stderr, "background: %d responses created, %d collected from an earlier run, %d created again (gone or failed); %d polls (%.1f per finished row)\n",
		st.Created, st.Resumed, st.Recreated, st.Polls, per)
}

// notice says what the first interruption of a job does in the mode.
func (m *modeOptions) notice(env environ) {
	switch m.Mode {
	case modeBatch:
		batchInterruptNotice(env)
		return
	case modeOnline:
		interruptNotice(env)
		return
	}
	const msg = "interrupted: no new responses are created and polling stops; the responses running server-side go on (billed): re-running the same command collects them; interrupt again to quit at once"
	if env.log != nil {
		env.log.Warn(msg)
		return
	}
	fmt.Fprintln(env.stderr, "llmbatch: "+msg)
}
