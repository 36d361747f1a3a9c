package prices

import (
	"encoding/json"
	"fmt"
	"strings"
)

// MarshalJSON encodes m exactly as a JSON string holding its decimal
// number of dollars, as Decimal formats it: "1.205000", or "0.0000025"
// when the amount is not a whole number of micro-dollars. A string, not a
// JSON number, so that no reader parses it into a float.
func (m Money) MarshalJSON() ([]byte, error) {
	return json.Marshal(m.Decimal())
}

// UnmarshalJSON decodes a decimal amount of dollars given as a JSON string
// ("1.205000", "0.0000025", "$3") or a JSON number (1.205), exactly: like
// ParseUSD, but with up to 12 decimal places (picodollars). It reads what
// MarshalJSON writes.
func (m *Money) UnmarshalJSON(b []byte) error {
	s := string(b)
	if strings.HasPrefix(s, `"`) {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	}
	v, err := parsePico(strings.TrimSpace(s))
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// parsePico is ParseUSD with up to 12 decimal places.
func parsePico(s string) (Money, error) {
	intPart, frac, _ := strings.Cut(s, ".")
	if len(frac) <= maxDecimals {
		return ParseUSD(s)
	}
	if len(frac) > 12 {
		if strings.Trim(frac[12:], "0") != "" {
			return 0, fmt.Errorf("%w: %q has more than 12 decimal places", ErrPrecision, s)
		}
		frac = frac[:12]
	}
	m, err := ParseUSD(intPart + "." + frac[:maxDecimals])
	if err != nil {
		return 0, err
	}
	tail := frac[maxDecimals:]
	if !allDigits(tail) {
		return 0, fmt.Errorf("%w: %q", ErrSyntax, s)
	}
	var pico Money
	for _, c := range tail + strings.Repeat("0", 12-len(frac)) {
		pico = pico*10 + Money(c-'0')
	}
	if strings.HasPrefix(s, "-") {
		pico = -pico
	}
	v, err := m.Add(pico)
	if err != nil {
		return 0, fmt.Errorf("%w: %q", ErrOverflow, s)
	}
	return v, nil
}

// Decimal formats m exactly as a plain decimal number of dollars, with 12
// decimal places trimmed of trailing zeros down to 6, such as "0.000002500"
// → "0.0000025", or "1.205000". Unlike USD it never rounds, so the
// per-row costs of an export sum to the job's cost.
func (m Money) Decimal() string {
	neg := m < 0
	u := uint64(m)
	if neg {
		u = -u
	}
	frac := fmt.Sprintf("%012d", u%uint64(Dollar))
	for len(frac) > maxDecimals && frac[len(frac)-1] == '0' {
		frac = frac[:len(frac)-1]
	}
	sign := ""
	if neg {
		sign = "-"
	}
	return fmt.Sprintf("%s%d.%s", sign, u/uint64(Dollar), frac)
}

// MarshalJSON encodes a known cost as its Money (a decimal string such as
// "1.205000") and an unknown cost as the string "unknown", never as 0.
func (c Cost) MarshalJSON() ([]byte, error) {
	if !c.Known {
		return json.Marshal("unknown")
	}
	return c.Amount.MarshalJSON()
}

// UnmarshalJSON decodes what MarshalJSON writes: "unknown" (or null) is an
// unknown cost, anything else a known amount as Money.UnmarshalJSON reads it.
func (c *Cost) UnmarshalJSON(b []byte) error {
	if s := string(b); s == `"unknown"` || s == "null" {
		*c = Cost{}
		return nil
	}
	var m Money
	if err := m.UnmarshalJSON(b); err != nil {
		return err
	}
	*c = Cost{Amount: m, Known: true}
	return nil
}
