// Package prices prices token usage exactly: an embedded, dated table of
// per-model list prices (USD per 1M tokens for input, cached input and
// output, plus batch and flex tier multipliers), a Money type in
// picodollars whose sums never round, and a Totals accumulator that reports
// an unknown model's cost as unknown, never as zero.
//
// Cost follows the billing rule of the Responses API usage object: cached
// tokens are a subset of input tokens and reasoning tokens a subset of output
// tokens, so
//
//	cost = (input − cached)·input price + cached·cached price + output·output price
//
// and neither subset is added a second time.
package prices

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// embeddedTable is prices.json; a string, so it cannot be modified.
//
//go:embed prices.json
var embeddedTable string

// Tier names understood by Table.Multiplier.
const (
	TierDefault = "default" // standard prices, multiplier 1
	TierBatch   = "batch"   // the Batch API; the table's "batch" multiplier
	TierFlex    = "flex"    // service_tier "flex"; the table's "flex" multiplier
)

// providerPrefix is the prefix gateways such as OpenRouter and LiteLLM put
// before OpenAI model names.
const providerPrefix = "openai/"

// Table is a price table: list prices per model and tier multipliers, with
// the date and source they were taken from. A Table is immutable once built,
// so it is safe for concurrent use; Merge returns a new Table. The zero value
// is an empty table with no prices and no tier multipliers.
type Table struct {
	asOf   string
	source string
	tiers  map[string]ratio // "batch", "flex"
	models map[string]Price
	meta   map[string]meta // per model: where its price came from

	// resolved caches Resolve's answers (a name that is not an entry
	// costs a scan of every entry): model -> resolution, at most
	// maxResolved of them. Tables are not changed once made.
	resolved  sync.Map
	nResolved atomic.Int64
}

// resolution is a cached answer of Resolve.
type resolution struct {
	entry string
	ok    bool
}

// maxResolved bounds Table.resolved: a journal's models are few, and a
// file of many distinct names is still priced, only uncached.
const maxResolved = 1024

// meta is the provenance of one model's price: the as_of and source of the
// file it was loaded from, and its note.
type meta struct{ asOf, source, note string }

// Entry is one model's row of a Table, with where its price came from.
type Entry struct {
	Model  string
	Price  Price
	AsOf   string // the model's own as_of, else its table's, or ""
	Source string // source of that table, or ""
	Note   string // the model's note (provenance, confidence), or ""
}

// ratio is a non-negative rational num/den in lowest terms, den > 0.
type ratio struct{ num, den int64 }

// Default returns the table embedded in the binary (prices.json), dated by
// AsOf. Each call parses the embedded JSON again and returns a new Table.
func Default() *Table {
	t, err := Load(strings.NewReader(embeddedTable))
	if err != nil {
		// The embedded file is checked by the package's tests.
		panic("prices: embedded prices.json: " + err.Error())
	}
	return t
}

// fileTable is the JSON form of a Table, read by Load.
type fileTable struct {
	AsOf   string               `json:"as_of"`
	Source string               `json:"source"`
	Batch  *decimal             `json:"batch"`
	Flex   *decimal             `json:"flex"`
	Models map[string]fileModel `json:"models"`
}

type fileModel struct {
	Input       *decimal `json:"input"`
	CachedInput *decimal `json:"cached_input"`
	Output      *decimal `json:"output"`
	AsOf        string   `json:"as_of"` // when this price was taken, if not the table's as_of
	Note        string   `json:"note"`  // provenance or confidence, shown by Entries
}

// decimal is an exact amount read from a JSON string or number.
type decimal struct{ m Money }

func (d *decimal) UnmarshalJSON(b []byte) error {
	var s string
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	} else {
		s = string(b)
	}
	m, err := parseDecimal(s, false)
	if err != nil {
		return err
	}
	d.m = m
	return nil
}

// Load reads a price table in the JSON format of the embedded prices.json:
//
//	{"as_of": "2026-07-24", "source": "where the prices come from",
//	 "batch": "0.5", "flex": "0.5",
//	 "models": {"gpt-5-mini": {"input": "0.25", "cached_input": "0.025",
//	                           "output": "2.00", "note": "free text"}}}
//
// Prices are USD per 1M tokens and multipliers plain factors, written as
// JSON strings (or JSON numbers without exponent) with at most 6 decimal
// places, and parsed exactly. A model may carry its own "as_of" (a price
// taken on another day than the table's) and a free-text "note"; both are
// reported by Entries. Every top-level field is optional, so an
// override file for Merge may list only models. Unknown fields are errors,
// so that a misspelt field in a --prices file is not silently priced at zero. Per model, "input" and
// "output" are required; a missing "cached_input" is priced like "input"
// (no discount assumed). Prices must not be negative. "as_of", when given,
// must be a YYYY-MM-DD date; "batch" and "flex" are decimal multipliers of
// the standard prices, absent meaning unknown.
func Load(r io.Reader) (*Table, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var f fileTable
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("prices: load table: %w", err)
	}
	if dec.More() {
		return nil, errors.New("prices: load table: data after the JSON object")
	}
	if f.AsOf != "" {
		if _, err := time.Parse(time.DateOnly, f.AsOf); err != nil {
			return nil, fmt.Errorf("prices: load table: as_of %q is not a YYYY-MM-DD date", f.AsOf)
		}
	}
	t := &Table{asOf: f.AsOf, source: f.Source, tiers: map[string]ratio{}, models: map[string]Price{}, meta: map[string]meta{}}
	for name, d := range map[string]*decimal{TierBatch: f.Batch, TierFlex: f.Flex} {
		if d == nil {
			continue
		}
		if d.m < 0 {
			return nil, fmt.Errorf("prices: load table: %s multiplier %s is negative", name, d.m.USD())
		}
		t.tiers[name] = newRatio(int64(d.m/Microdollar), 1_000_000)
	}
	for name, m := range f.Models {
		if name == "" {
			return nil, errors.New("prices: load table: empty model name")
		}
		if m.Input == nil || m.Output == nil {
			return nil, fmt.Errorf("prices: load table: model %q: input and output prices are required", name)
		}
		p := Price{Input: m.Input.m, CachedInput: m.Input.m, Output: m.Output.m}
		if m.CachedInput != nil {
			p.CachedInput = m.CachedInput.m
		}
		if p.Input < 0 || p.CachedInput < 0 || p.Output < 0 {
			return nil, fmt.Errorf("prices: load table: model %q: negative price", name)
		}
		t.models[name] = p
		md := meta{asOf: f.AsOf, source: f.Source, note: m.Note}
		if m.AsOf != "" {
			if _, err := time.Parse(time.DateOnly, m.AsOf); err != nil {
				return nil, fmt.Errorf("prices: load table: model %q: as_of %q is not a YYYY-MM-DD date", name, m.AsOf)
			}
			md.asOf = m.AsOf
		}
		t.meta[name] = md
	}
	return t, nil
}

func newRatio(num, den int64) ratio {
	a, b := num, den
	for b != 0 {
		a, b = b, a%b
	}
	if a == 0 {
		return ratio{0, 1}
	}
	return ratio{num / a, den / a}
}

// Merge returns a new table holding t's models and o's, o's price winning
// where both name a model. o's as_of, source and tier multipliers replace
// t's where o sets them. Neither t nor o is modified; a nil o returns a copy
// of t.
func (t *Table) Merge(o *Table) *Table {
	m := &Table{tiers: map[string]ratio{}, models: map[string]Price{}, meta: map[string]meta{}}
	for _, src := range []*Table{t, o} {
		if src == nil {
			continue
		}
		if src.asOf != "" {
			m.asOf = src.asOf
		}
		if src.source != "" {
			m.source = src.source
		}
		maps.Copy(m.tiers, src.tiers)
		maps.Copy(m.models, src.models)
		for name := range src.models {
			m.meta[name] = src.meta[name] // a model's provenance goes with its price
		}
	}
	return m
}

// AsOf returns the date the table's prices were taken, as YYYY-MM-DD, or ""
// if the table does not say.
func (t *Table) AsOf() string { return t.asOf }

// Source returns where the table's prices come from, or "".
func (t *Table) Source() string { return t.source }

// Models returns the model names the table prices, sorted.
func (t *Table) Models() []string { return slices.Sorted(maps.Keys(t.models)) }

// Entries returns every model the table prices, sorted by name, each with
// the as_of, source and note of the file its price was loaded from (so a
// model from a Merge override shows the override's date and source).
func (t *Table) Entries() []Entry {
	out := make([]Entry, 0, len(t.models))
	for _, name := range t.Models() {
		md := t.meta[name]
		out = append(out, Entry{Model: name, Price: t.models[name], AsOf: md.asOf, Source: md.source, Note: md.note})
	}
	return out
}

// Lookup returns the price of model, resolved as by Resolve.
func (t *Table) Lookup(model string) (Price, bool) {
	name, ok := t.Resolve(model)
	if !ok {
		return Price{}, false
	}
	return t.models[name], true
}

// Resolve returns the table entry that prices model, trying in order:
//
//  1. model itself;
//  2. model without an "openai/" provider prefix, as gateways send it;
//  3. that name without a trailing snapshot date, "-YYYY-MM-DD" or
//     "-YYYYMMDD": "gpt-5-mini-2025-08-07" is priced as "gpt-5-mini",
//     "o3-2025-04-16" as "o3".
//
// Each step matches the entry exactly first and then ignoring case, so a
// name written in another case by a user or a gateway is still priced
// ("GPT-4o-Mini" as "gpt-4o-mini", "OpenAI/GPT-5-2025-08-07" as "gpt-5").
//
// Nothing else is stripped, so a different model is never aliased to a
// family it merely starts with: "gpt-5.1", "gpt-5-mini-high" or "gpt-5-pro"
// do not resolve to "gpt-5" or "gpt-5-mini". A dated name listed in the
// table wins over its family, so an override file can price one snapshot.
func (t *Table) Resolve(model string) (string, bool) {
	if r, ok := t.resolved.Load(model); ok {
		r := r.(resolution)
		return r.entry, r.ok
	}
	entry, ok := t.resolve(model)
	if t.nResolved.Load() < maxResolved {
		if _, loaded := t.resolved.LoadOrStore(model, resolution{entry, ok}); !loaded {
			t.nResolved.Add(1)
		}
	}
	return entry, ok
}

// resolve is Resolve without the cache.
func (t *Table) resolve(model string) (string, bool) {
	if entry, ok := t.find(model); ok {
		return entry, true
	}
	name := model
	if len(name) > len(providerPrefix) && strings.EqualFold(name[:len(providerPrefix)], providerPrefix) {
		name = name[len(providerPrefix):]
		if entry, ok := t.find(name); ok {
			return entry, true
		}
	}
	if family, ok := stripSnapshot(name); ok {
		if entry, ok := t.find(family); ok {
			return entry, true
		}
	}
	return "", false
}

// find returns the entry named name, matched exactly or else ignoring case.
// Where several entries differ only in case (possible after Merge with an
// override file), the alphabetically first of them is used, so the answer
// does not depend on map order.
func (t *Table) find(name string) (string, bool) {
	if _, ok := t.models[name]; ok {
		return name, true
	}
	found := ""
	for entry := range t.models {
		if strings.EqualFold(entry, name) && (found == "" || entry < found) {
			found = entry
		}
	}
	return found, found != ""
}

// stripSnapshot removes a trailing "-YYYY-MM-DD" or "-YYYYMMDD" from name.
func stripSnapshot(name string) (string, bool) {
	for _, layout := range []string{"-2006-01-02", "-20060102"} {
		n := len(layout)
		if len(name) <= n || !isDate(name[len(name)-n:], layout) {
			continue
		}
		return name[:len(name)-n], true
	}
	return "", false
}

// isDate reports whether s has exactly layout's shape of digits and dashes
// and is a valid calendar date.
func isDate(s, layout string) bool {
	for i := 0; i < len(s); i++ {
		if (layout[i] == '-') != (s[i] == '-') {
			return false
		}
		if s[i] != '-' && (s[i] < '0' || s[i] > '9') {
			return false
		}
	}
	_, err := time.Parse(layout, s)
	return err == nil
}

// Multiplier returns the factor num/den by which tier scales the standard
// prices, for use with Price.Scale. "", "default" and "standard" are 1/1;
// "batch" and "flex" are the table's multipliers when it has them. Any other
// tier (such as "priority"), or a multiplier missing from the table, gives
// ok false: its price is unknown. den is always positive.
func (t *Table) Multiplier(tier string) (num, den int64, ok bool) {
	switch tier {
	case "", TierDefault, "standard":
		return 1, 1, true
	}
	r, ok := t.tiers[tier]
	if !ok {
		return 0, 1, false
	}
	return r.num, r.den, true
}
