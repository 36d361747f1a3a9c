package prices

import (
	"cmp"
	"maps"
	"math"
	"slices"
)

// Cost is an amount that may be unknown: the cost of a model missing from
// the price table, or of a total that includes such a model. An unknown cost
// is never reported as zero. The zero value is unknown.
type Cost struct {
	Amount Money // meaningful only when Known
	Known  bool
}

// String returns Amount.String() when the cost is known and "unknown"
// otherwise.
func (c Cost) String() string {
	if !c.Known {
		return "unknown"
	}
	return c.Amount.String()
}

// Totals accumulates token usage per model and prices it with a Table.
// It keeps token sums, not rounded costs, so its costs are exactly the sum of
// the rows' costs (Price.Cost is linear in the tokens).
//
// A Totals is not safe for concurrent use; give it one owner (the journal
// writer). The zero value is usable and prices every model as unknown; use
// NewTotals to price with a table.
type Totals struct {
	table  *Table
	models map[tierModel]*ModelUsage
}

// tierModel keys usage by model and the tier it was billed at.
type tierModel struct{ model, tier string }

// ModelUsage is the usage summed over the rows of one model name.
type ModelUsage struct {
	Requests    int64 // calls to Totals.Add
	Input       int64 // input tokens, cached included
	CachedInput int64 // cached input tokens, each row clamped to its input
	Output      int64 // output tokens, reasoning included
}

// NewTotals returns an empty Totals that prices usage with t. A nil t prices
// every model as unknown.
func NewTotals(t *Table) *Totals {
	return &Totals{table: t}
}

// Add records one request's usage for model, named as the endpoint reported
// it (snapshots and provider prefixes are resolved as by Table.Resolve).
// input includes cached and output includes reasoning tokens, as in the
// Responses usage object; they are not added twice. Negative counts are taken
// as 0 and cached is clamped to input, as in Price.Cost. Sums saturate at
// math.MaxInt64.
func (s *Totals) Add(model string, input, cached, output int64) {
	s.AddTier(model, "", input, cached, output)
}

// AddTier is Add for usage billed at tier's prices (see
// Table.Multiplier: "batch", "flex"; "" is the standard tier). A tier the
// table has no multiplier for prices as unknown.
func (s *Totals) AddTier(model, tier string, input, cached, output int64) {
	if tier == TierDefault || tier == "standard" {
		tier = ""
	}
	if s.models == nil {
		s.models = map[tierModel]*ModelUsage{}
	}
	k := tierModel{model, tier}
	u := s.models[k]
	if u == nil {
		u = &ModelUsage{}
		s.models[k] = u
	}
	input, cached, output = max(input, 0), max(cached, 0), max(output, 0)
	cached = min(cached, input)
	u.Requests = addSat(u.Requests, 1)
	u.Input = addSat(u.Input, input)
	u.CachedInput = addSat(u.CachedInput, cached)
	u.Output = addSat(u.Output, output)
}

// addSat adds two non-negative int64s, saturating at math.MaxInt64.
func addSat(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// ModelCost is one model's usage and cost in a Summary.
type ModelCost struct {
	Model    string // the name passed to Add
	Tier     string // the tier passed to AddTier; "" for standard prices
	PricedAs string // the table entry that priced it; "" when unknown
	ModelUsage
	Cost Cost // unknown when the table has no price for Model
}

// Summary is the priced state of a Totals.
type Summary struct {
	Models []ModelCost // sorted by Model

	// Cost is the total over all models. It is unknown as soon as one
	// model is; it saturates at MaxMoney.
	Cost Cost

	// PricedCost is the sum over the models the table prices only: equal
	// to Cost.Amount when Cost is known, otherwise a lower bound of the
	// true total, to be shown as such.
	PricedCost Money

	// Unknown lists the models missing from the price table, sorted.
	Unknown []string
}

// Summary prices the usage recorded so far. It can be called at any time;
// Add may be called again afterwards.
func (s *Totals) Summary() Summary {
	var sum Summary
	known := true
	keys := slices.SortedFunc(maps.Keys(s.models), func(a, b tierModel) int {
		return cmp.Or(cmp.Compare(a.model, b.model), cmp.Compare(a.tier, b.tier))
	})
	for _, k := range keys {
		u := s.models[k]
		mc := ModelCost{Model: k.model, Tier: k.tier, ModelUsage: *u}
		if s.table != nil {
			entry, ok := s.table.Resolve(k.model)
			num, den, tok := s.table.Multiplier(k.tier)
			if ok && tok {
				mc.PricedAs = entry
				amount := s.table.models[entry].Scale(num, den).Cost(u.Input, u.CachedInput, u.Output)
				mc.Cost = Cost{Amount: amount, Known: true}
				sum.PricedCost = sum.PricedCost.saturatingAdd(amount)
			}
		}
		if !mc.Cost.Known {
			known = false
			if !slices.Contains(sum.Unknown, k.model) {
				sum.Unknown = append(sum.Unknown, k.model)
			}
		}
		sum.Models = append(sum.Models, mc)
	}
	if known {
		sum.Cost = Cost{Amount: sum.PricedCost, Known: true}
	}
	return sum
}
