package pipeline

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"

	"github.com/llmbatch/llmbatch/io/prices"
	"github.com/llmbatch/llmbatch/io/results"
	"github.com/llmbatch/llmbatch/io/tokens"
)

// DefaultOutputReserve is the output tokens a request in flight is assumed
// to produce under MaxCost when its body sets no max_output_tokens and no
// row has been answered yet to average over.
const DefaultOutputReserve = 1000

// costs tracks what a job has spent and, under Config.MaxCost, what its
// requests in flight may still cost. It is safe for concurrent use.
//
// Spent covers the journal's records (earlier runs included) plus every
// record this run has made, counted when the worker makes it, before the
// writer appends it, so that a reservation turns into its true cost
// atomically and the cap never sees a gap.
type costs struct {
	table   *prices.Table
	max     prices.Money // 0: no cap
	counter *tokens.Counter
	logger  *slog.Logger

	mu       sync.Mutex
	spent    prices.Money
	reserved prices.Money
	inFlight int64 // reservations held
	outSum   int64 // output tokens of answered records
	outN     int64
	warned   map[string]bool // unknown models already warned about
	unpriced string          // a journal model without a price, under a cap
}

func newCosts(cfg *Config) (*costs, error) {
	c := &costs{table: cfg.Prices, max: cfg.MaxCost, logger: cfg.Logger, warned: map[string]bool{}}
	if c.max < 0 {
		return nil, usageErrorf("--max-cost must not be negative")
	}
	if c.max > 0 {
		var err error
		if c.counter, err = tokens.New(); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// record adds a record's cost to spent. fallback is the model the request
// named, used under a cap when the answer's model has no price.
func (c *costs) record(rec *results.Record, fallback string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.add(rec, fallback)
}

func (c *costs) add(rec *results.Record, fallback string) {
	u := rec.Usage
	if u.InputTokens == 0 && u.OutputTokens == 0 {
		return
	}
	if rec.Error == nil || u.OutputTokens > 0 {
		c.outSum += u.OutputTokens
		c.outN++
	}
	p, ok := c.table.Lookup(rec.Model)
	if !ok {
		if !c.warned[rec.Model] {
			c.warned[rec.Model] = true
			c.logger.Warn("no price for this model: its cost is unknown; give its prices with --prices FILE",
				"model", rec.Model, "prices_as_of", c.table.AsOf())
		}
		if fallback == "" {
			c.unpriced = rec.Model
			return
		}
		if p, ok = c.table.Lookup(fallback); !ok {
			return
		}
	}
	c.spent = addSat(c.spent, p.Cost(u.InputTokens, u.CachedInputTokens, u.OutputTokens))
}

// reserve checks, under a cap, that spent + what is in flight + req's
// estimate stays within MaxCost and holds req's estimate; it returns the
// amount held (0 without a cap). A *StopError means the cap is reached, a
// *UsageError that the cap cannot be enforced.
func (c *costs) reserve(req *request) (prices.Money, error) {
	if c.max <= 0 {
		return 0, nil
	}
	p, ok := c.table.Lookup(req.model)
	if !ok {
		return 0, usageErrorf("--max-cost cannot be enforced: no price for model %q (prices as of %s); give its prices with --prices FILE", req.model, c.table.AsOf())
	}
	in, err := c.counter.RequestInputTokens(req.body)
	if err != nil {
		in = len(req.body) // a token is at least a byte
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.unpriced != "" {
		return 0, usageErrorf("--max-cost cannot be enforced: the journal holds answers of model %q, which has no price; give its prices with --prices FILE", c.unpriced)
	}
	out := maxOutputTokens(req.body)
	if out < 0 {
		out = DefaultOutputReserve
		if c.outN > 0 {
			out = (c.outSum + c.outN - 1) / c.outN
		}
	}
	est := p.Cost(int64(in), 0, out)
	if total := addSat(addSat(c.spent, c.reserved), est); total > c.max {
		return 0, &StopError{Reason: fmt.Sprintf(
			"cost cap reached: spent %s, %d requests in flight estimated at %s, and the next request estimated at %s would pass --max-cost %s; finished rows are in the journal: re-run with a higher --max-cost to resume",
			c.spent, c.inFlight, c.reserved, est, c.max)}
	}
	c.reserved += est
	c.inFlight++
	return est, nil
}

// settle releases a reservation and, when rec is not nil, adds its cost,
// in one step.
func (c *costs) settle(held prices.Money, rec *results.Record, fallback string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.max > 0 {
		c.reserved -= held
		c.inFlight--
	}
	if rec != nil {
		c.add(rec, fallback)
	}
}

// maxOutputTokens returns the body's max_output_tokens, or -1 if unset.
func maxOutputTokens(body []byte) int64 {
	var b struct {
		MaxOutputTokens *int64 `json:"max_output_tokens"`
	}
	if json.Unmarshal(body, &b) != nil || b.MaxOutputTokens == nil || *b.MaxOutputTokens < 0 {
		return -1
	}
	return *b.MaxOutputTokens
}

// addSat adds two non-negative amounts, saturating at prices.MaxMoney.
func addSat(a, b prices.Money) prices.Money {
	s, err := a.Add(b)
	if err != nil {
		return prices.MaxMoney
	}
	return s
}
