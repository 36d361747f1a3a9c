package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/llmbatch/llmbatch/io/sim"
)

const bgKey = "sk-test-background-0123456789"

// bgArgs runs the process tests' job in background mode against base.
func bgArgs(input, journal, base string, extra ...string) []string {
	return append([]string{"run", input, "-o", journal, "--base-url", base, "--model", "gpt-5-mini",
		"--id-column", "id", "--prompt", "Label the sentiment of: {{.text}}", "--mode", "background", "--poll-interval", "5ms"}, extra...)
}

// run --mode background: every row created once in the background,
// polled, journalled; the closing lines count the polls.
func TestCLI_BackgroundRun(t *testing.T) {
	dir := t.TempDir()
	const n = 60
	s := sim.New(sim.Config{Seed: 3, APIKey: bgKey, BackgroundDelay: 20 * time.Millisecond, BackgroundJitter: 40 * time.Millisecond})
	base, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	journal := filepath.Join(dir, "out.jsonl")
	env, _, stderr := testEnv(map[string]string{"OPENAI_API_KEY": bgKey})
	if code := run(context.Background(), bgArgs(writeRows(t, dir, n), journal, base), env); code != exitOK {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr)
	}
	if !strings.Contains(stderr.String(), "background: 60 responses created") || !strings.Contains(stderr.String(), "per finished row") {
		t.Errorf("closing lines lack the background counts:\n%s", stderr)
	}
	st := s.Stats().Background
	if st.Created != n || st.Completed != n || len(s.Creations()) != n {
		t.Errorf("sim: %+v", st)
	}
	checkComplete(t, readJournalFile(t, journal), n)
}

// Ctrl-C in background mode: no more creates, exit 130, and the closing
// lines say how many responses still run server-side and how to collect
// or cancel them; "llmbatch cancel" cancels them and journals each; the
// next run has nothing left to create and reports the cancelled rows.
func TestCLI_BackgroundInterruptThenCancel(t *testing.T) {
	dir := t.TempDir()
	const n = 50
	s := sim.New(sim.Config{Seed: 4, APIKey: bgKey, BackgroundDelay: time.Hour})
	base, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	input := writeRows(t, dir, n)
	journal := filepath.Join(dir, "out.jsonl")
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for s.Stats().Background.Created < n/2 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	env, _, stderr := testEnv(map[string]string{"OPENAI_API_KEY": bgKey})
	if code := run(ctx, bgArgs(input, journal, base), env); code != exitInterrupted {
		t.Fatalf("exit %d, want 130; stderr:\n%s", code, stderr)
	}
	created := s.Stats().Background.Created
	out := stderr.String()
	for _, want := range []string{"no new responses are created", "still running server-side and are billed", "re-run the same command to collect them", "llmbatch cancel " + journal} {
		if !strings.Contains(out, want) {
			t.Errorf("interrupt output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, bgKey) {
		t.Errorf("the key appears in the output")
	}

	env, _, stderr = testEnv(map[string]string{"OPENAI_API_KEY": bgKey})
	if code := run(context.Background(), []string{"cancel", journal, "--base-url", base}, env); code != exitOK {
		t.Fatalf("cancel: exit %d; stderr:\n%s", code, stderr)
	}
	if st := s.Stats().Background; st.Cancelled != created {
		t.Errorf("sim cancelled %d of %d created; cancel said:\n%s", st.Cancelled, created, stderr)
	}
	if !strings.Contains(stderr.String(), "cancelled") {
		t.Errorf("cancel output:\n%s", stderr)
	}
	// Cancel again: nothing left.
	env, _, stderr = testEnv(map[string]string{"OPENAI_API_KEY": bgKey})
	if code := run(context.Background(), []string{"cancel", journal, "--base-url", base}, env); code != exitOK || !strings.Contains(stderr.String(), "no background response still running") {
		t.Errorf("second cancel: exit %d; stderr:\n%s", code, stderr)
	}
}

// A journal in use by a running job cannot be cancelled (exit 2); no
// journal is exit 2 too; without a key, exit 2.
func TestCLI_CancelUsage(t *testing.T) {
	dir := t.TempDir()
	env, _, stderr := testEnv(map[string]string{"OPENAI_API_KEY": bgKey})
	if code := run(context.Background(), []string{"cancel", filepath.Join(dir, "none.jsonl")}, env); code != exitUsage {
		t.Errorf("cancel of a missing journal: exit %d; %s", code, stderr)
	}
	held := filepath.Join(dir, "held.jsonl")
	if err := os.WriteFile(held, []byte(`{"kind":"response","key":"0","id":"resp_1","job":{"fingerprint":"f"}}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env, _, stderr = testEnv(nil)
	if code := run(context.Background(), []string{"cancel", held}, env); code != exitUsage || !strings.Contains(stderr.String(), "no API key") {
		t.Errorf("cancel without a key: exit %d; %s", code, stderr)
	}
}

// Bad mode flags, and an endpoint that refuses "background": exit 2 with
// a message that suggests the default mode.
func TestCLI_BackgroundUsageErrors(t *testing.T) {
	dir := t.TempDir()
	input := writeRows(t, dir, 5)
	journal := filepath.Join(dir, "out.jsonl")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(400)
		io.WriteString(w, `{"error":{"message":"background is not supported by this server","type":"invalid_request_error","param":"background","code":"unsupported_parameter"}}`)
	}))
	defer srv.Close()
	storeFalse := filepath.Join(dir, "body.json")
	if err := os.WriteFile(storeFalse, []byte(`{"store": false}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{bgArgs(input, journal, srv.URL+"/v1", "--mode", "fast"), `--mode must be online, background or batch, not "fast"`},
		{bgArgs(input, journal, srv.URL+"/v1", "--max-pending", "0"), "--max-pending must be at least 1"},
		{bgArgs(input, journal, srv.URL+"/v1", "--endpoint", "chat"), "Responses API only"},
		{bgArgs(input, journal, srv.URL+"/v1"), "does not run background responses; run in the default mode"},
		{bgArgs(input, journal, srv.URL+"/v1", "--body", storeFalse), `the body sets "store": false, but background responses must be stored`},
	} {
		env, _, stderr := testEnv(map[string]string{"OPENAI_API_KEY": bgKey})
		if code := run(context.Background(), tc.args, env); code != exitUsage || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%q: exit %d, want 2 and %q; stderr:\n%s", tc.args[len(tc.args)-2:], code, tc.want, stderr)
		}
	}
}
