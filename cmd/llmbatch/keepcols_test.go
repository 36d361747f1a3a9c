package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/llmbatch/llmbatch/io/sim"
)

// --keep-columns naming a column the input does not have is a usage
// error (exit 2) before anything is sent, naming the column and the
// columns the input has: from a CSV header, a Parquet schema, or the
// first rows of a JSONL file. A column some JSONL rows have is kept.
func TestRun_KeepColumnsTheInputLacks(t *testing.T) {
	dir := t.TempDir()
	s, base := startTestSim(t, sim.Config{Seed: 1})
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	csvIn := write("in.csv", "id,text,lang\nk1,good,en\nk2,bad,fr\n")
	type pqRow struct {
		ID   string `parquet:"id"`
		Text string `parquet:"text"`
	}
	pqIn := filepath.Join(dir, "in.parquet")
	if err := parquet.WriteFile(pqIn, []pqRow{{"k1", "good"}, {"k2", "bad"}}); err != nil {
		t.Fatal(err)
	}
	// "note" only in the third row: a sparse column, kept.
	jsonlIn := write("in.jsonl", `{"id":"k1","text":"good"}`+"\n"+`{"id":"k2","text":"bad"}`+"\n"+`{"id":"k3","text":"meh","note":"x"}`+"\n")
	var big strings.Builder
	for i := range keepColumnsPeek + 5 {
		if i == keepColumnsPeek+2 {
			fmt.Fprintf(&big, `{"id":"k%d","text":"t","late":1}`+"\n", i)
			continue
		}
		fmt.Fprintf(&big, `{"id":"k%d","text":"t"}`+"\n", i)
	}
	bigIn := write("big.jsonl", big.String())

	for _, tc := range []struct {
		in, keep string
		want     []string // in stderr; nil: the run succeeds
	}{
		{csvIn, "id,lnag", []string{`--keep-columns names a column ` + csvIn + ` does not have: "lnag"; its header has: id, text, lang`}},
		{pqIn, "idd,text,x", []string{`--keep-columns names columns ` + pqIn + ` does not have: "idd", "x"; its schema has: id, text`}},
		{jsonlIn, "nope", []string{`"nope"; its rows have: id, note, text`}},
		{bigIn, "late", []string{`"late"; its first 1000 rows have: id, text`}},
		{csvIn, "lang", nil},
		{jsonlIn, "note,id", nil},
	} {
		out := filepath.Join(dir, fmt.Sprintf("out-%s-%s.jsonl", filepath.Base(tc.in), strings.ReplaceAll(tc.keep, ",", "_")))
		before := s.Stats().Requests
		env, _, stderr := testEnv(map[string]string{"OPENAI_API_KEY": "sk-test-keep-columns-0123456789"})
		code := run(t.Context(), []string{"run", tc.in, "-o", out, "--base-url", base, "--model", "gpt-5-mini",
			"--id-column", "id", "--prompt", "{{.text}}", "--keep-columns", tc.keep, "--quiet"}, env)
		if tc.want == nil {
			if code != exitOK {
				t.Errorf("%s --keep-columns %s: exit %d; stderr:\n%s", tc.in, tc.keep, code, stderr)
			}
			continue
		}
		if code != exitUsage {
			t.Errorf("%s --keep-columns %s: exit %d, want %d; stderr:\n%s", tc.in, tc.keep, code, exitUsage, stderr)
		}
		for _, w := range tc.want {
			if !strings.Contains(stderr.String(), w) {
				t.Errorf("%s --keep-columns %s: stderr lacks %q:\n%s", tc.in, tc.keep, w, stderr)
			}
		}
		if n := s.Stats().Requests - before; n != 0 {
			t.Errorf("%s --keep-columns %s: %d requests sent, want none", tc.in, tc.keep, n)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%s --keep-columns %s: the journal was created", tc.in, tc.keep)
		}
	}
	// estimate checks the same.
	if code, _, stderr := runCLI(t, "estimate", csvIn, "--model", "gpt-5-mini", "--prompt", "{{.text}}", "--assume-output", "5", "--keep-columns", "lnag"); code != exitUsage || !strings.Contains(stderr, `estimate: --keep-columns names a column`) {
		t.Errorf("estimate --keep-columns lnag: exit %d; stderr:\n%s", code, stderr)
	}
}
