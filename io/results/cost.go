package results

import (
	"maps"
	"slices"

	"github.com/llmbatch/llmbatch/io/api"
	"github.com/llmbatch/llmbatch/io/prices"
)

// CostSummary is the priced part of a Summary: each model's usage priced
// with a price table, and the total.
//
// Amounts are exact (prices.Money, picodollars) and marshal as decimal
// strings of dollars with 6 places ("1.205000"); an unknown cost marshals
// as "unknown", never as 0.
type CostSummary struct {
	// PerModel is the cost of each model's summed usage, keyed by the model
	// name as the endpoint reported it; "unknown" when the table has no
	// price for it.
	PerModel map[string]prices.Cost `json:"per_model"`
	// Total is the sum over models; unknown as soon as one model is.
	Total prices.Cost `json:"total"`
	// Priced is the sum over the priced models only: Total when Total is
	// known, else a lower bound of it.
	Priced prices.Money `json:"priced"`
	// Unknown lists the models missing from the price table, sorted.
	Unknown []string `json:"unknown_models,omitempty"`
	// AsOf is the price table's date (YYYY-MM-DD).
	AsOf string `json:"prices_as_of"`
}

// PriceUsage prices usage per model with table. Cost is linear in the
// tokens, so pricing each model's summed usage equals summing the rows'
// costs. Models with no tokens at all (rows that never got an answer,
// journalled with an empty model) are left out, so they cannot make the
// total unknown. A nil table prices every model as unknown.
func PriceUsage(table *prices.Table, usage map[string]api.Usage) CostSummary {
	tot := prices.NewTotals(table)
	for _, m := range slices.Sorted(maps.Keys(usage)) {
		u := usage[m]
		if u.InputTokens == 0 && u.OutputTokens == 0 {
			continue
		}
		tot.Add(m, u.InputTokens, u.CachedInputTokens, u.OutputTokens)
	}
	ps := tot.Summary()
	cs := CostSummary{PerModel: make(map[string]prices.Cost, len(ps.Models)), Total: ps.Cost,
		Priced: ps.PricedCost, Unknown: ps.Unknown}
	if table != nil {
		cs.AsOf = table.AsOf()
	}
	for _, mc := range ps.Models {
		cs.PerModel[mc.Model] = mc.Cost
	}
	return cs
}

// FillCost sets s.Cost from s.Usage.PerModel priced with table (see
// PriceUsage). Call it after Fill.
func (s *Summary) FillCost(table *prices.Table) {
	c := PriceUsage(table, s.Usage.PerModel)
	s.Cost = &c
	for _, e := range []*ExtraSummary{s.Reasks, s.Reused} {
		if e != nil {
			e.Cost = PriceUsage(table, e.PerModel).Total
		}
	}
}
