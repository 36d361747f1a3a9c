package prices_test

import (
	"fmt"

	"github.com/llmbatch/llmbatch/io/prices"
)

func ExamplePrice_Cost() {
	p, _ := prices.Default().Lookup("gpt-5-mini-2025-08-07")
	// 1M input tokens of which 200k cached, 500k output (reasoning included).
	fmt.Println(p.Cost(1_000_000, 200_000, 500_000))
	// Output: $1.205000
}

func ExampleTotals() {
	totals := prices.NewTotals(prices.Default())
	totals.Add("gpt-5-nano", 1_000_000, 0, 1_000_000)
	totals.Add("my-local-model", 10, 0, 10)
	sum := totals.Summary()
	fmt.Println(sum.Cost, sum.PricedCost, sum.Unknown)
	// Output: unknown $0.450000 [my-local-model]
}

func ExampleParseUSD() {
	limit, err := prices.ParseUSD("12.50")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(limit, limit.USD())
	_, err = prices.ParseUSD("0.0000001")
	fmt.Println(err)
	// Output:
	// $12.500000 12.500000
	// prices: more than 6 decimal places: "0.0000001"
}
