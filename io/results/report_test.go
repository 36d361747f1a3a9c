package results_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/llmbatch/llmbatch/io/api"
	"github.com/llmbatch/llmbatch/io/prices"
	"github.com/llmbatch/llmbatch/io/results"
)

// dupJournal is a journal of two runs: row b ran out of attempts on 429s
// and was answered on resume; row c ended incomplete (paid) and was sent
// again with --retry-failed; row d is bad input; the last line is torn.
const dupJournal = `{"custom_id":"a","index":0,"job":{"fingerprint":"f"},"response":{"status_code":200,"request_id":"r1","body":{}},"error":null,"output_text":"positive","usage":{"input_tokens":1000,"cached_input_tokens":200,"output_tokens":500,"reasoning_tokens":300,"total_tokens":1500},"model":"gpt-5-mini-2025-08-07","attempts":1,"latency_ms":100,"input":{"text":"great","n":12345678901234567}}
{"custom_id":"b","index":1,"response":null,"error":{"code":"rate_limit_exceeded","message":"slow down","status_code":429,"retryable":true},"output_text":"","usage":{"input_tokens":0,"cached_input_tokens":0,"output_tokens":0,"reasoning_tokens":0,"total_tokens":0},"model":"gpt-5-mini","attempts":8,"rate_limited":8,"latency_ms":0}
{"custom_id":"c","index":2,"response":{"status_code":200,"request_id":"r3","body":{}},"error":{"code":"max_output_tokens","message":"incomplete","retryable":false},"output_text":"","usage":{"input_tokens":300,"cached_input_tokens":0,"output_tokens":100,"reasoning_tokens":100,"total_tokens":400},"model":"gpt-4o-mini","attempts":1,"latency_ms":200}
{"custom_id":"b","index":1,"response":{"status_code":200,"request_id":"r4","body":{}},"error":null,"output_text":"negative","usage":{"input_tokens":400,"cached_input_tokens":0,"output_tokens":50,"reasoning_tokens":0,"total_tokens":450},"model":"gpt-5-mini","attempts":3,"rate_limited":2,"latency_ms":300,"time":"2026-01-02T10:00:05Z"}
{"custom_id":"c","index":2,"response":{"status_code":200,"request_id":"r5","body":{}},"error":null,"output_text":"neutral","usage":{"input_tokens":300,"cached_input_tokens":100,"output_tokens":80,"reasoning_tokens":0,"total_tokens":380},"model":"gpt-4o-mini","attempts":1,"latency_ms":150,"time":"2026-01-02T10:00:01Z"}
{"custom_id":"d","index":3,"response":null,"error":{"code":"bad_input","message":"in.jsonl:4: bad json","retryable":false},"output_text":"","usage":{"input_tokens":0,"cached_input_tokens":0,"output_tokens":0,"reasoning_tokens":0,"total_tokens":0},"attempts":0,"latency_ms":0}
{"custom_id":"e","index":4,"resp`

func writeFile(tb testing.TB, dir, name, content string) string {
	tb.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}

// Per-token prices in picodollars: $X per 1M tokens is X·10⁶ pico a token.
const (
	miniIn, miniCached, miniOut    = 250_000, 25_000, 2_000_000 // gpt-5-mini 0.25 / 0.025 / 2.00
	fourOIn, fourOCached, fourOOut = 150_000, 75_000, 600_000   // gpt-4o-mini 0.15 / 0.075 / 0.60

	// The costs of dupJournal, by hand: cached tokens are part of input,
	// reasoning tokens part of output, neither added twice.
	wantSnapshotCost prices.Money = (1000-200)*miniIn + 200*miniCached + 500*miniOut
	wantMiniCost     prices.Money = 400*miniIn + 50*miniOut
	wantFourOCost    prices.Money = (300+300-100)*fourOIn + 100*fourOCached + (100+80)*fourOOut
	wantTotalCost                 = wantSnapshotCost + wantMiniCost + wantFourOCost // 1,595,500,000 pico
)

func TestReport_DuplicatesAndRetries(t *testing.T) {
	path := writeFile(t, t.TempDir(), "results.jsonl", dupJournal)
	rep := results.NewReport(prices.Default())
	info, err := results.ReadEach([]string{path}, 0, func(rec *results.Record) error {
		rep.Add(rec)
		return nil
	})
	if err != nil {
		t.Fatalf("ReadEach() error = %v", err)
	}
	rep.Finish()
	if info.Lines != 6 || len(info.Torn) != 1 {
		t.Errorf("ReadEach() info = %+v, want 6 lines, 1 torn", info)
	}
	wantRows := results.ReportRows{Keys: 4, OK: 3, Failed: 1, ByError: map[string]int64{"bad_input": 1}}
	if got := rep.Rows; got.Keys != wantRows.Keys || got.OK != wantRows.OK || got.Failed != wantRows.Failed ||
		got.Retryable != 0 || !maps.Equal(got.ByError, wantRows.ByError) {
		t.Errorf("Rows = %+v, want %+v", got, wantRows)
	}
	if rep.Records != 6 || rep.Superseded != 2 {
		t.Errorf("Records, Superseded = %d, %d, want 6, 2", rep.Records, rep.Superseded)
	}
	if rep.Requests != 14 || rep.Retries != 9 || rep.RateLimited != 10 {
		t.Errorf("Requests, Retries, RateLimited = %d, %d, %d, want 14, 9, 10", rep.Requests, rep.Retries, rep.RateLimited)
	}
	if want := map[int]int64{0: 1, 1: 3, 3: 1, 8: 1}; !maps.Equal(rep.Attempts, want) {
		t.Errorf("Attempts = %v, want %v", rep.Attempts, want)
	}
	// Every answered request is paid for: c's incomplete answer counts.
	if got := rep.Usage.PerModel["gpt-4o-mini"]; got.InputTokens != 600 || got.CachedInputTokens != 100 || got.OutputTokens != 180 || got.ReasoningTokens != 100 {
		t.Errorf("gpt-4o-mini usage = %+v", got)
	}
	if got := rep.Usage.Total; got.InputTokens != 2000 || got.OutputTokens != 730 || got.TotalTokens != 2730 {
		t.Errorf("total usage = %+v", got)
	}
	wantCost := map[string]prices.Cost{
		"gpt-5-mini-2025-08-07": {Amount: wantSnapshotCost, Known: true},
		"gpt-5-mini":            {Amount: wantMiniCost, Known: true},
		"gpt-4o-mini":           {Amount: wantFourOCost, Known: true},
	}
	if !maps.Equal(rep.Cost.PerModel, wantCost) {
		t.Errorf("Cost.PerModel = %v, want %v", rep.Cost.PerModel, wantCost)
	}
	if got := rep.Cost.Total; !got.Known || got.Amount != wantTotalCost {
		t.Errorf("Cost.Total = %v (%d pico), want %d pico", got, got.Amount, wantTotalCost)
	}
	if got, want := rep.Cost.Total.String(), "$0.001596"; got != want { // 0.0015955 rounded
		t.Errorf("Cost.Total = %s, want %s", got, want)
	}
	if got, want := rep.End.Sub(rep.Start), 4150*time.Millisecond; got != want || rep.WallSeconds != want.Seconds() {
		t.Errorf("WallSeconds = %v, want %v", got, want)
	}
	if rep.Latency.P50 < 140 || rep.Latency.P50 > 210 {
		t.Errorf("Latency.P50 = %d, want about 150..200", rep.Latency.P50)
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"total":"0.0015955"`) {
		t.Errorf("report JSON has no exact total: %s", b)
	}
}

func TestReadLatest_LaterFileWins(t *testing.T) {
	dir := t.TempDir()
	a := writeFile(t, dir, "a.jsonl", `{"custom_id":"x","index":0,"error":{"code":"server_error","retryable":true},"attempts":8}
{"custom_id":"y","index":1,"error":null,"attempts":1}
`)
	b := writeFile(t, dir, "b.jsonl", `{"custom_id":"x","index":0,"error":null,"attempts":2,"output_text":"ok"}
`)
	var got []string
	info, err := results.ReadLatest([]string{a, b}, results.AllFields, func(rec *results.Record) error {
		got = append(got, rec.CustomID+":"+results.StatusOf(rec.Error).String())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := "y:ok,x:ok"; strings.Join(got, ",") != want {
		t.Errorf("ReadLatest() = %v, want %s", got, want)
	}
	if info.Keys != 2 || info.Lines != 3 {
		t.Errorf("info = %+v", info)
	}
}

func TestReadAll_Errors(t *testing.T) {
	dir := t.TempDir()
	bad := writeFile(t, dir, "bad.jsonl", "{\"custom_id\":\"a\",\"attempts\":1}\nnot json\n{\"custom_id\":\"b\",\"attempts\":1}\n")
	_, err := results.ReadAll([]string{bad}, results.AllFields, func(*results.Record, bool) error { return nil })
	var ce *results.CorruptError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "bad.jsonl:2:") {
		t.Errorf("ReadAll(corrupt middle) error = %v, want a CorruptError at bad.jsonl:2", err)
	}
	_, err = results.ReadAll([]string{filepath.Join(dir, "missing.jsonl")}, 0, func(*results.Record, bool) error { return nil })
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ReadAll(missing) error = %v, want ErrNotExist", err)
	}
	stop := errors.New("stop")
	good := writeFile(t, dir, "good.jsonl", "{\"custom_id\":\"a\",\"attempts\":1}\n")
	if _, err := results.ReadAll([]string{good}, results.AllFields, func(*results.Record, bool) error { return stop }); err != stop {
		t.Errorf("ReadAll() with a failing fn = %v, want its error", err)
	}
}

func TestPriceUsage_UnknownModel(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "r.jsonl", `{"custom_id":"a","usage":{"input_tokens":1000000,"output_tokens":0},"model":"gpt-5-nano","attempts":1}
{"custom_id":"b","usage":{"input_tokens":10,"output_tokens":10},"model":"my-llama","attempts":1}
{"custom_id":"c","error":{"code":"bad_input"},"attempts":0}
`)
	rep := results.NewReport(prices.Default())
	if _, err := results.ReadEach([]string{path}, 0, func(r *results.Record) error { rep.Add(r); return nil }); err != nil {
		t.Fatal(err)
	}
	rep.Finish()
	c := rep.Cost
	if c.Total.Known || c.Priced != 50_000*prices.Microdollar || strings.Join(c.Unknown, ",") != "my-llama" {
		t.Errorf("Cost = %+v, want unknown total, $0.05 priced, my-llama unknown", c)
	}
	if _, ok := c.PerModel[""]; ok {
		t.Error("a model-less record with no usage was priced")
	}
	b, _ := json.Marshal(c)
	if !strings.Contains(string(b), `"my-llama":"unknown"`) || !strings.Contains(string(b), `"total":"unknown"`) {
		t.Errorf("cost JSON = %s", b)
	}
}

// TestReport_OnePassMatchesLatestRecords builds journals in which keys
// (index keys and string keys) are answered, fail, fail again with another
// code and are answered again across files, and checks that the one-pass
// Report counts rows exactly as the latest records (ReadLatest) say.
func TestReport_OnePassMatchesLatestRecords(t *testing.T) {
	dir := t.TempDir()
	codes := []string{"", "rate_limit_exceeded", "server_error", "bad_input", "max_output_tokens"}
	var paths []string
	seq := uint64(7)
	next := func(n int) int { seq = seq*6364136223846793005 + 1442695040888963407; return int(seq>>33) % n }
	for f := range 3 {
		var b strings.Builder
		for range 400 {
			k := next(150)
			key := strconv.Itoa(k) // index keys, kept densely
			if k%3 == 0 {
				key = "row-" + key // string keys, hashed
			}
			rec := results.Record{CustomID: key, Attempts: 1 + next(3), Model: "gpt-5-mini",
				Usage: api.Usage{InputTokens: int64(next(100)), OutputTokens: int64(next(100))}}
			switch c := next(len(codes) + 2); {
			case c < len(codes) && c > 0:
				rec.Error = &results.Error{Code: codes[c], Retryable: c <= 2}
			case c == 0:
				rec.Error = &results.Error{Code: "", Message: "no code"}
			}
			line, err := json.Marshal(rec)
			if err != nil {
				t.Fatal(err)
			}
			b.Write(line)
			b.WriteByte('\n')
		}
		paths = append(paths, writeFile(t, dir, fmt.Sprintf("shard%d.jsonl", f), b.String()))
	}
	want := results.ReportRows{ByError: map[string]int64{}}
	var lines int64
	if _, err := results.ReadAll(paths, 0, func(rec *results.Record, latest bool) error {
		lines++
		if !latest {
			return nil
		}
		want.Keys++
		switch results.StatusOf(rec.Error) {
		case results.OK:
			want.OK++
		case results.Failed:
			want.Failed++
		case results.Retryable:
			want.Retryable++
		}
		if rec.Error != nil {
			code := rec.Error.Code
			if code == "" {
				code = "(no code)"
			}
			want.ByError[code]++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	rep := results.NewReport(nil)
	if _, err := results.ReadEach(paths, 0, func(rec *results.Record) error { rep.Add(rec); return nil }); err != nil {
		t.Fatal(err)
	}
	rep.Finish()
	got := rep.Rows
	if got.Keys != want.Keys || got.OK != want.OK || got.Failed != want.Failed || got.Retryable != want.Retryable ||
		!maps.Equal(got.ByError, want.ByError) {
		t.Errorf("Rows = %+v\nwant   %+v", got, want)
	}
	if rep.Records != lines || rep.Superseded != lines-want.Keys {
		t.Errorf("Records, Superseded = %d, %d, want %d, %d", rep.Records, rep.Superseded, lines, lines-want.Keys)
	}
	if want.Keys < 100 || want.Failed == 0 || want.Retryable == 0 || len(want.ByError) < 4 {
		t.Fatalf("the journals do not exercise the report: %+v", want)
	}
}

func TestReadEach_Errors(t *testing.T) {
	dir := t.TempDir()
	bad := writeFile(t, dir, "bad.jsonl", "{\"custom_id\":\"a\",\"attempts\":1}\nnot json\n{\"custom_id\":\"b\",\"attempts\":1}\n")
	_, err := results.ReadEach([]string{bad}, 0, func(*results.Record) error { return nil })
	var ce *results.CorruptError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "bad.jsonl:2:") {
		t.Errorf("ReadEach(corrupt middle) error = %v, want a CorruptError at bad.jsonl:2", err)
	}
	good := writeFile(t, dir, "good.jsonl", "{\"custom_id\":\"a\",\"attempts\":1}\n")
	torn := writeFile(t, dir, "torn.jsonl", "{\"custom_id\":\"a\",\"attempts\":1}\n{\"custom_id\":\"b\",\"att\n")
	var n int
	info, err := results.ReadEach([]string{torn, good}, 0, func(*results.Record) error { n++; return nil })
	if err != nil || n != 2 || info.Lines != 2 || len(info.Torn) != 1 || !strings.HasSuffix(info.Torn[0], "torn.jsonl: 22 bytes") {
		t.Errorf("ReadEach(unparsable last line) = %+v, %v after %d records, want 2 lines and torn.jsonl: 22 bytes", info, err, n)
	}
	n = 0
	_, err = results.ReadEach([]string{good, filepath.Join(dir, "missing.jsonl")}, 0, func(*results.Record) error { n++; return nil })
	if !errors.Is(err, os.ErrNotExist) || n != 0 {
		t.Errorf("ReadEach(missing) error = %v after %d records, want ErrNotExist before any", err, n)
	}
	stop := errors.New("stop")
	if _, err := results.ReadEach([]string{good}, 0, func(*results.Record) error { return stop }); err != stop {
		t.Errorf("ReadEach() with a failing fn = %v, want its error", err)
	}
}
