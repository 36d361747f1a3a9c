package pipeline_test

import (
	"context"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/llmbatch/llmbatch/io/results"
	"github.com/llmbatch/llmbatch/io/sim"
	"github.com/llmbatch/llmbatch/pipeline"
)

func writeFile(tb testing.TB, dir, name, content string) string {
	tb.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		tb.Fatal(err)
	}
	return p
}

// byKey indexes a journal's records by key.
func byKey(tb testing.TB, path string) map[string]results.Record {
	m := make(map[string]results.Record)
	for _, r := range readJournal(tb, path) {
		m[r.CustomID] = r
	}
	return m
}

func TestRun_CSVInput(t *testing.T) {
	dir := t.TempDir()
	_, base := startSim(t, simDefault())
	in := writeFile(t, dir, "in.csv", "\ufeffid,text,lang\r\n"+
		"a1,\"fine, really\",en\r\n"+
		"a2,\"two\nlines\",de\r\n"+
		"a3,plain,fr\r\n")
	cfg := baseConfig(dir, in, base)
	cfg.KeepColumns = []string{"lang", "absent"}
	sum, err := pipeline.Run(context.Background(), cfg)
	if err != nil || sum.Rows.OK != 3 {
		t.Fatalf("Run() = %+v, %v; want 3 ok", sum.Rows, err)
	}
	recs := byKey(t, cfg.Output)
	for key, lang := range map[string]string{"a1": "en", "a2": "de", "a3": "fr"} {
		r, ok := recs[key]
		if !ok {
			t.Fatalf("no record for %s", key)
		}
		if got := r.Input["lang"]; got != lang {
			t.Errorf("%s: input.lang = %v, want %s", key, got, lang)
		}
		if _, ok := r.Input["absent"]; ok {
			t.Errorf("%s: kept a column the row lacks", key)
		}
	}
}

type pqRow struct {
	ID    string   `parquet:"id"`
	Text  *string  `parquet:"text,optional"`
	Score float64  `parquet:"score"`
	Tags  []string `parquet:"tags,list"`
	Big   string   `parquet:"big"` // never used: projection skips it
}

func writeParquet(tb testing.TB, path string, rs []pqRow, perGroup int64) {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	w := parquet.NewGenericWriter[pqRow](f, parquet.MaxRowsPerRowGroup(perGroup))
	if _, err := w.Write(rs); err != nil {
		tb.Fatal(err)
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
}

func TestRun_ParquetInput(t *testing.T) {
	dir := t.TempDir()
	_, base := startSim(t, simDefault())
	var rs []pqRow
	for i := range 30 {
		text := "review " + string(rune('a'+i%26)) + strings.Repeat("!", i)
		r := pqRow{ID: "p" + string(rune('A'+i%26)) + string(rune('0'+i/26)), Text: &text, Score: float64(i) / 2, Tags: []string{"x", "y"}, Big: strings.Repeat("z", 100)}
		if i == 7 {
			r.Text = nil // a null cell renders as ""
		}
		rs = append(rs, r)
	}
	in := filepath.Join(dir, "in.parquet")
	writeParquet(t, in, rs, 10) // 3 row groups
	cfg := baseConfig(dir, in, base)
	cfg.Prompt = "Label {{.text}} (score {{.score}}, tags {{json .tags}})"
	cfg.KeepColumns = []string{"score"}
	sum, err := pipeline.Run(context.Background(), cfg)
	if err != nil || sum.Rows.OK != 30 || sum.Rows.Total != 30 {
		t.Fatalf("Run() = %+v, %v; want 30 ok of 30", sum.Rows, err)
	}
	recs := byKey(t, cfg.Output)
	if got := recs["pB0"].Input["score"]; got != 0.5 {
		t.Errorf("pB0 input.score = %v (%T), want 0.5", got, got)
	}
	// A template naming a column the file lacks is refused before any request.
	cfg.Prompt = "Label {{.txt}}"
	cfg.Output = filepath.Join(dir, "other.jsonl")
	_, err = pipeline.Run(context.Background(), cfg)
	var uerr *pipeline.UsageError
	if !errors.As(err, &uerr) || !strings.Contains(err.Error(), "txt") || !strings.Contains(err.Error(), "text") {
		t.Errorf("Run() with a missing column = %v, want a UsageError naming txt and the columns found", err)
	}
}

func TestRun_DuplicateKeys(t *testing.T) {
	dir := t.TempDir()
	_, base := startSim(t, simDefault())
	in := writeFile(t, dir, "in.jsonl", `{"id":"r1","text":"one"}
{"id":"r2","text":"two"}
{"id":"r1","text":"three"}
`)
	cfg := baseConfig(dir, in, base)
	sum, err := pipeline.Run(context.Background(), cfg)
	if err != nil || sum.Rows.OK != 2 || sum.Rows.Failed != 1 {
		t.Fatalf("Run() = %+v, %v; want 2 ok and 1 failed", sum.Rows, err)
	}
	recs := byKey(t, cfg.Output)
	dup, ok := recs["r1#2"]
	if !ok || dup.Error == nil || dup.Error.Code != "bad_input" {
		t.Fatalf("duplicate row record = %+v", dup)
	}
	if want := in + `:3: duplicate key "r1": line 1 has it too`; !strings.HasPrefix(dup.Error.Message, want) {
		t.Errorf("message = %q, want prefix %q", dup.Error.Message, want)
	}
	if recs["r1"].Error != nil {
		t.Errorf("the first r1 was overwritten: %+v", recs["r1"])
	}
	// An id that happens to equal its row index is still an id.
	in2 := writeFile(t, dir, "in2.jsonl", `{"id":"0","text":"a"}
{"id":"0","text":"b"}
`)
	cfg2 := baseConfig(dir, in2, base)
	cfg2.Output = filepath.Join(dir, "ids.jsonl")
	if sum, err := pipeline.Run(context.Background(), cfg2); err != nil || sum.Rows.OK != 1 || sum.Rows.Failed != 1 {
		t.Errorf("ids equal to indices: Run() = %+v, %v; want 1 ok, 1 duplicate", sum.Rows, err)
	}

	cfg.Output = filepath.Join(dir, "strict.jsonl")
	cfg.Strict = true
	cfg.Concurrency = 1
	_, err = pipeline.Run(context.Background(), cfg)
	var uerr *pipeline.UsageError
	if !errors.As(err, &uerr) || !errors.Is(err, pipeline.ErrDuplicateKey) {
		t.Errorf("--strict: Run() = %v, want a UsageError wrapping ErrDuplicateKey", err)
	}
}

func TestRun_ModelColumn(t *testing.T) {
	dir := t.TempDir()
	_, base := startSim(t, simDefault())
	in := writeFile(t, dir, "in.jsonl", `{"id":"a","text":"x","m":"gpt-5-nano"}
{"id":"b","text":"y","m":""}
`)
	cfg := baseConfig(dir, in, base)
	cfg.ModelColumn = "m"
	if _, err := pipeline.Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	recs := byKey(t, cfg.Output)
	if recs["a"].Model != "gpt-5-nano" || recs["b"].Model != "gpt-5-mini" {
		t.Errorf("models = %q, %q; want gpt-5-nano, gpt-5-mini", recs["a"].Model, recs["b"].Model)
	}
}

func TestRun_BadInput(t *testing.T) {
	dir := t.TempDir()
	_, base := startSim(t, simDefault())
	huge := `{"id":"big","text":"` + strings.Repeat("x", 10<<20) + `"}`
	tests := []struct {
		name, file, content string
		prompt              string
		fatal               bool   // the job stops with a UsageError
		want                string // in the bad row's message, or the error
	}{
		{name: "MalformedJSON", file: "a.jsonl", content: "{\"id\":\"1\",\"text\":\"ok\"}\n{\"id\":\"2\",\"text\":\n", want: "a.jsonl:2: invalid JSON"},
		{name: "MissingColumn", file: "b.jsonl", content: "{\"id\":\"1\",\"text\":\"ok\"}\n{\"id\":\"2\",\"txt\":\"oops\"}\n",
			prompt: "Label: {{.text}}", want: `b.jsonl:2: prompt template: missing column "text"`},
		{name: "CSVFieldCount", file: "c.csv", content: "id,text\n1,ok\n2,too,many\n", want: "c.csv:3: wrong number of fields"},
		{name: "NonUTF8Cell", file: "d.csv", content: "id,text\n1,ok\n2,caf\xe9\n", want: "d.csv:3:"},
		{name: "TenMegabyteRow", file: "e.jsonl", content: "{\"id\":\"1\",\"text\":\"ok\"}\n" + huge + "\n", want: "e.jsonl:2: row exceeds the size limit"},
		{name: "EmptyFile", file: "f.jsonl", content: "", fatal: true, want: "f.jsonl: input has no rows"},
		{name: "HeaderOnly", file: "g.csv", content: "id,text\n", fatal: true, want: "g.csv: input has no rows"},
		{name: "CorruptParquet", file: "h.parquet", content: "PAR1 this is not parquet PAR1", fatal: true, want: "h.parquet"},
		{name: "UnknownExtension", file: "i.txt", content: "hello\n", fatal: true, want: `unknown input format for`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := baseConfig(dir, writeFile(t, dir, tt.file, tt.content), base)
			cfg.Output = filepath.Join(dir, tt.name+".jsonl")
			cfg.Prompt = tt.prompt
			sum, err := pipeline.Run(context.Background(), cfg)
			if tt.fatal {
				var uerr *pipeline.UsageError
				if !errors.As(err, &uerr) || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("Run() error = %v, want a UsageError containing %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("Run() error = %v", err)
			}
			if sum.Rows.OK != 1 || sum.Rows.Failed != 1 {
				t.Errorf("rows = %+v, want 1 ok, 1 failed", sum.Rows)
			}
			var found bool
			for _, r := range readJournal(t, cfg.Output) {
				if r.Error != nil {
					found = true
					if r.Error.Code != "bad_input" || !strings.Contains(r.Error.Message, tt.want) {
						t.Errorf("bad row error = %+v, want bad_input containing %q", r.Error, tt.want)
					}
				}
			}
			if !found {
				t.Error("no bad row in the journal")
			}
			// --strict stops at the same row with a UsageError (exit 2).
			cfg.Output = filepath.Join(dir, tt.name+"-strict.jsonl")
			cfg.Strict = true
			var uerr *pipeline.UsageError
			if _, err := pipeline.Run(context.Background(), cfg); !errors.As(err, &uerr) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("--strict: Run() = %v, want a UsageError containing %q", err, tt.want)
			}
		})
	}
}

func TestRun_SecondJobOnTheSameJournalIsRefused(t *testing.T) {
	dir := t.TempDir()
	_, base := startSim(t, sim.Config{Latency: 200 * time.Millisecond})
	cfg := baseConfig(dir, writeInput(t, dir, 20), base)
	cfg.Concurrency = 2
	done := make(chan error, 1)
	go func() {
		_, err := pipeline.Run(context.Background(), cfg)
		done <- err
	}()
	// Wait for the first job to hold the journal: its first record.
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if st, err := os.Stat(cfg.Output); err == nil && st.Size() > 0 {
			break
		}
	}
	_, err := pipeline.Run(context.Background(), cfg)
	if !errors.Is(err, results.ErrLocked) {
		t.Errorf("second Run() error = %v, want ErrLocked", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("first Run() error = %v", err)
	}
	if got := len(readJournal(t, cfg.Output)); got != 20 {
		t.Errorf("journal has %d lines, want 20", got)
	}
}

func TestRun_StopsWhileStdinIsIdle(t *testing.T) {
	dir := t.TempDir()
	_, base := startSim(t, simDefault())
	pr, pw := io.Pipe()
	defer pw.Close()
	go pw.Write([]byte(`{"id":"a","text":"one"}` + "\n")) // then the pipe goes quiet
	cfg := baseConfig(dir, "-", base)
	cfg.Reader = pr
	ctx, cancel := context.WithCancel(context.Background())
	cfg.ProgressInterval = time.Millisecond
	cfg.Progress = func(p pipeline.Progress) {
		if p.Done >= 1 {
			cancel()
		}
	}
	done := make(chan error, 1)
	go func() {
		_, err := pipeline.Run(ctx, cfg)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, pipeline.ErrInterrupted) {
			t.Errorf("Run() error = %v, want ErrInterrupted", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after the interrupt while stdin was idle")
	}
	if got := len(readJournal(t, cfg.Output)); got != 1 {
		t.Errorf("journal has %d lines, want 1", got)
	}
}

func TestRun_ForceRecordsTheNewJob(t *testing.T) {
	dir := t.TempDir()
	_, base := startSim(t, simDefault())
	cfg := baseConfig(dir, writeInput(t, dir, 5), base)
	if _, err := pipeline.Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	cfg.Prompt = "Another template: {{.text}}"
	var uerr *pipeline.UsageError
	if _, err := pipeline.Run(context.Background(), cfg); !errors.As(err, &uerr) || !strings.Contains(err.Error(), "prompt changed") {
		t.Fatalf("changed template: Run() = %v, want a refusal naming the prompt", err)
	}
	cfg.Force, cfg.RetryFailed = true, false
	if _, err := pipeline.Run(context.Background(), cfg); err != nil {
		t.Fatalf("--force: %v", err)
	}
	cfg.Force = false
	if _, err := pipeline.Run(context.Background(), cfg); err != nil {
		t.Errorf("resume after --force with the new settings: %v, want it accepted", err)
	}
}

func TestRun_NaNInKeptColumn(t *testing.T) {
	dir := t.TempDir()
	_, base := startSim(t, simDefault())
	in := filepath.Join(dir, "in.parquet")
	text := "fine"
	writeParquet(t, in, []pqRow{{ID: "a", Text: &text, Score: math.NaN()}, {ID: "b", Text: &text, Score: math.Inf(1)}}, 10)
	cfg := baseConfig(dir, in, base)
	cfg.KeepColumns = []string{"score"}
	sum, err := pipeline.Run(context.Background(), cfg)
	if err != nil || sum.Rows.OK != 2 {
		t.Fatalf("Run() = %+v, %v; want 2 ok", sum, err)
	}
	recs := byKey(t, cfg.Output)
	if recs["a"].Input["score"] != "NaN" || recs["b"].Input["score"] != "+Inf" {
		t.Errorf("kept scores = %v, %v; want NaN, +Inf as text", recs["a"].Input["score"], recs["b"].Input["score"])
	}
}

// A CSV file delimited by ';' read with ',' has one column: the error
// says which delimiter the header shows.
func TestRun_CSVWithOtherDelimiterGetsAHint(t *testing.T) {
	dir := t.TempDir()
	_, base := startSim(t, simDefault())
	for _, c := range []struct{ content, want string }{
		{"id;text\nr1;hello\n", "give Config.Delimiter ';'"},
		{"id|text\nr1|hello\n", "give Config.Delimiter '|'"},
		{"id\ttext\nr1\thello\n", "give Config.InputFormat tsv"},
	} {
		cfg := baseConfig(dir, writeFile(t, dir, "in.csv", c.content), base)
		cfg.Prompt, cfg.IDColumn = "", ""
		cfg.Output = filepath.Join(t.TempDir(), "out.jsonl")
		_, err := pipeline.Run(context.Background(), cfg)
		var uerr *pipeline.UsageError
		if !errors.As(err, &uerr) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: Run() = %v, want a UsageError saying %q", c.content, err, c.want)
		}
	}
}
