package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"math/bits"
	"sync"

	"github.com/llmbatch/llmbatch/io/api"
	"github.com/llmbatch/llmbatch/io/prices"
	"github.com/llmbatch/llmbatch/io/results"
	"github.com/llmbatch/llmbatch/io/tokens"
)

// DefaultOutputReserve is the output tokens a request is assumed to
// produce under MaxCost when its body sets no max_output_tokens and the
// opening probe ended without an answer that reported usage.
const DefaultOutputReserve = 1000

// Under MaxCost, with no max_output_tokens, the output of a request is
// estimated at the outputPercentile of the answers so far. Until
// probeAnswers answers with usage are in (or probeRequests requests have
// settled this run), requests go one at a time and are estimated at their
// input alone: with nothing else in flight, the probe can pass the cap by
// at most one answer's output. After it, no more requests are in flight
// than answers have been learned from (slow start), so that an estimate
// from a few answers that happened to be short cannot send many requests
// at once.
const (
	outputPercentile = 0.95
	probeAnswers     = 8
	probeRequests    = 16
)

// ledger is the job's one account of what it has done and spent, under
// one lock: the journal's totals (row states, usage per model: what
// progress, the summary and the closing lines show) and, for the cost cap,
// the cost of the journal's records, of the records made but not yet
// journalled, and the estimates of the requests in flight. It is safe for
// concurrent use.
//
// A record moves through it in two steps, so that the cap never sees a
// gap: when a worker makes it (settle), its reservation becomes its true
// cost, pending; when the writer has journalled it (journalled), it joins
// the totals and the pending cost becomes spent. The cap's cost is priced
// record by record like the summary's (prices are exact, so the sums
// agree), except that an answer naming a model the table lacks is priced,
// for the cap only, as the model the request named.
type ledger struct {
	table   *prices.Table
	max     prices.Money // 0: no cap
	counter *tokens.Counter
	logger  *slog.Logger

	mu       sync.Mutex
	totals   *results.Totals // the journal's records, earlier runs included
	spent    prices.Money    // cost of the journal's records
	pending  map[*results.Record]prices.Money
	pendingC prices.Money // sum of pending
	reserved prices.Money
	inFlight int64               // reservations held
	settled  int64               // reservations released by this run
	changed  chan struct{}       // closed (and replaced) when a reservation is released
	out      outputHist          // output tokens of the answers, for the estimate
	warned   map[string]bool     // unknown models already warned about
	unpriced string              // a journal model without a price, under a cap
	name     func(string) string // Config.name

	// This run's share of the totals: rows it journalled and their usage
	// per model (what the closing "this run" line shows).
	runRows  int64
	runUsage map[string]api.Usage
	runTiers map[string]map[string]api.Usage // the part of runUsage billed at a tier's prices
}

func newLedger(cfg *Config, totals *results.Totals) (*ledger, error) {
	c := &ledger{table: cfg.Prices, max: cfg.MaxCost, logger: cfg.Logger, totals: totals, warned: map[string]bool{},
		changed: make(chan struct{}), pending: map[*results.Record]prices.Money{}, name: cfg.name, runUsage: map[string]api.Usage{}}
	if c.max < 0 {
		return nil, usageErrorf("%s must not be negative", cfg.name("MaxCost"))
	}
	if c.max > 0 {
		var err error
		if c.counter, err = tokens.New(); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// record adds a record read from the journal.
func (c *ledger) record(rec *results.Record) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.totals.Add(rec)
	c.learn(rec)
	c.spent = addSat(c.spent, c.price(rec, ""))
}

// learn feeds a record's output tokens to the output estimate.
func (c *ledger) learn(rec *results.Record) {
	u := rec.Usage
	if (u.InputTokens != 0 || u.OutputTokens != 0) && (rec.Error == nil || u.OutputTokens > 0) {
		c.out.add(u.OutputTokens)
	}
}

// price is a record's cost for the cap. fallback is the model the request
// named, used when the answer's model has no price; with none, the cap
// cannot be enforced (unpriced).
func (c *ledger) price(rec *results.Record, fallback string) prices.Money {
	if m, ok := c.listPrice(rec); ok {
		return m
	}
	u := rec.Usage
	p, ok := c.table.Lookup(rec.Model)
	if !ok {
		if !c.warned[rec.Model] {
			c.warned[rec.Model] = true
			c.logger.Warn("no price for this model: its cost is unknown; give its prices with "+c.name("Prices"),
				"model", rec.Model, "prices_as_of", c.table.AsOf())
		}
		if fallback == "" {
			c.unpriced = rec.Model
			return 0
		}
		if p, ok = c.table.Lookup(fallback); !ok {
			return 0
		}
	}
	if rec.Tier != "" {
		num, den, ok := c.table.Multiplier(rec.Tier)
		if !ok {
			c.unpriced = rec.Model + " (" + rec.Tier + " tier)"
			return 0
		}
		p = p.Scale(num, den)
	}
	return p.Cost(u.InputTokens, u.CachedInputTokens, u.OutputTokens)
}

// listPrice is price for a record that used no tokens, or whose model
// the table prices and that has no tier: the common case, which needs
// none of the ledger's state, so it may be called without c.mu. ok is
// false for the others (price reads them under c.mu: warnings, the
// request's model, tiers).
func (c *ledger) listPrice(rec *results.Record) (m prices.Money, ok bool) {
	u := rec.Usage
	if u.InputTokens == 0 && u.OutputTokens == 0 {
		return 0, true
	}
	if rec.Tier != "" {
		return 0, false
	}
	p, ok := c.table.Lookup(rec.Model)
	if !ok {
		return 0, false
	}
	return p.Cost(u.InputTokens, u.CachedInputTokens, u.OutputTokens), true
}

// reserve holds req's estimated cost under a cap and returns the amount
// held (0 without a cap). It sends req only while spent + what is in
// flight + req's estimate stays within MaxCost; a request that does not
// fit while others are in flight waits for them to settle (or for ctx). A
// *StopError means the cap is reached: nothing is in flight and spent plus
// req's estimate would pass it. A *UsageError means the cap cannot be
// enforced; ctx's error that the job stopped while req waited.
func (c *ledger) reserve(ctx context.Context, req *Request) (prices.Money, error) {
	if c.max <= 0 {
		return 0, nil
	}
	p, ok := c.table.Lookup(req.model)
	if !ok {
		return 0, usageErrorf("%s cannot be enforced: no price for model %q (prices as of %s); give its prices with %s", c.name("MaxCost"), req.model, c.table.AsOf(), c.name("Prices"))
	}
	m := req.cost(c.counter)
	in, maxOut := m.InputTokens, m.MaxOutput
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		if c.unpriced != "" {
			return 0, usageErrorf("%s cannot be enforced: the journal holds answers of model %q, which has no price; give its prices with %s", c.name("MaxCost"), c.unpriced, c.name("Prices"))
		}
		out, probe, limit := maxOut, false, int64(math.MaxInt64)
		if out < 0 {
			limit = max(c.out.n, 1)
			switch {
			case c.out.n >= probeAnswers || (c.out.n > 0 && c.settled >= probeRequests):
				out = c.out.quantile(outputPercentile)
			case c.settled < probeRequests:
				out, probe = 0, true
			default:
				out = DefaultOutputReserve
			}
		}
		est := p.Cost(int64(in), 0, out)
		fits := addSat(addSat(c.spent, addSat(c.pendingC, c.reserved)), est) <= c.max
		switch {
		case fits && (!probe || c.inFlight == 0) && c.inFlight < limit:
			c.reserved += est
			c.inFlight++
			return est, nil
		case c.inFlight == 0:
			return 0, c.capReached(est)
		}
		if err := c.waitSettle(ctx); err != nil {
			return 0, err
		}
	}
}

// capReached is the error of a job whose next request does not fit under
// the cap with nothing in flight. c.mu is held.
func (c *ledger) capReached(next prices.Money) error {
	return &StopError{Reason: fmt.Sprintf(
		"cost cap reached: spent %s of %s %s, and the next request, estimated at %s, would pass it; finished rows are in the journal: re-run with a higher %s to resume",
		addSat(c.spent, c.pendingC), c.name("MaxCost"), c.max, next, c.name("MaxCost"))}
}

// waitSettle waits, with c.mu held, until a reservation is released or ctx
// ends (its error then).
func (c *ledger) waitSettle(ctx context.Context) error {
	ch := c.changed
	c.mu.Unlock()
	select {
	case <-ch:
	case <-ctx.Done():
	}
	c.mu.Lock()
	return ctx.Err()
}

// settle releases a reservation and, when rec is not nil, holds its true
// cost as pending until the writer journals it, in one step, and wakes
// the requests waiting for room under the cap.
func (c *ledger) settle(held prices.Money, rec *results.Record, fallback string) {
	// The common price before the lock that every worker and the
	// writer share; the rest, and warnings, under it.
	var p prices.Money
	var priced bool
	if rec != nil {
		p, priced = c.listPrice(rec)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.max > 0 {
		c.reserved -= held
		c.inFlight--
		c.settled++
		close(c.changed)
		c.changed = make(chan struct{})
	}
	if rec != nil {
		c.learn(rec)
		if !priced {
			p = c.price(rec, fallback)
		}
		c.pending[rec] = p
		c.pendingC = addSat(c.pendingC, p)
	}
}

// journalled adds rec, as the writer journalled it (written: the record
// written in its place, when it could not be encoded), to the totals, and
// its pending cost to spent.
func (c *ledger) journalled(rec, written *results.Record) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.totals.Add(written)
	if written.Reask == 0 { // a re-ask's record is its row's again
		c.runRows++
	}
	u := c.runUsage[written.Model]
	u.Add(written.Usage)
	c.runUsage[written.Model] = u
	if written.Tier != "" {
		if c.runTiers == nil {
			c.runTiers = map[string]map[string]api.Usage{}
		}
		if c.runTiers[written.Tier] == nil {
			c.runTiers[written.Tier] = map[string]api.Usage{}
		}
		tu := c.runTiers[written.Tier][written.Model]
		tu.Add(written.Usage)
		c.runTiers[written.Tier][written.Model] = tu
	}
	p, ok := c.pending[rec]
	if !ok { // made by the producer (a bad row): never pending
		p = c.price(written, "")
	} else {
		delete(c.pending, rec)
		c.pendingC -= p
	}
	c.spent = addSat(c.spent, p)
}

// dropped forgets a pending record that the writer could not journal.
func (c *ledger) dropped(rec *results.Record) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, ok := c.pending[rec]; ok {
		delete(c.pending, rec)
		c.pendingC -= p
	}
}

// thisRun returns the rows this run journalled and the cost of their
// usage.
func (c *ledger) thisRun() (int64, prices.Cost) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.runRows, results.PriceTiers(c.table, c.runUsage, c.runTiers).Total
}

// read calls fn with the totals, under the lock.
func (c *ledger) read(fn func(t *results.Totals)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fn(c.totals)
}

// outputHist is a histogram of output token counts: exact below
// histExact, then histSub buckets per power of two (a bucket is at most
// 1/histSub of its values wide), so a quantile is known to about 3% in a
// fixed 15 KB whatever the number of answers.
type outputHist struct {
	n      int64
	counts [histBuckets]int64
}

const (
	histExact   = 64
	histSub     = 32
	histBuckets = histExact + (63-6)*histSub
)

// histBucket returns v's bucket (v >= 0).
func histBucket(v int64) int {
	if v < histExact {
		return int(max(v, 0))
	}
	e := bits.Len64(uint64(v)) - 1 // >= 6
	shift := e - 5
	return histExact + (e-6)*histSub + int(v>>shift) - histSub
}

// histUpper returns the largest value of bucket i.
func histUpper(i int) int64 {
	if i < histExact {
		return int64(i)
	}
	e := (i-histExact)/histSub + 6
	shift := e - 5
	top := int64((i-histExact)%histSub + histSub)
	return (top+1)<<shift - 1
}

func (h *outputHist) add(v int64) {
	h.n++
	h.counts[histBucket(v)]++
}

// quantile returns the upper bound of the bucket that holds the q-th
// quantile: an estimate that errs high. 0 when empty.
func (h *outputHist) quantile(q float64) int64 {
	if h.n == 0 {
		return 0
	}
	rank := int64(math.Ceil(q * float64(h.n)))
	rank = min(max(rank, 1), h.n)
	var cum int64
	for i, k := range h.counts {
		if cum += k; cum >= rank {
			return histUpper(i)
		}
	}
	return histUpper(histBuckets - 1)
}

// addSat adds two non-negative amounts, saturating at prices.MaxMoney.
func addSat(a, b prices.Money) prices.Money {
	s, err := a.Add(b)
	if err != nil {
		return prices.MaxMoney
	}
	return s
}

// reserveAll holds, in one step, the estimated cost of reqs at tier's
// prices (prices.Table.Multiplier; "" standard), for requests that stay in
// flight together for hours, as a Batch API batch's rows do. Unlike
// reserve there is no probe and no slow start (a batch's answers cannot
// be learned from before it is sent): a request's output is estimated at
// its max_output_tokens, else the outputPercentile of the answers so far,
// else DefaultOutputReserve. It waits while the whole does not fit beside
// the requests in flight; with none in flight it holds the longest prefix
// of reqs that fits (held is shorter than reqs), and returns a *StopError
// when not even the first fits. Without a cap it holds 0 for each.
func (c *ledger) reserveAll(ctx context.Context, reqs []*Request, tier string) (held []prices.Money, err error) {
	held = make([]prices.Money, len(reqs))
	if c.max <= 0 {
		return held, nil
	}
	num, den, ok := c.table.Multiplier(tier)
	if !ok {
		return nil, usageErrorf("%s cannot be enforced: the price table has no %q multiplier", c.name("MaxCost"), tier)
	}
	meters := make([]struct {
		p       prices.Price
		in, out int64
	}, len(reqs))
	for i, req := range reqs {
		p, ok := c.table.Lookup(req.model)
		if !ok {
			return nil, usageErrorf("%s cannot be enforced: no price for model %q (prices as of %s); give its prices with %s", c.name("MaxCost"), req.model, c.table.AsOf(), c.name("Prices"))
		}
		m := req.cost(c.counter)
		meters[i].p, meters[i].in, meters[i].out = p.Scale(num, den), int64(m.InputTokens), m.MaxOutput
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		if c.unpriced != "" {
			return nil, usageErrorf("%s cannot be enforced: the journal holds answers of model %q, which has no price; give its prices with %s", c.name("MaxCost"), c.unpriced, c.name("Prices"))
		}
		learned := int64(DefaultOutputReserve)
		if c.out.n > 0 {
			learned = c.out.quantile(outputPercentile)
		}
		room := c.max - addSat(c.spent, addSat(c.pendingC, c.reserved))
		n, total := 0, prices.Money(0)
		for i, m := range meters {
			out := m.out
			if out < 0 {
				out = learned
			}
			held[i] = m.p.Cost(m.in, 0, out)
			if addSat(total, held[i]) > room {
				break
			}
			total = addSat(total, held[i])
			n++
		}
		if n == len(reqs) || (c.inFlight == 0 && n > 0) {
			c.reserved += total
			c.inFlight += int64(n)
			return held[:n], nil
		}
		if c.inFlight == 0 {
			return nil, c.capReached(held[0])
		}
		if err := c.waitSettle(ctx); err != nil {
			return nil, err
		}
	}
}
