package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmbatch/llmbatch/pipeline"
)

// estimate accepts every flag run accepts, each with a value run would
// take, so that a run's command line is estimated as it is; -h lists
// only the flags that change the estimate.
func TestEstimate_AcceptsEveryRunFlag(t *testing.T) {
	dir := t.TempDir()
	in := writeRows(t, dir, 5)
	body := filepath.Join(dir, "body.json")
	if err := os.WriteFile(body, []byte(`{"max_output_tokens": 50}`), 0o644); err != nil {
		t.Fatal(err)
	}
	// run's flags, as "llmbatch run" registers them.
	var o runOptions
	fs := newFlagSet("run", io.Discard, "")
	env, _, _ := testEnv(nil)
	o.register(fs, env)
	fs.Var(&o.Header, "H", "")
	values := map[string]string{ // where the default is no valid value
		"H": "X-Trace: 1", "max-cost": "5", "body": body, "model": "gpt-5-mini",
		"prompt": "Label: {{.text}}", "id-column": "id", "o": filepath.Join(dir, "r.jsonl"),
		"endpoint": "responses", "input-format": "jsonl", "delimiter": ",", "prices": "",
		"prompt-column": "", "instructions": "Be brief.", "model-column": "", "keep-columns": "text",
		"rpm": "100", "tpm": "10000", "limit": "3", "dry-run": "true", "sim": "true", "quiet": "true",
	}
	var n int
	fs.VisitAll(func(f *flag.Flag) {
		n++
		v, ok := values[f.Name]
		if !ok {
			v = f.DefValue
		}
		args := []string{"estimate", in, "--model", "gpt-5-mini", "--prompt", "Label: {{.text}}", "--body", body, "--" + f.Name + "=" + v}
		if code, _, stderr := runCLI(t, args...); code != exitOK {
			t.Errorf("estimate --%s=%s: exit %d; stderr:\n%s", f.Name, v, code, stderr)
		}
	})
	if n < 30 {
		t.Fatalf("only %d flags of run seen", n)
	}
	// All at once, as a run's command line.
	args := []string{"estimate", in, "-o", filepath.Join(dir, "r.jsonl"), "--model", "gpt-5-mini", "--prompt", "Label: {{.text}}",
		"--body", body, "--rpm", "100", "--tpm", "5000", "--concurrency", "4", "--max-cost", "3", "--limit", "3",
		"--embed-batch", "10", "--sim-latency", "5ms", "--sim-faults=false", "--log-format", "json", "-H", "X-A: b", "--dry-run"}
	code, stdout, stderr := runCLI(t, args...)
	if code != exitOK {
		t.Fatalf("a run's command line: exit %d; stderr:\n%s", code, stderr)
	}
	// --limit changes the answer: 3 rows, as run --limit 3 would send.
	if f := strings.Fields(stdout[strings.LastIndex(stdout, "total"):]); len(f) < 2 || f[1] != "3" {
		t.Errorf("--limit 3: total rows not 3:\n%s", stdout)
	}

	code, _, help := runCLI(t, "estimate", "-h")
	if code != exitOK {
		t.Fatalf("estimate -h: exit %d", code)
	}
	for _, f := range estimateFlags {
		if !strings.Contains(help, "\n  -"+f+" ") && !strings.Contains(help, "\n  -"+f+"\n") {
			t.Errorf("estimate -h does not list -%s", f)
		}
	}
	for _, f := range []string{"rpm", "tpm", "concurrency", "max-cost", "o", "base-url", "timeout", "H", "dry-run", "keep-columns"} {
		if strings.Contains(help, "\n  -"+f+" ") || strings.Contains(help, "\n  -"+f+"\n") {
			t.Errorf("estimate -h lists -%s, which does not change the estimate", f)
		}
	}
}

// Rows that cannot be built: estimate prints the estimate of the others,
// the first reasons with file:line, and exits 2.
func TestEstimate_BadRowsExit2WithReasons(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.jsonl")
	var b strings.Builder
	for i := range 12 {
		switch {
		case i == 1 || i >= 5 && i <= 10:
			b.WriteString("{not json\n")
		case i == 3:
			b.WriteString(`{"id":"k3"}` + "\n") // no text for the template
		default:
			fmt.Fprintf(&b, `{"id":"k%d","text":"row %d"}`+"\n", i, i)
		}
	}
	if err := os.WriteFile(in, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI(t, "estimate", in, "--model", "gpt-5-mini", "--prompt", "Label: {{.text}}", "--assume-output", "10")
	if code != exitUsage {
		t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitUsage, stderr)
	}
	for _, want := range []string{in + ":2: ", in + ":4: ", in + ":6: ", in + ":8: ",
		"estimate: rows that cannot be built: 8 (the first 5 above), not priced"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if strings.Contains(stderr, in+":9: ") {
		t.Errorf("more than 5 reasons:\n%s", stderr)
	}
	if !strings.Contains(stdout, "gpt-5-mini") {
		t.Errorf("no estimate of the good rows on stdout:\n%s", stdout)
	}
	// --json too.
	code, stdout, _ = runCLI(t, "estimate", in, "--model", "gpt-5-mini", "--prompt", "Label: {{.text}}", "--assume-output", "10", "--json")
	var est pipeline.JobEstimate
	if err := json.Unmarshal([]byte(stdout), &est); err != nil || code != exitUsage {
		t.Fatalf("--json: exit %d, %v", code, err)
	}
	if est.Rows != 4 || est.BadRows != 8 || len(est.FirstBad) != 5 || !strings.HasPrefix(est.FirstBad[0], in+":2: ") {
		t.Errorf("--json: rows %d bad %d first %q", est.Rows, est.BadRows, est.FirstBad)
	}
}

// Batch API lines: --model and --body fill the fields a line's body
// lacks (the line's own win), the same in estimate and in what run
// sends; --prompt and --instructions are refused as ambiguous.
func TestBatchLines_ModelAndBodyFillWhatTheLineLacks(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "batch.jsonl")
	lines := `{"custom_id":"a","method":"POST","url":"/v1/responses","body":{"input":"first"}}
{"custom_id":"b","method":"POST","url":"/v1/responses","body":{"input":"second","model":"gpt-4.1-mini","max_output_tokens":7}}
`
	body := filepath.Join(dir, "body.json")
	if err := os.WriteFile(in, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(body, []byte(`{"max_output_tokens":100,"reasoning":{"effort":"low"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI(t, "estimate", in, "--model", "gpt-5-mini", "--body", body, "--json")
	if code != exitOK {
		t.Fatalf("estimate: exit %d; stderr:\n%s", code, stderr)
	}
	var est pipeline.JobEstimate
	if err := json.Unmarshal([]byte(stdout), &est); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, m := range est.Models {
		got[m.Model] = m.OutputHigh
	}
	if len(got) != 2 || got["gpt-5-mini"] != 100 || got["gpt-4.1-mini"] != 7 {
		t.Errorf("models and output caps = %v, want gpt-5-mini 100 (from --model and --body), gpt-4.1-mini 7 (the line's)", got)
	}

	// What run sends: the dry run prints the bodies.
	env, out, errs := testEnv(map[string]string{"OPENAI_API_KEY": "sk-test-batch-fill-0123456789"})
	if code := run(t.Context(), []string{"run", in, "-o", filepath.Join(dir, "r.jsonl"), "--base-url", "http://127.0.0.1:9/v1",
		"--model", "gpt-5-mini", "--body", body, "--dry-run", "--limit", "2"}, env); code != exitOK {
		t.Fatalf("dry run: exit %d; stderr:\n%s", code, errs)
	}
	for _, want := range []string{`{"input":"first","max_output_tokens":100,"model":"gpt-5-mini","reasoning":{"effort":"low"}}`,
		`{"input":"second","max_output_tokens":7,"model":"gpt-4.1-mini","reasoning":{"effort":"low"}}`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("dry run lacks body %s:\n%s", want, out)
		}
	}

	for _, flagArgs := range [][]string{{"--prompt", "Say {{.x}}"}, {"--instructions", "Be brief."}} {
		for _, cmd := range []string{"estimate", "run"} {
			args := []string{cmd, in, "--model", "gpt-5-mini", "--assume-output", "5"}
			if cmd == "run" {
				args = []string{cmd, in, "--model", "gpt-5-mini", "--sim", "-o", filepath.Join(dir, "refused.jsonl")}
			}
			code, _, stderr := runCLI(t, append(args, flagArgs...)...)
			if code != exitUsage || !strings.Contains(stderr, in+":1: ") || !strings.Contains(stderr, flagArgs[0]) {
				t.Errorf("%s %s with Batch lines: exit %d, want %d naming %s:1 and the flag; stderr:\n%s", cmd, flagArgs[0], code, exitUsage, in, stderr)
			}
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "refused.jsonl")); err == nil && fi.Size() > 0 {
		t.Errorf("a refused run journalled %d bytes", fi.Size())
	}
}
