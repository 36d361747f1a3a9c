package results

import (
	"github.com/llmbatch/llmbatch/io/api"
	"github.com/llmbatch/llmbatch/io/prices"
)

// Extra counts a kind of record apart from the rest (re-asks, reused
// answers) with its usage per model. The zero value is empty.
type Extra struct {
	Records int64
	Usage   map[string]api.Usage
}

func (e *Extra) add(model string, u api.Usage) {
	if e.Usage == nil {
		e.Usage = make(map[string]api.Usage)
	}
	m := e.Usage[model]
	m.Add(u)
	e.Usage[model] = m
	e.Records++
}

// summary is e for a Summary, nil when it counts nothing.
func (e *Extra) summary() *ExtraSummary {
	if e.Records == 0 {
		return nil
	}
	s := &ExtraSummary{Records: e.Records, PerModel: make(map[string]api.Usage, len(e.Usage))}
	for m, u := range e.Usage {
		s.PerModel[m] = u
		s.Usage.Add(u)
	}
	return s
}

// ExtraSummary is an Extra in a summary: the records, their usage in total
// and per model, and its cost (set by FillCost; "unknown" when a model
// has no price).
type ExtraSummary struct {
	Records  int64                `json:"records"`
	Usage    api.Usage            `json:"usage"`
	PerModel map[string]api.Usage `json:"per_model"`
	Cost     prices.Cost          `json:"cost"`
}
