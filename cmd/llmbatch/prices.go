package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/llmbatch/llmbatch/io/prices"
)

const pricesUsage = `Usage: llmbatch prices [flags]

Prints the price table in use: the embedded one, merged with --prices FILE
when given. One row per model: input, cached input and output in USD per 1M
tokens (standard tier), the batch and flex multipliers, and the date and
source of the file the price came from. Model names match in any case,
without an "openai/" prefix and without a snapshot date.

Flags:
`

// pricesRow is one model in "llmbatch prices --json". Prices and
// multipliers are decimal strings, exact as in the table's file.
type pricesRow struct {
	Model       string `json:"model"`
	Input       string `json:"input"`
	CachedInput string `json:"cached_input"`
	Output      string `json:"output"`
	Batch       string `json:"batch,omitempty"` // absent: unknown
	Flex        string `json:"flex,omitempty"`  // absent: unknown
	AsOf        string `json:"as_of,omitempty"`
	Source      string `json:"source,omitempty"`
	Note        string `json:"note,omitempty"`
}

func pricesCmd(_ context.Context, args []string, env environ) error {
	var (
		jsonOut    bool
		pricesFile string
	)
	fs := newFlagSet("prices", env.stderr, pricesUsage)
	fs.BoolVar(&jsonOut, "json", false, "print the table as JSON, one object per model")
	registerPrices(fs, &pricesFile)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("prices: unexpected argument %q (usage: llmbatch prices [--prices FILE] [--json])", pos[0])
	}
	table, err := loadPrices(pricesFile, "prices")
	if err != nil {
		return err
	}
	batch, flex := multiplier(table, prices.TierBatch), multiplier(table, prices.TierFlex)
	var rows []pricesRow
	for _, e := range table.Entries() {
		src := e.Source
		if src == "" && pricesFile != "" { // the embedded table names its source

			src = "--prices " + pricesFile
		}
		rows = append(rows, pricesRow{Model: e.Model, Input: decimalString(e.Price.Input),
			CachedInput: decimalString(e.Price.CachedInput), Output: decimalString(e.Price.Output),
			Batch: batch, Flex: flex, AsOf: e.AsOf, Source: src, Note: e.Note})
	}
	if jsonOut {
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"unit": "USD per 1M tokens, standard tier", "models": rows})
	}
	return writePrices(env.stdout, rows)
}

// writePrices prints rows as a table; each distinct source is printed once
// below it, numbered, as the rows' SOURCE column refers to it.
func writePrices(w io.Writer, rows []pricesRow) error {
	var sources []string
	index := map[string]int{}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MODEL\tINPUT\tCACHED\tOUTPUT\tBATCH\tFLEX\tAS OF\tSOURCE")
	for _, r := range rows {
		ref := "-"
		if r.Source != "" {
			if _, ok := index[r.Source]; !ok {
				sources = append(sources, r.Source)
				index[r.Source] = len(sources)
			}
			ref = fmt.Sprintf("[%d]", index[r.Source])
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Model, r.Input, r.CachedInput, r.Output,
			orDash(r.Batch), orDash(r.Flex), orDash(r.AsOf), ref)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nUSD per 1M tokens, standard tier; BATCH and FLEX multiply them (- : unknown).")
	for i, s := range sources {
		fmt.Fprintf(w, "[%d] %s\n", i+1, s)
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// decimalString formats m as dollars without trailing zeros beyond the
// cents: "0.025", "10.00", "0.00".
func decimalString(m prices.Money) string {
	s := m.USD() // 6 decimals, exact for table prices
	for strings.HasSuffix(s, "0") && len(s)-strings.IndexByte(s, '.') > 3 {
		s = s[:len(s)-1]
	}
	return s
}

// multiplier formats the table's multiplier for tier as a decimal, or ""
// when the table has none.
func multiplier(t *prices.Table, tier string) string {
	num, den, ok := t.Multiplier(tier)
	if !ok {
		return ""
	}
	if 1_000_000%den == 0 { // table multipliers have at most 6 decimals
		s := prices.Money(num * (1_000_000 / den) * int64(prices.Microdollar)).USD()
		s = strings.TrimRight(s, "0")
		return strings.TrimSuffix(s, ".")
	}
	return fmt.Sprintf("%d/%d", num, den)
}
