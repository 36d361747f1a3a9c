package prices

import (
	"math/big"
)

// tokensPerPriceUnit is the number of tokens a Price is quoted for.
const tokensPerPriceUnit = 1_000_000

// Price is what a model charges, in Money per 1M tokens, for uncached input
// tokens, cached input tokens and output tokens (reasoning tokens included).
//
// Prices from Load, Default and ParseUSD are whole micro-dollars per 1M
// tokens, i.e. whole picodollars per token, which makes Cost exact and
// additive: the cost of many rows is exactly the cost of their summed tokens.
// The zero value charges nothing.
type Price struct {
	Input       Money // per 1M uncached input tokens
	CachedInput Money // per 1M cached input tokens
	Output      Money // per 1M output tokens, reasoning included
}

// Cost returns what a request with the given usage costs:
//
//	(input − cached)·Input + cached·CachedInput + output·Output, per 1M tokens
//
// input is the request's total input tokens, cached included (usage
// input_tokens); cached is the cached subset (input_tokens_details.
// cached_tokens); output is the total output tokens, reasoning included
// (output_tokens). Neither cached nor reasoning tokens are added on top.
// Negative counts are taken as 0, and cached is clamped to input.
//
// For prices in whole micro-dollars per 1M tokens (see Price) the result is
// exact. Otherwise it is rounded to the nearest picodollar, halves away from
// zero. A cost beyond the range of Money saturates at MaxMoney (or MinMoney
// for negative prices).
func (p Price) Cost(input, cached, output int64) Money {
	input, cached, output = max(input, 0), max(cached, 0), max(output, 0)
	cached = min(cached, input)
	uncached := input - cached

	if c, ok := p.exactCost(uncached, cached, output); ok {
		return c
	}
	return p.bigCost(uncached, cached, output)
}

// exactCost is the fast path: all prices whole picodollars per token and no
// int64 overflow.
func (p Price) exactCost(uncached, cached, output int64) (Money, bool) {
	var total Money
	for _, term := range [3]struct {
		tokens int64
		price  Money
	}{{uncached, p.Input}, {cached, p.CachedInput}, {output, p.Output}} {
		if term.price%Microdollar != 0 {
			return 0, false
		}
		c, err := (term.price / Microdollar).Mul(term.tokens)
		if err != nil {
			return 0, false
		}
		if total, err = total.Add(c); err != nil {
			return 0, false
		}
	}
	return total, true
}

// bigCost computes the cost with arbitrary precision, rounds it to a
// picodollar and saturates it to the range of Money.
func (p Price) bigCost(uncached, cached, output int64) Money {
	sum := new(big.Int)
	var term big.Int
	for _, t := range [3][2]int64{{uncached, int64(p.Input)}, {cached, int64(p.CachedInput)}, {output, int64(p.Output)}} {
		term.SetInt64(t[0])
		term.Mul(&term, big.NewInt(t[1]))
		sum.Add(sum, &term)
	}
	return roundSaturate(sum, big.NewInt(tokensPerPriceUnit))
}

// roundSaturate returns num/den (den > 0) rounded to the nearest integer,
// halves away from zero, clamped to [MinMoney, MaxMoney].
func roundSaturate(num, den *big.Int) Money {
	q, r := new(big.Int).QuoRem(num, den, new(big.Int))
	twice := new(big.Int).Abs(r)
	twice.Lsh(twice, 1)
	if twice.Cmp(den) >= 0 {
		if num.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	switch {
	case !q.IsInt64() && q.Sign() > 0:
		return MaxMoney
	case !q.IsInt64():
		return MinMoney
	}
	return Money(q.Int64())
}

// Scale returns p with every price multiplied by num/den, as for the batch or
// flex tier (see Table.Multiplier). Each scaled price is rounded to a whole
// micro-dollar per 1M tokens, halves away from zero, so that Cost stays exact
// and additive; with the embedded table and a multiplier of 0.5 no rounding
// happens. den must be positive; Scale returns p unchanged otherwise.
func (p Price) Scale(num, den int64) Price {
	if den <= 0 {
		return p
	}
	scale := func(m Money) Money {
		n := new(big.Int).Mul(big.NewInt(int64(m)), big.NewInt(num))
		d := new(big.Int).Mul(big.NewInt(den), big.NewInt(int64(Microdollar)))
		micro := roundSaturate(n, d)
		return micro.saturatingMul(Microdollar)
	}
	return Price{Input: scale(p.Input), CachedInput: scale(p.CachedInput), Output: scale(p.Output)}
}

// saturatingMul returns m*n clamped to [MinMoney, MaxMoney].
func (m Money) saturatingMul(n Money) Money {
	r, err := m.Mul(int64(n))
	if err != nil {
		if (m < 0) != (n < 0) {
			return MinMoney
		}
		return MaxMoney
	}
	return r
}
