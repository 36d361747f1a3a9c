package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmbatch/llmbatch/io/results"
	"github.com/llmbatch/llmbatch/io/secret"
	"github.com/llmbatch/llmbatch/io/sim"
)

// keyForms are the ways a key can be written in JSON text.
func keyForms(key string) []string {
	html, _ := json.Marshal(key)
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(key)
	plain := strings.TrimSpace(b.String())
	return []string{key, string(html[1 : len(html)-1]), plain[1 : len(plain)-1]}
}

// echoFront serves s behind a gateway that echoes the key it was sent: in
// the body of every 200 (a top-level field and metadata, both escapings)
// and in x-request-id. With fatal set it answers 401 with the key in the
// message instead.
func echoFront(t *testing.T, s *sim.Server, fatal bool) *httptest.Server {
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		w.Header().Set("x-request-id", "req_"+key)
		plain, _ := json.Marshal(key) // HTML-escaped: \u003c \u003e \u0026
		if fatal {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"error":{"type":"invalid_request_error","code":"invalid_api_key","message":"Incorrect API key provided: ` + key + `"}}`))
			return
		}
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		if rec.Code == http.StatusOK {
			var b bytes.Buffer
			enc := json.NewEncoder(&b)
			enc.SetEscapeHTML(false)
			enc.Encode(map[string]string{"key": key})
			body = append([]byte(`{"echo":`+string(plain)+`,"metadata":`+strings.TrimSpace(b.String())+`,`), body[1:]...)
		}
		w.WriteHeader(rec.Code)
		w.Write(body)
	}))
	t.Cleanup(front.Close)
	return front
}

// TestRun_KeysNeverCorruptAnswersNorLeak runs the CLI with keys short
// (placeholders of local servers) and long (secrets, some with characters
// that JSON escapes) against the simulator fronted by a gateway that
// echoes the key: usage, output_text and model must be what a run without
// a key records, and a secret key must appear in no output, in any form.
func TestRun_KeysNeverCorruptAnswersNorLeak(t *testing.T) {
	const rows = 12
	in := filepath.Join(t.TempDir(), "in.jsonl")
	var inb strings.Builder
	for i := range rows {
		inb.WriteString(`{"id":"r` + string(rune('a'+i)) + `","text":"review ` + strings.Repeat("fine ", i+1) + `"}` + "\n")
	}
	if err := os.WriteFile(in, []byte(inb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	runCLI := func(t *testing.T, base, key, out string) (int, string) {
		env, _, stderr := testEnv(map[string]string{"OPENAI_API_KEY": key})
		code := run(context.Background(), []string{"run", "--base-url", base, "--model", "gpt-5-mini", "--id-column", "id",
			"--max-attempts", "2", "-o", out, in}, env)
		return code, stderr.String()
	}
	// What a run against the plain simulator records.
	want := map[string]results.Record{}
	{
		s := sim.New(sim.Config{Seed: 3, APIKey: "sk-baseline-key-000"})
		base, err := s.Start("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		out := filepath.Join(t.TempDir(), "base.jsonl")
		if code, stderr := runCLI(t, base, "sk-baseline-key-000", out); code != exitOK {
			t.Fatalf("baseline: exit %d\n%s", code, stderr)
		}
		for _, r := range readRecords(t, out) {
			want[r.CustomID] = r
		}
	}
	long := "sk-proj-" + strings.Repeat("Zq7_xK2-", 19) + "abcd"
	if len(long) != 164 {
		t.Fatalf("long key has %d bytes", len(long))
	}
	for _, key := range []string{"k", "x", "1", "gpt", "EMPTY", `a"b\c`, `sk-a"b\c-quoted`, "sk-<x>&y", long} {
		t.Run(key[:min(len(key), 8)], func(t *testing.T) {
			s := sim.New(sim.Config{Seed: 3, APIKey: key})
			_, err := s.Start("127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			front := echoFront(t, s, false)
			out := filepath.Join(t.TempDir(), "out.jsonl")
			code, stderr := runCLI(t, front.URL+"/v1", key, out)
			if code != exitOK {
				t.Fatalf("exit %d, want 0\n%s", code, stderr)
			}
			recs := readRecords(t, out)
			var in, outTok int64
			for _, r := range recs {
				w := want[r.CustomID]
				if r.Error != nil || r.Usage != w.Usage || r.OutputText != w.OutputText || r.Model != w.Model {
					t.Errorf("%s: error %v usage %+v text %q model %q; want usage %+v text %q model %q",
						r.CustomID, r.Error, r.Usage, r.OutputText, r.Model, w.Usage, w.OutputText, w.Model)
				}
				in += r.Usage.InputTokens
				outTok += r.Usage.OutputTokens
			}
			st := s.Stats()
			if len(recs) != rows || in != st.InputTokens || outTok != st.OutputTokens {
				t.Errorf("journal: %d records, %d/%d tokens; simulator billed %d/%d", len(recs), in, outTok, st.InputTokens, st.OutputTokens)
			}
			// A fatal answer that echoes the key: the message is printed.
			out2 := filepath.Join(t.TempDir(), "fatal.jsonl")
			code2, stderr2 := runCLI(t, echoFront(t, s, true).URL+"/v1", key, out2)
			if code2 != exitStopped {
				t.Errorf("fatal run: exit %d, want %d\n%s", code2, exitStopped, stderr2)
			}
			if len(key) < secret.MinKeyLen {
				return
			}
			journal, _ := os.ReadFile(out)
			summary, _ := os.ReadFile(results.SummaryPath(out))
			summary2, _ := os.ReadFile(results.SummaryPath(out2))
			for name, text := range map[string]string{"journal": string(journal), "summary": string(summary), "stderr": stderr,
				"stderr of the fatal run": stderr2, "summary of the fatal run": string(summary2)} {
				for _, f := range keyForms(key) {
					if strings.Contains(text, f) {
						t.Errorf("%s holds the key as %s", name, f)
					}
				}
			}
			if !strings.Contains(string(journal), `"request_id":"req_[redacted]"`) || !strings.Contains(stderr2, "[redacted]") {
				t.Errorf("the echoed key was not replaced by the mask")
			}
		})
	}
}

func readRecords(t *testing.T, path string) []results.Record {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var recs []results.Record
	for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		var r results.Record
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("%s: %v: %s", path, err, line)
		}
		recs = append(recs, r)
	}
	return recs
}
