package pipeline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/llmbatch/llmbatch/io/sim"
	"github.com/llmbatch/llmbatch/pipeline"
)

// TestRun_JournalBodyShapes: a gateway that pretty-prints its answers
// (line breaks, indentation) for some rows and sends them compact with
// escaped quotes and backslashes for others, echoing the key in one:
// every row's journal line is one line of valid JSON, its body the
// answer compacted, and the key is not in the journal.
func TestRun_JournalBodyShapes(t *testing.T) {
	dir := t.TempDir()
	s, _ := startSim(t, sim.Config{})
	key := "sk-test-echoed-key-0123456789"
	n := 0
	srv := front(t, s, func(w http.ResponseWriter, r *http.Request, next func() *httptest.ResponseRecorder) {
		rec := next()
		body := rec.Body.Bytes()
		var v map[string]any
		if err := json.Unmarshal(body, &v); err != nil {
			t.Errorf("simulator answer: %v", err)
		}
		v["note"] = `a "quoted" \ path\` + "\n" + r.Header.Get("Authorization")
		switch n++; n % 3 {
		case 0:
			body, _ = json.MarshalIndent(v, "", "  ")
			body = append(body, '\n')
		case 1:
			body, _ = json.Marshal(v)
		default:
			body, _ = json.Marshal(v)
			body = append([]byte("\r\n "), body...)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	})
	cfg := baseConfig(dir, writeInput(t, dir, 30), srv.URL+"/v1")
	cfg.Concurrency = 1
	cfg.APIKey = key
	sum, err := pipeline.Run(context.Background(), cfg)
	if err != nil || sum.Rows.OK != 30 {
		t.Fatalf("Run: %v, rows %+v", err, sum.Rows)
	}
	raw, err := os.ReadFile(cfg.Output)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(key)) {
		t.Error("the key is in the journal")
	}
	lines := bytes.Split(bytes.TrimSuffix(raw, []byte("\n")), []byte("\n"))
	if len(lines) != 30 {
		t.Fatalf("%d lines, want 30", len(lines))
	}
	for i, line := range lines {
		var rec struct {
			Response struct {
				Body json.RawMessage `json:"body"`
			} `json:"response"`
		}
		if err := json.Unmarshal(line, &rec); err != nil {
			t.Fatalf("line %d: %v: %s", i+1, err, line)
		}
		var c bytes.Buffer
		json.Compact(&c, rec.Response.Body)
		if !bytes.Equal(c.Bytes(), rec.Response.Body) || !bytes.Contains(line, []byte(`"note":"a \"quoted\" \\ path\\\n`)) {
			t.Errorf("line %d: body not compact or note changed: %s", i+1, line)
		}
	}
}
