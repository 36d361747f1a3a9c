package prices_test

import (
	"errors"
	"testing"

	"github.com/llmbatch/llmbatch/io/prices"
)

func TestParseUSD(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want prices.Money
		err  error
	}{
		{name: "Integer", in: "12", want: 12 * prices.Dollar},
		{name: "Cents", in: "12.50", want: 1250 * prices.Cent},
		{name: "Micro", in: "0.000001", want: prices.Microdollar},
		{name: "PricePerMillion", in: "0.025", want: 25_000 * prices.Microdollar},
		{name: "Zero", in: "0", want: 0},
		{name: "DollarSign", in: "$3", want: 3 * prices.Dollar},
		{name: "Spaces", in: "  1.5 ", want: 1_500_000 * prices.Microdollar},
		{name: "Negative", in: "-1.5", want: -1_500_000 * prices.Microdollar},
		{name: "NegativeDollar", in: "-$0.000001", want: -prices.Microdollar},
		{name: "Plus", in: "+2", want: 2 * prices.Dollar},
		{name: "TrailingZerosBeyondSix", in: "1.25000000", want: 1_250_000 * prices.Microdollar},
		{name: "Max", in: "9223372.036854", want: 9_223_372_036_854 * prices.Microdollar},
		{name: "Min", in: "-9223372.036854", want: -9_223_372_036_854 * prices.Microdollar},
		{name: "SevenDecimals", in: "0.0000001", err: prices.ErrPrecision},
		{name: "SevenDecimalsTrailingDigit", in: "1.2500001", err: prices.ErrPrecision},
		{name: "TooBig", in: "9223372.036855", err: prices.ErrOverflow},
		{name: "WayTooBig", in: "123456789012345678901234567890", err: prices.ErrOverflow},
		{name: "Empty", in: "", err: prices.ErrSyntax},
		{name: "OnlySign", in: "-", err: prices.ErrSyntax},
		{name: "OnlyDot", in: ".", err: prices.ErrSyntax},
		{name: "NoIntegerPart", in: ".5", err: prices.ErrSyntax},
		{name: "TrailingDot", in: "5.", err: prices.ErrSyntax},
		{name: "Exponent", in: "1e3", err: prices.ErrSyntax},
		{name: "Comma", in: "1,000", err: prices.ErrSyntax},
		{name: "TwoDots", in: "1.2.3", err: prices.ErrSyntax},
		{name: "InnerSpace", in: "1 000", err: prices.ErrSyntax},
		{name: "DoubleSign", in: "--1", err: prices.ErrSyntax},
		{name: "Letters", in: "abc", err: prices.ErrSyntax},
		{name: "DollarAfterDigits", in: "3$", err: prices.ErrSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := prices.ParseUSD(tt.in)
			if !errors.Is(err, tt.err) {
				t.Fatalf("ParseUSD(%q) error = %v, want %v", tt.in, err, tt.err)
			}
			if got != tt.want {
				t.Errorf("ParseUSD(%q) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}

func TestMoney_String(t *testing.T) {
	tests := []struct {
		name    string
		in      prices.Money
		want    string
		wantUSD string
	}{
		{name: "Zero", in: 0, want: "$0.000000", wantUSD: "0.000000"},
		{name: "Example", in: 1_205_000 * prices.Microdollar, want: "$1.205000", wantUSD: "1.205000"},
		{name: "Micro", in: prices.Microdollar, want: "$0.000001", wantUSD: "0.000001"},
		{name: "Large", in: 1_234_567 * prices.Dollar, want: "$1234567.000000", wantUSD: "1234567.000000"},
		{name: "RoundDown", in: 1_234_567_499_999, want: "$1.234567", wantUSD: "1.234567"},
		{name: "HalfRoundsUp", in: 1_234_567_500_000, want: "$1.234568", wantUSD: "1.234568"},
		{name: "HalfCarries", in: 999_999_500_000, want: "$1.000000", wantUSD: "1.000000"},
		{name: "Picodollar", in: 1, want: "$0.000000", wantUSD: "0.000000"},
		{name: "HalfMicro", in: 500_000, want: "$0.000001", wantUSD: "0.000001"},
		{name: "Negative", in: -1_205_000 * prices.Microdollar, want: "-$1.205000", wantUSD: "-1.205000"},
		{name: "NegativeHalfAwayFromZero", in: -500_000, want: "-$0.000001", wantUSD: "-0.000001"},
		{name: "NegativeRoundsToZero", in: -1, want: "$0.000000", wantUSD: "0.000000"},
		{name: "Max", in: prices.MaxMoney, want: "$9223372.036855", wantUSD: "9223372.036855"},
		{name: "Min", in: prices.MinMoney, want: "-$9223372.036855", wantUSD: "-9223372.036855"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.in.String(); got != tt.want {
				t.Errorf("Money(%d).String() = %q, want %q", int64(tt.in), got, tt.want)
			}
			if got := tt.in.USD(); got != tt.wantUSD {
				t.Errorf("Money(%d).USD() = %q, want %q", int64(tt.in), got, tt.wantUSD)
			}
		})
	}
}

func TestMoney_RoundTrip(t *testing.T) {
	for _, m := range []prices.Money{
		0, prices.Microdollar, -prices.Microdollar, 1250 * prices.Cent, 1_205_000 * prices.Microdollar,
		123_456_789 * prices.Microdollar, -987_654_321 * prices.Microdollar,
		9_223_372_036_854 * prices.Microdollar, -9_223_372_036_854 * prices.Microdollar,
	} {
		for _, s := range []string{m.USD(), m.String()} {
			got, err := prices.ParseUSD(s)
			if err != nil {
				t.Errorf("ParseUSD(%q) error = %v", s, err)
				continue
			}
			if got != m {
				t.Errorf("ParseUSD(%q) = %d, want %d", s, got, m)
			}
		}
	}
	for _, s := range []string{"12.50", "0.025", "0", "-3.000001", "9223372.036854"} {
		m, err := prices.ParseUSD(s)
		if err != nil {
			t.Fatalf("ParseUSD(%q) error = %v", s, err)
		}
		back, err := prices.ParseUSD(m.USD())
		if err != nil || back != m {
			t.Errorf("ParseUSD(ParseUSD(%q).USD() = %q) = %d, %v, want %d", s, m.USD(), back, err, m)
		}
	}
}

func TestMoney_AddMul(t *testing.T) {
	tests := []struct {
		name string
		op   func() (prices.Money, error)
		want prices.Money
		err  error
	}{
		{name: "Add", op: func() (prices.Money, error) { return prices.Dollar.Add(prices.Cent) }, want: 101 * prices.Cent},
		{name: "AddNegative", op: func() (prices.Money, error) { return prices.Dollar.Add(-prices.Cent) }, want: 99 * prices.Cent},
		{name: "AddToMax", op: func() (prices.Money, error) { return (prices.MaxMoney - 1).Add(1) }, want: prices.MaxMoney},
		{name: "AddOverflow", op: func() (prices.Money, error) { return prices.MaxMoney.Add(1) }, err: prices.ErrOverflow},
		{name: "AddUnderflow", op: func() (prices.Money, error) { return prices.MinMoney.Add(-1) }, err: prices.ErrOverflow},
		{name: "AddMinToMax", op: func() (prices.Money, error) { return prices.MinMoney.Add(prices.MaxMoney) }, want: -1},
		{name: "Mul", op: func() (prices.Money, error) { return prices.Microdollar.Mul(1_000_000) }, want: prices.Dollar},
		{name: "MulZero", op: func() (prices.Money, error) { return prices.MaxMoney.Mul(0) }, want: 0},
		{name: "MulNegative", op: func() (prices.Money, error) { return prices.Dollar.Mul(-3) }, want: -3 * prices.Dollar},
		{name: "MulOverflow", op: func() (prices.Money, error) { return prices.Dollar.Mul(10_000_000) }, err: prices.ErrOverflow},
		{name: "MulMinByMinusOne", op: func() (prices.Money, error) { return prices.MinMoney.Mul(-1) }, err: prices.ErrOverflow},
		{name: "MulMinusOneByMin", op: func() (prices.Money, error) { return prices.Money(-1).Mul(int64(prices.MinMoney)) }, err: prices.ErrOverflow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.op()
			if !errors.Is(err, tt.err) {
				t.Fatalf("error = %v, want %v", err, tt.err)
			}
			if got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
		})
	}
}
