package prices_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/llmbatch/llmbatch/io/prices"
)

// mustLoad loads a table from JSON text or fails the test.
func mustLoad(tb testing.TB, s string) *prices.Table {
	tb.Helper()
	t, err := prices.Load(strings.NewReader(s))
	if err != nil {
		tb.Fatalf("Load() error = %v", err)
	}
	return t
}

func TestDefault(t *testing.T) {
	table := prices.Default()
	if got, want := table.AsOf(), "2026-07-24"; got != want {
		t.Errorf("AsOf() = %q, want %q", got, want)
	}
	for _, s := range []string{"litellm", "Wei-Shaw/model-price-repo", "f9ff147", "deploybase.ai"} {
		if !strings.Contains(table.Source(), s) {
			t.Errorf("Source() = %q, want it to mention %q", table.Source(), s)
		}
	}

	// API-NOTES.md §8, USD per 1M tokens: input, cached input, output.
	want := map[string][3]string{
		"gpt-5":        {"1.25", "0.125", "10.00"},
		"gpt-5-mini":   {"0.25", "0.025", "2.00"},
		"gpt-5-nano":   {"0.05", "0.005", "0.40"},
		"gpt-4.1":      {"2.00", "0.50", "8.00"},
		"gpt-4.1-mini": {"0.40", "0.10", "1.60"},
		"gpt-4o":       {"2.50", "1.25", "10.00"},
		"gpt-4o-mini":  {"0.15", "0.075", "0.60"},
		"o3":           {"2.00", "0.50", "8.00"},
		"o4-mini":      {"1.10", "0.275", "4.40"},
		// Not in §8; sources in their notes.
		"gpt-4.1-nano": {"0.10", "0.025", "0.40"},
		"o1":           {"15.00", "7.50", "60.00"},
		"o3-mini":      {"1.10", "0.55", "4.40"},

		"text-embedding-3-small": {"0.02", "0.02", "0"},
		"text-embedding-3-large": {"0.13", "0.13", "0"},
		"text-embedding-ada-002": {"0.10", "0.10", "0"},
	}
	var names []string
	for name := range want {
		names = append(names, name)
	}
	slices.Sort(names)
	if got := table.Models(); !slices.Equal(got, names) {
		t.Errorf("Models() = %q, want %q", got, names)
	}
	for name, w := range want {
		got, ok := table.Lookup(name)
		if !ok {
			t.Errorf("Lookup(%q) not found", name)
			continue
		}
		wantPrice := prices.Price{Input: mustUSD(t, w[0]), CachedInput: mustUSD(t, w[1]), Output: mustUSD(t, w[2])}
		if got != wantPrice {
			t.Errorf("Lookup(%q) = %+v, want %+v", name, got, wantPrice)
		}
	}

	for _, tier := range []string{"batch", "flex"} {
		num, den, ok := table.Multiplier(tier)
		if !ok || num != 1 || den != 2 {
			t.Errorf("Multiplier(%q) = %d, %d, %v, want 1, 2, true", tier, num, den, ok)
		}
	}

	// Each call returns an independent table.
	if prices.Default() == table {
		t.Error("Default() returned the same *Table twice")
	}
}

func TestTable_Resolve(t *testing.T) {
	table := prices.Default().Merge(mustLoad(t, `{"models": {
		"gpt-4o-2024-05-13": {"input": "5", "cached_input": "5", "output": "15"}}}`))
	tests := []struct {
		model  string
		want   string // "" for unknown
		reason string
	}{
		{model: "gpt-5-mini", want: "gpt-5-mini"},
		{model: "gpt-5-mini-2025-08-07", want: "gpt-5-mini", reason: "dated snapshot"},
		{model: "gpt-4o-2024-08-06", want: "gpt-4o", reason: "dated snapshot"},
		{model: "o3-2025-04-16", want: "o3", reason: "dated snapshot"},
		{model: "gpt-4.1-2025-04-14", want: "gpt-4.1", reason: "dated snapshot"},
		{model: "gpt-4o-mini-2024-07-18", want: "gpt-4o-mini", reason: "only the date goes, not -mini"},
		{model: "o4-mini-20250416", want: "o4-mini", reason: "compact date"},
		{model: "openai/gpt-5-nano", want: "gpt-5-nano", reason: "gateway prefix"},
		{model: "OpenAI/gpt-5", want: "gpt-5", reason: "prefix case-insensitive"},
		{model: "openai/gpt-5-mini-2025-08-07", want: "gpt-5-mini", reason: "prefix and date"},
		{model: "gpt-4o-2024-05-13", want: "gpt-4o-2024-05-13", reason: "an exact dated entry wins"},
		{model: "gpt-5.1", reason: "a newer model, priced differently"},
		{model: "gpt-5.1-2025-11-13", reason: "the family gpt-5.1 is not in the table"},
		{model: "gpt-5-mini-high", reason: "not a snapshot suffix"},
		{model: "gpt-5-pro", reason: "a different model"},
		{model: "gpt-5-chat-latest", reason: "not a date"},
		{model: "gpt-4o-2024-13-01", reason: "month 13 is not a date"},
		{model: "gpt-4o-2024-8-6", reason: "date digits missing"},
		{model: "gpt-4o-0806", reason: "MMDD is not a full date"},
		{model: "gpt-4o-2024-08-06-2024-08-06", reason: "only one suffix is stripped"},
		{model: "anthropic/gpt-5", reason: "another provider's model"},
		{model: "openai/", reason: "prefix only"},
		{model: "-2024-08-06", reason: "date only"},
		{model: "GPT-5", want: "gpt-5", reason: "case-insensitive"},
		{model: "GPT-4o-Mini", want: "gpt-4o-mini", reason: "case-insensitive"},
		{model: "OpenAI/GPT-5-MINI-2025-08-07", want: "gpt-5-mini", reason: "prefix, date and case"},
		{model: "GPT-4O-2024-05-13", want: "gpt-4o-2024-05-13", reason: "an exact dated entry wins, in any case"},
		{model: "GPT-5.1", reason: "case folding aliases nothing new"},
		{model: "", reason: "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.model, func(t *testing.T) {
			got, ok := table.Resolve(tt.model)
			if got != tt.want || ok != (tt.want != "") {
				t.Errorf("Resolve(%q) = %q, %v, want %q, %v (%s)", tt.model, got, ok, tt.want, tt.want != "", tt.reason)
			}
			p, ok := table.Lookup(tt.model)
			if ok != (tt.want != "") {
				t.Errorf("Lookup(%q) ok = %v, want %v", tt.model, ok, tt.want != "")
			}
			if !ok && p != (prices.Price{}) {
				t.Errorf("Lookup(%q) = %+v for an unknown model, want zero Price", tt.model, p)
			}
		})
	}
}

func TestTable_Resolve_caseCollision(t *testing.T) {
	table := mustLoad(t, `{"models": {
		"gpt-x": {"input": "1", "output": "1"},
		"GPT-X": {"input": "2", "output": "2"}}}`)
	for model, want := range map[string]string{"gpt-x": "gpt-x", "GPT-X": "GPT-X", "Gpt-X": "GPT-X", "openai/gPT-x": "GPT-X"} {
		if got, ok := table.Resolve(model); !ok || got != want {
			t.Errorf("Resolve(%q) = %q, %v, want %q (exact first, else the first in sort order)", model, got, ok, want)
		}
	}
}

func TestLoad(t *testing.T) {
	table := mustLoad(t, `{
		"as_of": "2027-01-02",
		"source": "my contract",
		"batch": "0.4",
		"models": {
			"m-str":    {"input": "1.5", "cached_input": "0.15", "output": "6"},
			"m-number": {"input": 0.25, "cached_input": 0.025, "output": 2.00},
			"m-nocache": {"input": "3", "output": "9", "note": "no cache discount"}
		}}`)
	if got, want := table.AsOf(), "2027-01-02"; got != want {
		t.Errorf("AsOf() = %q, want %q", got, want)
	}
	if got, want := table.Source(), "my contract"; got != want {
		t.Errorf("Source() = %q, want %q", got, want)
	}
	tests := []struct {
		model string
		want  prices.Price
	}{
		{model: "m-str", want: prices.Price{Input: mustUSD(t, "1.5"), CachedInput: mustUSD(t, "0.15"), Output: mustUSD(t, "6")}},
		{model: "m-number", want: prices.Price{Input: mustUSD(t, "0.25"), CachedInput: mustUSD(t, "0.025"), Output: mustUSD(t, "2")}},
		{model: "m-nocache", want: prices.Price{Input: mustUSD(t, "3"), CachedInput: mustUSD(t, "3"), Output: mustUSD(t, "9")}},
	}
	for _, tt := range tests {
		if got, ok := table.Lookup(tt.model); !ok || got != tt.want {
			t.Errorf("Lookup(%q) = %+v, %v, want %+v, true", tt.model, got, ok, tt.want)
		}
	}
	if num, den, ok := table.Multiplier("batch"); !ok || num != 2 || den != 5 {
		t.Errorf("Multiplier(batch) = %d, %d, %v, want 2, 5, true", num, den, ok)
	}
	if _, _, ok := table.Multiplier("flex"); ok {
		t.Error("Multiplier(flex) found in a table without flex")
	}
}

func TestLoad_Errors(t *testing.T) {
	tests := []struct {
		name string
		json string
		err  error  // sentinel, if any
		msg  string // substring of the error
	}{
		{name: "NotJSON", json: `nope`, msg: "invalid character"},
		{name: "Empty", json: ``, msg: "EOF"},
		{name: "UnknownTopField", json: `{"asof": "2026-01-01"}`, msg: `unknown field "asof"`},
		{name: "UnknownModelField", json: `{"models": {"m": {"input": "1", "output": "1", "cached_inputs": "0.1"}}}`, msg: `unknown field "cached_inputs"`},
		{name: "SevenDecimals", json: `{"models": {"m": {"input": "0.0000001", "output": "1"}}}`, err: prices.ErrPrecision},
		{name: "Exponent", json: `{"models": {"m": {"input": 1e-3, "output": "1"}}}`, err: prices.ErrSyntax},
		{name: "BadString", json: `{"models": {"m": {"input": "one", "output": "1"}}}`, err: prices.ErrSyntax},
		{name: "Bool", json: `{"models": {"m": {"input": true, "output": "1"}}}`, err: prices.ErrSyntax},
		{name: "TooBig", json: `{"models": {"m": {"input": "99999999", "output": "1"}}}`, err: prices.ErrOverflow},
		{name: "Negative", json: `{"models": {"m": {"input": "-1", "output": "1"}}}`, msg: "negative price"},
		{name: "MissingOutput", json: `{"models": {"m": {"input": "1"}}}`, msg: "required"},
		{name: "MissingInput", json: `{"models": {"m": {"output": "1", "cached_input": "0.1"}}}`, msg: "required"},
		{name: "NullInput", json: `{"models": {"m": {"input": null, "output": "1"}}}`, msg: "required"},
		{name: "EmptyModelName", json: `{"models": {"": {"input": "1", "output": "1"}}}`, msg: "empty model name"},
		{name: "BadDate", json: `{"as_of": "24.07.2026"}`, msg: "YYYY-MM-DD"},
		{name: "BadModelDate", json: `{"models": {"m": {"input": "1", "output": "1", "as_of": "2026-13-01"}}}`, msg: `model "m": as_of "2026-13-01" is not a YYYY-MM-DD`},
		{name: "NegativeMultiplier", json: `{"flex": "-0.5"}`, msg: "negative"},
		{name: "TrailingData", json: `{} {}`, msg: "after the JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := prices.Load(strings.NewReader(tt.json))
			if err == nil {
				t.Fatalf("Load(%s) error = nil, want an error", tt.json)
			}
			if tt.err != nil && !errors.Is(err, tt.err) {
				t.Errorf("Load(%s) error = %v, want %v", tt.json, err, tt.err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("Load(%s) error = %q, want it to contain %q", tt.json, err, tt.msg)
			}
		})
	}
}

func TestTable_Merge(t *testing.T) {
	base := prices.Default()
	override := mustLoad(t, `{
		"as_of": "2026-09-01",
		"flex": "0.25",
		"models": {
			"gpt-5-mini": {"input": "0.20", "cached_input": "0.02", "output": "1.60"},
			"my-local-model": {"input": "0", "cached_input": "0", "output": "0"}
		}}`)
	merged := base.Merge(override)

	tests := []struct {
		model string
		want  prices.Price
	}{
		{model: "gpt-5-mini", want: prices.Price{Input: mustUSD(t, "0.20"), CachedInput: mustUSD(t, "0.02"), Output: mustUSD(t, "1.60")}},
		{model: "gpt-5-mini-2025-08-07", want: prices.Price{Input: mustUSD(t, "0.20"), CachedInput: mustUSD(t, "0.02"), Output: mustUSD(t, "1.60")}},
		{model: "my-local-model", want: prices.Price{}},
		{model: "gpt-5", want: mustPrice(t, "gpt-5")},
	}
	for _, tt := range tests {
		if got, ok := merged.Lookup(tt.model); !ok || got != tt.want {
			t.Errorf("merged Lookup(%q) = %+v, %v, want %+v, true", tt.model, got, ok, tt.want)
		}
	}
	if got, want := len(merged.Models()), len(base.Models())+1; got != want {
		t.Errorf("len(merged.Models()) = %d, want %d", got, want)
	}
	if got, want := merged.AsOf(), "2026-09-01"; got != want {
		t.Errorf("merged AsOf() = %q, want %q", got, want)
	}
	if got, want := merged.Source(), base.Source(); got != want {
		t.Errorf("merged Source() = %q, want the base's %q", got, want)
	}
	if num, den, _ := merged.Multiplier("flex"); num != 1 || den != 4 {
		t.Errorf("merged Multiplier(flex) = %d/%d, want 1/4", num, den)
	}
	if num, den, _ := merged.Multiplier("batch"); num != 1 || den != 2 {
		t.Errorf("merged Multiplier(batch) = %d/%d, want the base's 1/2", num, den)
	}

	// Each entry keeps the provenance of the file its price came from.
	entries := merged.Entries()
	if len(entries) != len(merged.Models()) {
		t.Fatalf("len(Entries()) = %d, want %d", len(entries), len(merged.Models()))
	}
	for _, e := range entries {
		switch e.Model {
		case "gpt-5-mini", "my-local-model":
			if e.AsOf != "2026-09-01" || e.Source != "" || e.Note != "" {
				t.Errorf("Entries() %s = as_of %q source %q note %q, want the override's 2026-09-01, no source, no note", e.Model, e.AsOf, e.Source, e.Note)
			}
		case "gpt-4.1-nano":
			if e.AsOf != "2026-05-27" || e.Source != base.Source() {
				t.Errorf("Entries() gpt-4.1-nano = %+v, want its own as_of 2026-05-27 and the embedded source", e)
			}
		case "gpt-5":
			if e.AsOf != "2026-07-24" || e.Source != base.Source() || !strings.Contains(e.Note, "confidence high") || e.Price != mustPrice(t, "gpt-5") {
				t.Errorf("Entries() gpt-5 = %+v, want the embedded table's date, source, note and price", e)
			}
		}
	}

	// Neither input is modified.
	if got, want := mustPrice(t, "gpt-5-mini").Input, mustUSD(t, "0.25"); got != want {
		t.Errorf("base gpt-5-mini input after Merge = %v, want %v", got, want)
	}
	if _, ok := base.Lookup("my-local-model"); ok {
		t.Error("Merge added a model to its receiver")
	}
	if _, ok := override.Lookup("gpt-5"); ok {
		t.Error("Merge added a model to its argument")
	}
	if got := base.Merge(nil).Models(); !slices.Equal(got, base.Models()) {
		t.Errorf("Merge(nil).Models() = %q, want %q", got, base.Models())
	}
}

func TestTable_Multiplier(t *testing.T) {
	table := prices.Default()
	tests := []struct {
		tier     string
		num, den int64
		ok       bool
	}{
		{tier: "", num: 1, den: 1, ok: true},
		{tier: "default", num: 1, den: 1, ok: true},
		{tier: "standard", num: 1, den: 1, ok: true},
		{tier: "batch", num: 1, den: 2, ok: true},
		{tier: "flex", num: 1, den: 2, ok: true},
		{tier: "priority", num: 0, den: 1, ok: false},
		{tier: "auto", num: 0, den: 1, ok: false},
	}
	for _, tt := range tests {
		num, den, ok := table.Multiplier(tt.tier)
		if num != tt.num || den != tt.den || ok != tt.ok {
			t.Errorf("Multiplier(%q) = %d, %d, %v, want %d, %d, %v", tt.tier, num, den, ok, tt.num, tt.den, tt.ok)
		}
	}
}
