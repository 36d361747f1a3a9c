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
	// PerTier is the cost of the usage billed at a tier's prices (such as
	// "batch"), over all models, when there is any; it is part of Total.
	PerTier map[string]prices.Cost `json:"per_tier,omitempty"`
	// AsOf is the price table's date (YYYY-MM-DD).
	AsOf string `json:"prices_as_of"`
}

// PriceUsage prices usage per model with table. Cost is linear in the
// tokens, so pricing each model's summed usage equals summing the rows'
// costs. Models with no tokens at all (rows that never got an answer,
// journalled with an empty model) are left out, so they cannot make the
// total unknown. A nil table prices every model as unknown.
func PriceUsage(table *prices.Table, usage map[string]api.Usage) CostSummary {
	return PriceTiers(table, usage, nil)
}

// PriceTiers is PriceUsage where tiers (tier -> model -> usage) is the
// part of usage billed at a tier's prices (Record.Tier): that part is
// priced with the table's multiplier for its tier, the rest at standard
// prices.
func PriceTiers(table *prices.Table, usage map[string]api.Usage, tiers map[string]map[string]api.Usage) CostSummary {
	tot := prices.NewTotals(table)
	for _, m := range slices.Sorted(maps.Keys(usage)) {
		u := usage[m]
		for _, tu := range tiers {
			t := tu[m]
			u.InputTokens -= t.InputTokens
			u.CachedInputTokens -= t.CachedInputTokens
			u.OutputTokens -= t.OutputTokens
		}
		if u.InputTokens <= 0 && u.OutputTokens <= 0 {
			continue
		}
		tot.Add(m, u.InputTokens, u.CachedInputTokens, u.OutputTokens)
	}
	for _, tier := range slices.Sorted(maps.Keys(tiers)) {
		for _, m := range slices.Sorted(maps.Keys(tiers[tier])) {
			u := tiers[tier][m]
			if u.InputTokens == 0 && u.OutputTokens == 0 {
				continue
			}
			tot.AddTier(m, tier, u.InputTokens, u.CachedInputTokens, u.OutputTokens)
		}
	}
	ps := tot.Summary()
	cs := CostSummary{PerModel: make(map[string]prices.Cost, len(ps.Models)), Total: ps.Cost,
		Priced: ps.PricedCost, Unknown: ps.Unknown}
	if table != nil {
		cs.AsOf = table.AsOf()
	}
	for _, mc := range ps.Models {
		cs.PerModel[mc.Model] = addCost(cs.PerModel, mc.Model, mc.Cost)
		if mc.Tier != "" {
			if cs.PerTier == nil {
				cs.PerTier = map[string]prices.Cost{}
			}
			cs.PerTier[mc.Tier] = addCost(cs.PerTier, mc.Tier, mc.Cost)
		}
	}
	return cs
}

// addCost is m[k] plus c: unknown when either is (a missing m[k] is 0).
func addCost(m map[string]prices.Cost, k string, c prices.Cost) prices.Cost {
	old, ok := m[k]
	if !ok {
		return c
	}
	if !old.Known || !c.Known {
		return prices.Cost{}
	}
	s, err := old.Amount.Add(c.Amount)
	if err != nil {
		s = prices.MaxMoney
	}
	return prices.Cost{Amount: s, Known: true}
}

// FillCost sets s.Cost from s.Usage.PerModel priced with table (see
// PriceUsage). Call it after Fill.
func (s *Summary) FillCost(table *prices.Table) {
	c := PriceTiers(table, s.Usage.PerModel, s.Usage.PerTier)
	s.Cost = &c
	for _, e := range []*ExtraSummary{s.Reasks, s.Reused} {
		if e != nil {
			e.Cost = PriceUsage(table, e.PerModel).Total
		}
	}
}
