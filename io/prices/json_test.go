package prices_test

import (
	"encoding/json"
	"testing"

	"github.com/llmbatch/llmbatch/io/prices"
)

func TestMoney_JSON(t *testing.T) {
	tests := []struct {
		in   prices.Money
		want string
	}{
		{in: 0, want: `"0.000000"`},
		{in: 1_205_000 * prices.Microdollar, want: `"1.205000"`},
		{in: -prices.Microdollar, want: `"-0.000001"`},
		{in: 2_500_000, want: `"0.0000025"`},
		{in: -1_000_001, want: `"-0.000001000001"`},
		{in: prices.MaxMoney, want: `"9223372.036854775807"`},
	}
	for _, tt := range tests {
		b, err := json.Marshal(tt.in)
		if err != nil || string(b) != tt.want {
			t.Errorf("Marshal(%d) = %s, %v, want %s", tt.in, b, err, tt.want)
		}
		var back prices.Money
		if err := json.Unmarshal(b, &back); err != nil || back != tt.in {
			t.Errorf("Unmarshal(%s) = %d, %v, want %d", b, back, err, tt.in)
		}
	}
	var m prices.Money
	if err := json.Unmarshal([]byte(`12.5`), &m); err != nil || m != 1250*prices.Cent {
		t.Errorf("Unmarshal(12.5) = %d, %v", m, err)
	}
	if err := json.Unmarshal([]byte(`"0.0000000000001"`), &m); err == nil {
		t.Error("Unmarshal of 13 decimals: no error")
	}
	if err := json.Unmarshal([]byte(`"1.00000000000000"`), &m); err != nil || m != prices.Dollar {
		t.Errorf("Unmarshal of trailing zeros = %d, %v", m, err)
	}
}

func TestCost_JSON(t *testing.T) {
	for _, c := range []prices.Cost{{}, {Amount: 3 * prices.Cent, Known: true}, {Known: true}} {
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		var back prices.Cost
		if err := json.Unmarshal(b, &back); err != nil || back != c {
			t.Errorf("round trip of %+v via %s = %+v, %v", c, b, back, err)
		}
	}
	if b, _ := json.Marshal(prices.Cost{}); string(b) != `"unknown"` {
		t.Errorf("unknown cost marshals as %s", b)
	}
}

func TestMoney_Decimal(t *testing.T) {
	tests := []struct {
		in   prices.Money
		want string
	}{
		{0, "0.000000"},
		{1, "0.000000000001"},
		{2_500_000, "0.0000025"},
		{1_205_000 * prices.Microdollar, "1.205000"},
		{-2_500_000, "-0.0000025"},
		{prices.MaxMoney, "9223372.036854775807"},
	}
	for _, tt := range tests {
		if got := tt.in.Decimal(); got != tt.want {
			t.Errorf("Money(%d).Decimal() = %q, want %q", tt.in, got, tt.want)
		}
	}
}
