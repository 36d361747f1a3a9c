package prices_test

import (
	"slices"
	"testing"

	"github.com/llmbatch/llmbatch/io/prices"
)

func TestTotals(t *testing.T) {
	type row struct {
		model                 string
		input, cached, output int64
	}
	tests := []struct {
		name        string
		rows        []row
		wantCost    string // "unknown" or String()
		wantPriced  string
		wantUnknown []string
		wantModels  []prices.ModelCost
	}{
		{
			name:       "Empty",
			wantCost:   "$0.000000",
			wantPriced: "$0.000000",
		},
		{
			name: "SnapshotsKeptApart",
			rows: []row{
				{"gpt-5-mini", 600_000, 100_000, 200_000},
				{"gpt-5-mini-2025-08-07", 400_000, 100_000, 300_000},
			},
			// Together 1M input, 200k cached, 500k output: $1.205.
			wantCost:   "$1.205000",
			wantPriced: "$1.205000",
			wantModels: []prices.ModelCost{
				{
					Model: "gpt-5-mini", PricedAs: "gpt-5-mini",
					ModelUsage: prices.ModelUsage{Requests: 1, Input: 600_000, CachedInput: 100_000, Output: 200_000},
					Cost:       prices.Cost{Amount: 527_500 * prices.Microdollar, Known: true}, // 0.125+0.0025+0.4
				},
				{
					Model: "gpt-5-mini-2025-08-07", PricedAs: "gpt-5-mini",
					ModelUsage: prices.ModelUsage{Requests: 1, Input: 400_000, CachedInput: 100_000, Output: 300_000},
					Cost:       prices.Cost{Amount: 677_500 * prices.Microdollar, Known: true}, // 0.075+0.0025+0.6
				},
			},
		},
		{
			name: "UnknownModel",
			rows: []row{
				{"gpt-5-nano", 1_000_000, 0, 1_000_000},
				{"gpt-5.1", 10, 0, 10},
				{"my-llama", 5, 0, 5},
				{"gpt-5.1", 10, 0, 10},
			},
			wantCost:    "unknown",
			wantPriced:  "$0.450000",
			wantUnknown: []string{"gpt-5.1", "my-llama"},
			wantModels: []prices.ModelCost{
				{Model: "gpt-5-nano", PricedAs: "gpt-5-nano",
					ModelUsage: prices.ModelUsage{Requests: 1, Input: 1_000_000, Output: 1_000_000},
					Cost:       prices.Cost{Amount: 450_000 * prices.Microdollar, Known: true}},
				{Model: "gpt-5.1", ModelUsage: prices.ModelUsage{Requests: 2, Input: 20, Output: 20}},
				{Model: "my-llama", ModelUsage: prices.ModelUsage{Requests: 1, Input: 5, Output: 5}},
			},
		},
		{
			name: "CachedClampedPerRow",
			rows: []row{
				{"gpt-4.1", 100, 500, 0}, // 100 cached, not 500
				{"gpt-4.1", 100, 0, 0},
				{"gpt-4.1", -3, -3, -3},
			},
			// 100·0.50 + 100·2.00 per 1M = 0.00025
			wantCost:   "$0.000250",
			wantPriced: "$0.000250",
			wantModels: []prices.ModelCost{
				{Model: "gpt-4.1", PricedAs: "gpt-4.1",
					ModelUsage: prices.ModelUsage{Requests: 3, Input: 200, CachedInput: 100},
					Cost:       prices.Cost{Amount: 250 * prices.Microdollar, Known: true}},
			},
		},
		{
			name: "Saturates",
			rows: []row{
				{"gpt-5", 0, 0, 900_000_000_000},
				{"gpt-4o", 0, 0, 900_000_000_000},
			},
			// Each $9M fits; the sum does not.
			wantCost:   prices.MaxMoney.String(),
			wantPriced: prices.MaxMoney.String(),
			wantModels: []prices.ModelCost{
				{Model: "gpt-4o", PricedAs: "gpt-4o",
					ModelUsage: prices.ModelUsage{Requests: 1, Output: 900_000_000_000},
					Cost:       prices.Cost{Amount: 9_000_000 * prices.Dollar, Known: true}},
				{Model: "gpt-5", PricedAs: "gpt-5",
					ModelUsage: prices.ModelUsage{Requests: 1, Output: 900_000_000_000},
					Cost:       prices.Cost{Amount: 9_000_000 * prices.Dollar, Known: true}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			totals := prices.NewTotals(prices.Default())
			for _, r := range tt.rows {
				totals.Add(r.model, r.input, r.cached, r.output)
			}
			sum := totals.Summary()
			if got := sum.Cost.String(); got != tt.wantCost {
				t.Errorf("Summary().Cost = %s, want %s", got, tt.wantCost)
			}
			if got := sum.PricedCost.String(); got != tt.wantPriced {
				t.Errorf("Summary().PricedCost = %s, want %s", got, tt.wantPriced)
			}
			if !slices.Equal(sum.Unknown, tt.wantUnknown) {
				t.Errorf("Summary().Unknown = %q, want %q", sum.Unknown, tt.wantUnknown)
			}
			if !slices.Equal(sum.Models, tt.wantModels) {
				t.Errorf("Summary().Models =\n%+v\nwant\n%+v", sum.Models, tt.wantModels)
			}
		})
	}
}

// TestTotals_ExactSum checks that a million small rows total exactly what
// one row with their summed usage costs.
func TestTotals_ExactSum(t *testing.T) {
	table := prices.Default()
	totals := prices.NewTotals(table)
	var want prices.Money
	for i := range int64(1_000_000) {
		in, cached, out := 7+i%13, i%5, 3+i%11
		totals.Add("gpt-4o-mini", in, cached, out)
		p, _ := table.Lookup("gpt-4o-mini")
		want += p.Cost(in, cached, out)
	}
	sum := totals.Summary()
	if !sum.Cost.Known || sum.Cost.Amount != want {
		t.Errorf("Summary().Cost = %+v, want %d pico", sum.Cost, want)
	}
}

func TestTotals_ZeroValue(t *testing.T) {
	var totals prices.Totals
	totals.Add("gpt-5", 1, 0, 1)
	sum := totals.Summary()
	if sum.Cost.Known {
		t.Errorf("zero Totals priced a model: %+v", sum.Cost)
	}
	if got, want := sum.Unknown, []string{"gpt-5"}; !slices.Equal(got, want) {
		t.Errorf("Unknown = %q, want %q", got, want)
	}
	if got, want := prices.NewTotals(nil).Summary().Cost.String(), "$0.000000"; got != want {
		t.Errorf("empty NewTotals(nil) cost = %s, want %s", got, want)
	}
}

func TestCost_String(t *testing.T) {
	tests := []struct {
		in   prices.Cost
		want string
	}{
		{in: prices.Cost{}, want: "unknown"},
		{in: prices.Cost{Amount: 5 * prices.Dollar}, want: "unknown"},
		{in: prices.Cost{Known: true}, want: "$0.000000"},
		{in: prices.Cost{Amount: 1250 * prices.Cent, Known: true}, want: "$12.500000"},
	}
	for _, tt := range tests {
		if got := tt.in.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.in, got, tt.want)
		}
	}
}
