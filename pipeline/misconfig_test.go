package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/llmbatch/llmbatch/io/results"
	"github.com/llmbatch/llmbatch/pipeline"
)

func TestRun_BaseURLWithoutSchemeIsAUsageError(t *testing.T) {
	dir := t.TempDir()
	for _, base := range []string{"127.0.0.1:8099/v1", "localhost:8099", "http:///v1", "ftp://example.com/v1", "https://api.openai.com/v1/responses"} {
		t.Run(base, func(t *testing.T) {
			cfg := baseConfig(dir, writeInput(t, dir, 3), base)
			_, err := pipeline.Run(context.Background(), cfg)
			var uerr *pipeline.UsageError
			if !errors.As(err, &uerr) || !errors.Is(err, pipeline.ErrBaseURL) || !strings.Contains(err.Error(), "http(s)://host[:port]/v1") {
				t.Fatalf("Run() error = %v, want a UsageError wrapping ErrBaseURL that shows a base URL's shape", err)
			}
			if _, err := os.Stat(cfg.Output); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the journal was created (%v); nothing should be touched", err)
			}
		})
	}
}

// gateway fronts the simulator as a gateway would: it serves only
// /v1/responses, wants a header, and knows one model; anything else gets
// the answer a real gateway gives.
func gateway(t *testing.T, simBase string, requests *atomic.Int64) string {
	t.Helper()
	u, err := url.Parse(simBase)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: u.Scheme, Host: u.Host})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		switch {
		case r.URL.Path != "/v1/responses":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(404)
			io.WriteString(w, `{"detail":"Not Found"}`) // FastAPI / vLLM / LiteLLM
		case r.Header.Get("X-Portkey-Provider") == "":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(400)
			io.WriteString(w, `{"status":"failure","message":"Either x-portkey-config or x-portkey-provider header is required"}`)
		case strings.Contains(string(body), `"gpt-9"`):
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(404)
			io.WriteString(w, `{"error":{"message":"The model `+"`gpt-9`"+` does not exist or you do not have access to it.","type":"invalid_request_error","param":null,"code":"model_not_found"}}`)
		default:
			proxy.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestRun_SameClientErrorAtTheStartStopsTheJob(t *testing.T) {
	_, simBase := startSim(t, simDefault())
	var requests atomic.Int64
	gw := gateway(t, simBase, &requests)
	good := func(cfg *pipeline.Config) {
		cfg.BaseURL, cfg.Model = gw+"/v1", "gpt-5-mini"
		cfg.Header = http.Header{"X-Portkey-Provider": {"openai"}}
	}
	tests := []struct {
		name string
		bad  func(*pipeline.Config)
		want []string
	}{
		{"BaseURLWithoutV1", func(c *pipeline.Config) { c.BaseURL = gw }, []string{"404", "Not Found", "ends in /v1"}},
		{"GatewayWantsAHeader", func(c *pipeline.Config) { c.Header = nil }, []string{"400", "Config.Header"}},
		{"ModelNotFound", func(c *pipeline.Config) { c.Model = "gpt-9" }, []string{"404 model_not_found", "does not exist", "Config.Model"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			const n = 60
			cfg := baseConfig(dir, writeInput(t, dir, n), "")
			cfg.Concurrency = 4
			good(&cfg)
			tt.bad(&cfg)
			before := requests.Load()
			_, err := pipeline.Run(context.Background(), cfg)
			var serr *pipeline.StopError
			if !errors.As(err, &serr) {
				t.Fatalf("Run() error = %v, want a StopError", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			// The 5 answers, the requests in flight when the 5th came
			// back, and those workers started before the stop reached
			// them (a loaded machine widens that window).
			if sent := requests.Load() - before; sent > 5+2*int64(cfg.Concurrency) {
				t.Errorf("sent %d requests, want the job stopped after about 5", sent)
			}
			if recs := readJournal(t, cfg.Output); len(recs) != 0 {
				t.Errorf("journal has %d records (first %+v), want none: those rows stay pending", len(recs), recs[0].Error)
			}
			// Fixed, the same journal resumes and sends every row.
			good(&cfg)
			sum, err := pipeline.Run(context.Background(), cfg)
			if err != nil {
				t.Fatalf("fixed re-run: %v", err)
			}
			if sum.Rows.OK != n || len(readJournal(t, cfg.Output)) != n {
				t.Errorf("fixed re-run: rows %+v, %d records; want %d ok", sum.Rows, len(readJournal(t, cfg.Output)), n)
			}
		})
	}
}

func TestRun_FewRowsAllFailingAreStillJournalled(t *testing.T) {
	_, simBase := startSim(t, simDefault())
	var requests atomic.Int64
	gw := gateway(t, simBase, &requests)
	dir := t.TempDir()
	cfg := baseConfig(dir, writeInput(t, dir, 3), gw+"/v1")
	cfg.Model = "gpt-9"
	sum, err := pipeline.Run(context.Background(), cfg)
	if err != nil || sum.Rows.Failed != 3 {
		t.Fatalf("Run() = %+v, %v; want 3 rows failed (too few to judge the job)", sum.Rows, err)
	}
}

func TestRun_TemplateTypoOnEveryRowIsAUsageError(t *testing.T) {
	dir := t.TempDir()
	_, base := startSim(t, simDefault())
	cfg := baseConfig(dir, writeInput(t, dir, 50), base)
	cfg.Prompt = "Label: {{.txt}}"
	_, err := pipeline.Run(context.Background(), cfg)
	var uerr *pipeline.UsageError
	if !errors.As(err, &uerr) || !strings.Contains(err.Error(), `missing column "txt"`) || !strings.Contains(err.Error(), "in.jsonl:1") {
		t.Fatalf("Run() error = %v, want a UsageError naming the missing column and the first row", err)
	}
	if recs := readJournal(t, cfg.Output); len(recs) != 0 {
		t.Errorf("journal has %d records, want none", len(recs))
	}
	// Bad rows later in an input that builds are journalled as before.
	var b strings.Builder
	for i := range 20 {
		col := "text"
		if i >= 10 && i < 17 {
			col = "txt"
		}
		fmt.Fprintf(&b, `{"id":"k%d","%s":"row %d"}`+"\n", i, col, i)
	}
	cfg = baseConfig(dir, writeFile(t, dir, "mixed.jsonl", b.String()), base)
	cfg.Output = filepath.Join(dir, "mixed-results.jsonl")
	sum, err := pipeline.Run(context.Background(), cfg)
	if err != nil || sum.Rows.Failed != 7 || sum.Rows.OK != 13 {
		t.Fatalf("mixed: Run() = %+v, %v; want 13 ok, 7 failed", sum.Rows, err)
	}
}

func TestRun_JournalPathChecks(t *testing.T) {
	dir := t.TempDir()
	_, base := startSim(t, simDefault())
	input := writeInput(t, dir, 3)
	notes := writeFile(t, dir, "notes.jsonl", `{"my":"own notes, no newline"}`)
	notes2 := writeFile(t, dir, "notes2.jsonl", "just some text\n")
	fifo := filepath.Join(dir, "j.fifo")
	if err := mkfifo(fifo); err != nil {
		t.Skip("no FIFOs here:", err)
	}
	tests := []struct {
		name, output string
		force        bool
		want         string
	}{
		{"NotAJournal", notes, false, "not an llmbatch journal"},
		{"NotAJournalForced", notes, true, "not an llmbatch journal"},
		{"TextFile", notes2, false, "not an llmbatch journal"},
		{"TheInputItself", input, true, "is the input file itself"},
		{"FIFO", fifo, false, "is a FIFO"},
		{"Directory", dir, false, "is a directory"},
		{"Device", "/dev/null", false, "is a device"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			read := func() string {
				if st, err := os.Stat(tt.output); err != nil || !st.Mode().IsRegular() {
					return ""
				}
				b, _ := os.ReadFile(tt.output)
				return string(b)
			}
			before := read()
			cfg := baseConfig(dir, input, base)
			cfg.Output, cfg.Force = tt.output, tt.force
			_, err := pipeline.Run(context.Background(), cfg)
			var uerr *pipeline.UsageError
			if !errors.As(err, &uerr) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Run() error = %v, want a UsageError saying %q", err, tt.want)
			}
			if after := read(); after != before {
				t.Errorf("%s was changed: %q -> %q", tt.output, before, after)
			}
		})
	}
	// A journal whose only line was torn by a crash is still resumed.
	cfg := baseConfig(dir, input, base)
	cfg.Output = writeFile(t, dir, "torn.jsonl", `{"custom_id":"k00000","ind`)
	if sum, err := pipeline.Run(context.Background(), cfg); err != nil || sum.Rows.OK != 3 {
		t.Errorf("torn first line: Run() = %+v, %v; want it cut and 3 ok", sum, err)
	}
}

func TestRun_RemovesSummaryTempsOfAKilledRun(t *testing.T) {
	dir := t.TempDir()
	_, base := startSim(t, simDefault())
	cfg := baseConfig(dir, writeInput(t, dir, 3), base)
	stale := filepath.Join(dir, ".results.summary.json.tmp123456")
	other := filepath.Join(dir, ".other.summary.json.tmp1")
	for _, p := range []string{stale, other} {
		if err := os.WriteFile(p, []byte("{"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := pipeline.Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale temp file still there: %v", err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("another journal's temp file was removed: %v", err)
	}
	if _, err := os.Stat(results.SummaryPath(cfg.Output)); err != nil {
		t.Error(err)
	}
}
