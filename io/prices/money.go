package prices

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strings"
)

// Money is an amount of US dollars counted in picodollars (1e-12 USD).
//
// The unit is chosen so that every cost is a whole number: prices are
// written per 1M tokens with at most 6 decimal places of a dollar, that is
// in whole micro-dollars per 1M tokens, and a micro-dollar per 1M tokens is
// exactly one picodollar per token. The cost of any number of tokens is
// therefore an integer number of picodollars, and a sum of costs is exact.
//
// An int64 of picodollars holds up to about 9.2 million USD (MaxMoney).
// Arithmetic that would leave that range is reported by Add and Mul as
// ErrOverflow; Price.Cost and Totals saturate at MaxMoney instead, which is
// above any realistic cost cap, so a budget check fails safe.
//
// The zero value is zero dollars.
type Money int64

// Units of Money.
const (
	Picodollar  Money = 1                 // 1e-12 USD, the unit of Money
	Microdollar Money = 1_000_000         // 1e-6 USD, the precision of prices
	Cent        Money = 10_000_000_000    // 0.01 USD
	Dollar      Money = 1_000_000_000_000 // 1 USD

	// MaxMoney is the largest representable amount, about 9.2 million USD.
	// Saturating operations return it when the true amount is larger.
	MaxMoney Money = math.MaxInt64
	// MinMoney is the smallest (most negative) representable amount.
	MinMoney Money = math.MinInt64
)

// maxDecimals is the number of decimal places of a dollar that prices and
// amounts may carry: whole micro-dollars.
const maxDecimals = 6

// Errors returned by this package; wrapped errors carry the offending text.
var (
	// ErrSyntax reports a malformed decimal amount.
	ErrSyntax = errors.New("prices: invalid decimal amount")
	// ErrPrecision reports a non-zero digit beyond the sixth decimal place.
	ErrPrecision = errors.New("prices: more than 6 decimal places")
	// ErrOverflow reports an amount outside the range of Money.
	ErrOverflow = errors.New("prices: amount out of range")
)

// ParseUSD parses a decimal amount of US dollars such as "12.50", "0.025",
// "$3" or "-1.5" exactly, without floating point. Surrounding spaces and a
// leading "$" (after an optional sign) are allowed. At most 6 decimal places
// may be non-zero; "1.0000001" is an error (ErrPrecision) because it is not a
// whole number of micro-dollars. Exponents, thousands separators and empty
// strings are rejected with ErrSyntax; amounts beyond MaxMoney with
// ErrOverflow.
func ParseUSD(s string) (Money, error) {
	return parseDecimal(strings.TrimSpace(s), true)
}

// parseDecimal parses [sign][$]digits[.digits] into Money. allowDollar
// permits the "$" prefix.
func parseDecimal(s string, allowDollar bool) (Money, error) {
	orig := s
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if allowDollar && strings.HasPrefix(s, "$") {
		s = s[1:]
	}
	intPart, frac, hasDot := strings.Cut(s, ".")
	if intPart == "" || (hasDot && frac == "") || !allDigits(intPart) || !allDigits(frac) {
		return 0, fmt.Errorf("%w: %q", ErrSyntax, orig)
	}
	if len(frac) > maxDecimals {
		if strings.Trim(frac[maxDecimals:], "0") != "" {
			return 0, fmt.Errorf("%w: %q", ErrPrecision, orig)
		}
		frac = frac[:maxDecimals]
	}
	frac += strings.Repeat("0", maxDecimals-len(frac))

	// Accumulate micro-dollars as a non-negative uint64, then scale.
	var micro uint64
	for _, c := range intPart + frac {
		hi, lo := bits.Mul64(micro, 10)
		lo, carry := bits.Add64(lo, uint64(c-'0'), 0)
		if hi != 0 || carry != 0 {
			return 0, fmt.Errorf("%w: %q", ErrOverflow, orig)
		}
		micro = lo
	}
	hi, pico := bits.Mul64(micro, uint64(Microdollar))
	limit := uint64(math.MaxInt64)
	if neg {
		limit++ // |MinInt64|
	}
	if hi != 0 || pico > limit {
		return 0, fmt.Errorf("%w: %q", ErrOverflow, orig)
	}
	if neg {
		return Money(-pico), nil // two's complement: also right for |MinInt64|
	}
	return Money(pico), nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// String formats m as dollars with 6 decimal places and a "$" sign, such as
// "$1.205000" or "-$0.000001". Picodollars are rounded to the nearest
// micro-dollar, halves away from zero, so String(-m) is "-" + String(m).
func (m Money) String() string {
	s := m.USD()
	if strings.HasPrefix(s, "-") {
		return "-$" + s[1:]
	}
	return "$" + s
}

// USD formats m as a plain decimal number of dollars with 6 decimal places,
// such as "1.205000" or "-0.000001", rounded like String. ParseUSD(m.USD())
// gives m back when m is a whole number of micro-dollars.
func (m Money) USD() string {
	neg := m < 0
	u := uint64(m)
	if neg {
		u = -u // two's complement: also right for MinMoney
	}
	micro := u / uint64(Microdollar)
	if u%uint64(Microdollar) >= uint64(Microdollar)/2 {
		micro++
	}
	sign := ""
	if neg && micro != 0 {
		sign = "-"
	}
	return fmt.Sprintf("%s%d.%06d", sign, micro/1_000_000, micro%1_000_000)
}

// Add returns m+n, or ErrOverflow if the sum is outside the range of Money.
func (m Money) Add(n Money) (Money, error) {
	s := m + n
	// Overflow happened iff both operands have the same sign and the sum's
	// sign differs.
	if (m >= 0) == (n >= 0) && (s >= 0) != (m >= 0) {
		return 0, fmt.Errorf("%w: %d + %d picodollars", ErrOverflow, m, n)
	}
	return s, nil
}

// Mul returns m*n, or ErrOverflow if the product is outside the range of
// Money.
func (m Money) Mul(n int64) (Money, error) {
	p, ok := mul64(int64(m), n)
	if !ok {
		return 0, fmt.Errorf("%w: %d * %d picodollars", ErrOverflow, m, n)
	}
	return Money(p), nil
}

// saturatingAdd returns m+n clamped to [MinMoney, MaxMoney].
func (m Money) saturatingAdd(n Money) Money {
	s, err := m.Add(n)
	if err != nil {
		if n > 0 {
			return MaxMoney
		}
		return MinMoney
	}
	return s
}

// mul64 returns a*b and whether it fits in an int64.
func mul64(a, b int64) (int64, bool) {
	if a == 0 || b == 0 {
		return 0, true
	}
	p := a * b
	if p/b != a || (a == -1 && b == math.MinInt64) || (b == -1 && a == math.MinInt64) {
		return 0, false
	}
	return p, true
}
