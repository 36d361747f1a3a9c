package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPrices_Text(t *testing.T) {
	env, stdout, stderr := testEnv(nil)
	if code := run(context.Background(), []string{"prices"}, env); code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	out := stdout.String()
	for _, want := range []string{
		"MODEL", "AS OF",
		"gpt-4.1-nano            0.10   0.025   0.40    0.5    0.5   2026-05-27  [1]",
		"gpt-5-mini              0.25   0.025   2.00    0.5    0.5   2026-07-24  [1]",
		"text-embedding-3-small", "o3-mini",
		"[1] List prices in USD per 1M tokens",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasSuffix(line, " ") {
			t.Errorf("trailing spaces in %q", line)
		}
	}
}

func TestPrices_JSONWithOverride(t *testing.T) {
	file := filepath.Join(t.TempDir(), "mine.json")
	if err := os.WriteFile(file, []byte(`{"as_of": "2026-11-01", "flex": "0.4", "models": {
		"gpt-5-mini": {"input": "0.2", "cached_input": "0.02", "output": "1.6", "note": "negotiated"},
		"my-llama": {"input": "0", "output": "0"}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	env, stdout, stderr := testEnv(nil)
	if code := run(context.Background(), []string{"prices", "--json", "--prices", file}, env); code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	var got struct {
		Unit   string      `json:"unit"`
		Models []pricesRow `json:"models"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, stdout)
	}
	rows := map[string]pricesRow{}
	for _, r := range got.Models {
		rows[r.Model] = r
	}
	want := map[string]pricesRow{
		"gpt-5-mini": {Model: "gpt-5-mini", Input: "0.20", CachedInput: "0.02", Output: "1.60", Batch: "0.5", Flex: "0.4",
			AsOf: "2026-11-01", Source: "--prices " + file, Note: "negotiated"},
		"my-llama": {Model: "my-llama", Input: "0.00", CachedInput: "0.00", Output: "0.00", Batch: "0.5", Flex: "0.4",
			AsOf: "2026-11-01", Source: "--prices " + file},
	}
	for name, w := range want {
		if rows[name] != w {
			t.Errorf("row %s = %+v, want %+v", name, rows[name], w)
		}
	}
	if r := rows["gpt-5"]; r.Input != "1.25" || r.AsOf != "2026-07-24" || !strings.Contains(r.Source, "litellm") || !strings.Contains(r.Note, "confidence") {
		t.Errorf("row gpt-5 = %+v, want the embedded price, date, source and note", r)
	}
	if len(got.Models) != 16 || got.Unit == "" {
		t.Errorf("%d models, unit %q; want 16 (15 embedded + 1 new) and a unit", len(got.Models), got.Unit)
	}
}

func TestPrices_Usage(t *testing.T) {
	for _, args := range [][]string{{"prices", "extra"}, {"prices", "--prices", "/nonexistent.json"}, {"prices", "--bogus"}} {
		env, _, stderr := testEnv(nil)
		if code := run(context.Background(), args, env); code != exitUsage {
			t.Errorf("%q: exit %d, want %d; stderr:\n%s", args, code, exitUsage, stderr)
		}
	}
}
