package prices_test

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/llmbatch/llmbatch/io/prices"
)

// mustUSD parses s or fails the test.
func mustUSD(tb testing.TB, s string) prices.Money {
	tb.Helper()
	m, err := prices.ParseUSD(s)
	if err != nil {
		tb.Fatalf("ParseUSD(%q) error = %v", s, err)
	}
	return m
}

// mustPrice returns the default table's price for model or fails the test.
func mustPrice(tb testing.TB, model string) prices.Price {
	tb.Helper()
	p, ok := prices.Default().Lookup(model)
	if !ok {
		tb.Fatalf("Default().Lookup(%q) not found", model)
	}
	return p
}

func TestPrice_Cost(t *testing.T) {
	tests := []struct {
		name                  string
		model                 string
		input, cached, output int64
		want                  string // exact USD, up to 12 decimals
	}{
		// 0.8·0.25 + 0.2·0.025 + 0.5·2.00 = 0.2 + 0.005 + 1.0
		{name: "Gpt5MiniBrief", model: "gpt-5-mini", input: 1_000_000, cached: 200_000, output: 500_000, want: "1.205"},
		// 1·1.25 + 1·10
		{name: "Gpt5Million", model: "gpt-5", input: 1_000_000, output: 1_000_000, want: "11.25"},
		// 0.001·1.10 + 0.001·4.40
		{name: "O4MiniSmall", model: "o4-mini", input: 1000, output: 1000, want: "0.0055"},
		// 700·2.50/1e6 + 300·1.25/1e6 + 150·10/1e6 = 0.00175 + 0.000375 + 0.0015
		{name: "Gpt4oCached", model: "gpt-4o", input: 1000, cached: 300, output: 150, want: "0.003625"},
		// 1 cached token at 0.005/1M = 5e-9 USD: below a micro-dollar, still exact.
		{name: "OneCachedNanoToken", model: "gpt-5-nano", input: 1, cached: 1, want: "0.000000005"},
		// 1 token at 0.075/1M
		{name: "OneCachedMiniToken", model: "gpt-4o-mini", input: 1, cached: 1, want: "0.000000075"},
		// cached > input is clamped: 1000 cached at 0.50 instead of 2.00.
		{name: "CachedClamped", model: "gpt-4.1", input: 1000, cached: 5000, want: "0.0005"},
		{name: "NegativeIsZero", model: "o3", input: -5, cached: -1, output: -7, want: "0"},
		{name: "NothingUsed", model: "gpt-4.1-mini", want: "0"},
		// 10^9 output tokens of gpt-5: $10,000.
		{name: "BillionOutput", model: "gpt-5", output: 1_000_000_000, want: "10000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustPrice(t, tt.model).Cost(tt.input, tt.cached, tt.output)
			if want := exactUSD(t, tt.want); got != want {
				t.Errorf("Cost(%d, %d, %d) = %d pico (%v), want %d pico (%s)",
					tt.input, tt.cached, tt.output, got, got, want, tt.want)
			}
		})
	}
}

// exactUSD parses a non-negative decimal with up to 12 places into
// picodollars.
func exactUSD(tb testing.TB, s string) prices.Money {
	tb.Helper()
	whole, frac, _ := strings.Cut(s, ".")
	var pico prices.Money
	for _, c := range frac + strings.Repeat("0", 12-len(frac)) {
		pico = pico*10 + prices.Money(c-'0')
	}
	return mustUSD(tb, whole) + pico
}

// TestPrice_CostAdditive checks that rows priced one by one sum exactly to
// the cost of their summed tokens, for every model of the default table.
func TestPrice_CostAdditive(t *testing.T) {
	table := prices.Default()
	for _, model := range table.Models() {
		t.Run(model, func(t *testing.T) {
			p, _ := table.Lookup(model)

			// 1,000,000 one-token rows, each below a micro-dollar.
			var sum prices.Money
			for range 1_000_000 {
				sum += p.Cost(1, 0, 1)
			}
			if want := p.Cost(1_000_000, 0, 1_000_000); sum != want {
				t.Errorf("sum of 1e6 one-token rows = %v (%d), want %v (%d)", sum, sum, want, want)
			}

			// Random rows.
			rng := rand.New(rand.NewPCG(1, uint64(len(model))))
			var in, cached, out int64
			sum = 0
			for range 10_000 {
				i, c, o := rng.Int64N(5000), rng.Int64N(3000), rng.Int64N(2000)
				sum += p.Cost(i, c, o)
				in, cached, out = in+i, cached+min(c, i), out+o
			}
			if want := p.Cost(in, cached, out); sum != want {
				t.Errorf("sum of random rows = %d pico, want %d pico", sum, want)
			}
		})
	}
}

func TestPrice_CostSaturates(t *testing.T) {
	p := mustPrice(t, "gpt-5")
	tests := []struct {
		name                  string
		input, cached, output int64
		want                  prices.Money
	}{
		// 9.2e17 output tokens at 10 USD/1M = 9.2e12 USD.
		{name: "HugeOutput", output: 920_000_000_000_000_000, want: prices.MaxMoney},
		{name: "MaxTokens", input: math.MaxInt64, cached: 0, output: math.MaxInt64, want: prices.MaxMoney},
		// The sum overflows although each term fits: 2 × 5e6 USD.
		{name: "SumOverflows", input: 4_000_000_000_000, output: 500_000_000_000, want: prices.MaxMoney},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := p.Cost(tt.input, tt.cached, tt.output); got != tt.want {
				t.Errorf("Cost(%d, %d, %d) = %d, want %d", tt.input, tt.cached, tt.output, got, tt.want)
			}
		})
	}

	// Just below the limit: 922,337 × 10 USD = 9,223,370 USD, exact.
	if got, want := p.Cost(0, 0, 922_337*1_000_000), 9_223_370*prices.Dollar; got != want {
		t.Errorf("Cost near the limit = %d, want %d", got, want)
	}
}

func TestPrice_CostSubMicroPrice(t *testing.T) {
	// A hand-built price of 1 picodollar per 1M tokens is not a whole
	// picodollar per token: Cost rounds half away from zero.
	p := prices.Price{Input: 1, CachedInput: 1, Output: 3}
	tests := []struct {
		input, output int64
		want          prices.Money
	}{
		{input: 400_000, want: 0},
		{input: 500_000, want: 1},
		{input: 1_000_000, want: 1},
		{input: 2_500_000, want: 3},
		{output: 500_000, want: 2}, // 1.5 rounds to 2
	}
	for _, tt := range tests {
		if got := p.Cost(tt.input, 0, tt.output); got != tt.want {
			t.Errorf("Cost(%d, 0, %d) = %d, want %d", tt.input, tt.output, got, tt.want)
		}
	}
}

func TestPrice_Scale(t *testing.T) {
	table := prices.Default()
	tests := []struct {
		name     string
		model    string
		tier     string
		want     prices.Price
		wantCost string // for 1M input, 200k cached, 500k output
	}{
		{
			name: "Gpt5MiniBatch", model: "gpt-5-mini", tier: "batch",
			want:     prices.Price{Input: mustUSD(t, "0.125"), CachedInput: mustUSD(t, "0.0125"), Output: mustUSD(t, "1")},
			wantCost: "0.6025",
		},
		{
			name: "Gpt4oMiniFlex", model: "gpt-4o-mini", tier: "flex",
			want:     prices.Price{Input: mustUSD(t, "0.075"), CachedInput: mustUSD(t, "0.0375"), Output: mustUSD(t, "0.30")},
			wantCost: "0.2175", // 0.8·0.075 + 0.2·0.0375 + 0.5·0.30
		},
		{
			name: "Default", model: "o3", tier: "default",
			want:     prices.Price{Input: mustUSD(t, "2"), CachedInput: mustUSD(t, "0.5"), Output: mustUSD(t, "8")},
			wantCost: "5.7", // 0.8·2 + 0.2·0.5 + 0.5·8
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			num, den, ok := table.Multiplier(tt.tier)
			if !ok {
				t.Fatalf("Multiplier(%q) not found", tt.tier)
			}
			got := mustPrice(t, tt.model).Scale(num, den)
			if got != tt.want {
				t.Errorf("Scale(%d, %d) = %+v, want %+v", num, den, got, tt.want)
			}
			if got, want := got.Cost(1_000_000, 200_000, 500_000), exactUSD(t, tt.wantCost); got != want {
				t.Errorf("scaled Cost = %v, want %v", got, want)
			}
		})
	}

	// Rounding to a whole micro-dollar per 1M tokens: 0.000003 / 2.
	p := prices.Price{Input: 3 * prices.Microdollar}
	if got, want := p.Scale(1, 2).Input, 2*prices.Microdollar; got != want {
		t.Errorf("Scale(1, 2) of 3 micro-dollars = %d, want %d", got, want)
	}
	if got := p.Scale(1, 0); got != p {
		t.Errorf("Scale(1, 0) = %+v, want unchanged %+v", got, p)
	}
}
