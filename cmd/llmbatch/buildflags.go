package main

import (
	"flag"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/llmbatch/llmbatch/io/prices"
	"github.com/llmbatch/llmbatch/io/results"
	"github.com/llmbatch/llmbatch/pipeline"
)

// registerBuild registers the flags that decide how rows become requests,
// and the price table: shared by "run" and "estimate", so that an estimate
// renders exactly the requests the run would send.
func (o *runOptions) registerBuild(fs *flag.FlagSet, env environ) {
	fs.StringVar(&o.Endpoint, "endpoint", "", "API to call: "+strings.Join(pipeline.APINames(), ", ")+" (default responses; a Batch API file's url chooses it when not given)")
	fs.StringVar(&o.InputFormat, "input-format", "", "input format, overriding the extension: jsonl, csv, tsv or parquet")
	fs.StringVar(&o.Model, "model", env.getenv("OPENAI_MODEL"), "model for rows whose body names none (env OPENAI_MODEL)")
	fs.StringVar(&o.Prompt, "prompt", "", "Go text/template over the row's columns that fills the request's input, e.g. 'Label: {{.text}}'")
	fs.StringVar(&o.PromptColumn, "prompt-column", "", "column whose value is the input (default: the first of prompt, input, text)")
	fs.StringVar(&o.Instr, "instructions", "", "template for the request's instructions")
	fs.StringVar(&o.BodyFile, "body", "", "JSON file of further request fields (text.format, reasoning, max_output_tokens, ...); a Batch API line's body takes the fields it lacks")
	fs.StringVar(&o.IDColumn, "id-column", "", "column holding each row's key (default: custom_id, else the row index)")
	fs.StringVar(&o.Delimiter, "delimiter", "", "CSV field delimiter (default ',' for .csv, tab for .tsv)")
	fs.IntVar(&o.MaxRowBytes, "max-row-bytes", 4<<20, "longest JSONL line or CSV record accepted; a longer one is a bad row")
	fs.StringVar(&o.ModelColumn, "model-column", "", "column whose non-empty value overrides --model for its row")
	fs.StringVar(&o.KeepColumns, "keep-columns", "", "comma-separated input columns copied into each journal line (\"input\"), to join results back; a column the input lacks is refused before anything is sent (CSV: header, Parquet: schema, JSONL: the first 1000 rows)")
	registerPrices(fs, &o.PricesFile)
}

func registerPrices(fs *flag.FlagSet, file *string) {
	fs.StringVar(file, "prices", "", "JSON price table that overrides or extends the embedded one (same format as io/prices/prices.json)")
}

// buildConfig fills cfg's body and price table from the options.
func (o *runOptions) buildConfig(cfg *pipeline.Config, cmd string) error {
	cfg.Names = flagName
	if o.Endpoint != "" {
		a, ok := pipeline.LookupAPI(o.Endpoint)
		if !ok {
			return usagef("%s: --endpoint must be one of %s, not %q", cmd, strings.Join(pipeline.APINames(), ", "), o.Endpoint)
		}
		cfg.API = a
	}
	cfg.ModelColumn, cfg.MaxRowBytes, cfg.KeepColumns = o.ModelColumn, o.MaxRowBytes, splitList(o.KeepColumns)
	if o.Delimiter != "" {
		cfg.Delimiter, _ = utf8.DecodeRuneInString(o.Delimiter)
	}
	if o.BodyFile != "" {
		b, err := os.ReadFile(o.BodyFile)
		if err != nil {
			return usagef("%s: --body: %v", cmd, err)
		}
		cfg.Body = b
	}
	t, err := loadPrices(o.PricesFile, cmd)
	if err != nil {
		return err
	}
	cfg.Prices = t
	return nil
}

// loadPrices returns the embedded price table, merged with file's when
// file is not empty (file's prices win).
func loadPrices(file, cmd string) (*prices.Table, error) {
	t := prices.Default()
	if file == "" {
		return t, nil
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, usagef("%s: --prices: %v", cmd, err)
	}
	defer f.Close()
	o, err := prices.Load(f)
	if err != nil {
		return nil, usagef("%s: --prices %s: %v", cmd, file, err)
	}
	return t.Merge(o), nil
}

// usdFlag is a flag holding an exact amount of dollars.
type usdFlag struct{ m prices.Money }

func (f *usdFlag) String() string {
	if f.m == 0 {
		return ""
	}
	return f.m.USD()
}

func (f *usdFlag) Set(s string) error {
	m, err := prices.ParseUSD(s)
	if err != nil {
		return err
	}
	if m <= 0 {
		return fmt.Errorf("must be more than 0")
	}
	f.m = m
	return nil
}

// printCost prints the cost line of a summary to stderr, after label.
func printCost(env environ, label string, c *results.CostSummary) {
	if c == nil {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s%s", label, c.Total)
	if !c.Total.Known {
		fmt.Fprintf(&b, " (at least %s; no price for %s: add it with --prices FILE)", c.Priced, strings.Join(c.Unknown, ", "))
	}
	if len(c.PerModel) > 1 {
		b.WriteString(" =")
		for i, m := range sortedKeys(c.PerModel) {
			if i > 0 {
				b.WriteString(" +")
			}
			fmt.Fprintf(&b, " %s %s", m, c.PerModel[m])
		}
	}
	fmt.Fprintf(&b, " (list prices as of %s%s)\n", c.AsOf, tierNote(c))
	fmt.Fprint(env.stderr, b.String())
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// tierNote says which part of a cost was priced at a tier's prices (the
// Batch API's): "; batch prices: $0.51 of it", or "" when none was.
func tierNote(c *results.CostSummary) string {
	var b strings.Builder
	for _, t := range sortedKeys(c.PerTier) {
		if c.PerTier[t] == c.Total {
			fmt.Fprintf(&b, "; at %s prices", t)
			continue
		}
		fmt.Fprintf(&b, "; %s at %s prices", c.PerTier[t], t)
	}
	return b.String()
}
