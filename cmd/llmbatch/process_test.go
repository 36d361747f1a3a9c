package main

// Helpers for tests that run the llmbatch binary as real processes: the
// binary is built once per test binary (TestMain removes it), the
// simulated endpoint runs as its own "llmbatch simulate" process, and the
// journal is read back strictly.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// llmbatchBin builds the llmbatch binary once and returns its path.
func llmbatchBin(tb testing.TB) string {
	tb.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "llmbatch-bin")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "llmbatch")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		tb.Fatal(binErr)
	}
	return binPath
}

// simProc is an "llmbatch simulate" process.
type simProc struct {
	base string // ends in /v1
	cmd  *exec.Cmd
}

// startSimProc starts "llmbatch simulate" with args on a free loopback
// port and stops it when the test ends.
func startSimProc(tb testing.TB, args ...string) *simProc {
	tb.Helper()
	cmd := exec.Command(llmbatchBin(tb), append([]string{"simulate", "--addr", "127.0.0.1:0"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stderr := new(syncBuffer)
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		tb.Fatalf("simulate printed no URL: %v; stderr: %s", err, stderr.String())
	}
	go io.Copy(io.Discard, stdout)
	return &simProc{base: strings.TrimSpace(line), cmd: cmd}
}

// simStats is the part of GET /_sim/stats the tests read.
type simStats struct {
	Requests  int               `json:"requests"`
	Completed int               `json:"completed"`
	PerBody   map[string][2]int `json:"per_body"` // sha256 -> [requests, completed]
}

func (s *simProc) stats(tb testing.TB) simStats {
	tb.Helper()
	resp, err := http.Get(s.base + "/_sim/stats")
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var st simStats
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		tb.Fatal(err)
	}
	return st
}

// writeRows writes an n-row JSONL input with unique keys and texts, so
// that every row's request body is unique.
func writeRows(tb testing.TB, dir string, n int) string {
	tb.Helper()
	path := filepath.Join(dir, "in.jsonl")
	var b bytes.Buffer
	for i := range n {
		fmt.Fprintf(&b, `{"id":"k%06d","text":"review number %d: it was fine"}`+"\n", i, i)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}

// jobArgs are the "llmbatch run" arguments of the process tests' job.
func jobArgs(input, journal, base string, extra ...string) []string {
	return append([]string{"run", input, "-o", journal, "--base-url", base, "--model", "gpt-5-mini",
		"--id-column", "id", "--prompt", "Label the sentiment of: {{.text}}", "--quiet"}, extra...)
}

// syncBuffer is a bytes.Buffer that a process may write while the test
// reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// llmbatchCmd returns a command running the binary with a test API key.
func llmbatchCmd(tb testing.TB, args ...string) (*exec.Cmd, *syncBuffer) {
	tb.Helper()
	cmd := exec.Command(llmbatchBin(tb), args...)
	cmd.Env = append(os.Environ(), "OPENAI_API_KEY=sk-test-process-0123456789")
	stderr := new(syncBuffer)
	cmd.Stderr = stderr
	cmd.Stdout = io.Discard
	return cmd, stderr
}

// runLLMBatch runs the binary to its end and returns its exit status and
// stderr.
func runLLMBatch(tb testing.TB, args ...string) (int, string) {
	tb.Helper()
	cmd, stderr := llmbatchCmd(tb, args...)
	err := cmd.Run()
	return exitStatus(tb, cmd, err), stderr.String()
}

// exitStatus returns the process's exit status, or -N if signal N killed it.
func exitStatus(tb testing.TB, cmd *exec.Cmd, err error) int {
	tb.Helper()
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			tb.Fatal(err)
		}
	}
	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		return -int(ws.Signal())
	}
	return ws.ExitStatus()
}

// jline is the part of a journal line the process tests read.
type jline struct {
	Kind     string `json:"kind"`
	CustomID string `json:"custom_id"`
	Error    *struct {
		Retryable bool `json:"retryable"`
	} `json:"error"`
	Attempts      int    `json:"attempts"`
	RequestSHA256 string `json:"request_sha256"`
	Job           *struct {
		Fingerprint string `json:"fingerprint"`
	} `json:"job"`
	// A mark's (run modes): its row and id.
	Key string `json:"key"`
	ID  string `json:"id"`
}

func (l *jline) finished() bool { return l.Error == nil || !l.Error.Retryable }

// journalState is a journal read back.
type journalState struct {
	lines    []jline
	torn     bool            // the last line lacks its newline
	finished map[string]bool // request_sha256 of rows with a final record
	marks    []jline         // the marks (run modes), in order
}

// readJournalFile reads a journal; a line that does not parse fails the
// test, except a last line without a newline, which is reported as torn.
func readJournalFile(tb testing.TB, path string) journalState {
	tb.Helper()
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return journalState{finished: map[string]bool{}}
	}
	if err != nil {
		tb.Fatal(err)
	}
	st := journalState{finished: map[string]bool{}}
	for n := 1; len(data) > 0; n++ {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			st.torn = true
			break
		}
		var l jline
		if err := json.Unmarshal(data[:i], &l); err != nil {
			tb.Fatalf("%s:%d: malformed line: %v", path, n, err)
		}
		if l.Kind != "" && l.CustomID == "" { // a mark (README "The journal and resuming"), not a row
			if l.Kind == "response" && (l.Key == "" || l.ID == "") {
				tb.Fatalf("%s:%d: a mark lacks its key or id: %s", path, n, data[:i])
			}
			st.marks = append(st.marks, l)
			data = data[i+1:]
			continue
		}
		if l.CustomID == "" || l.RequestSHA256 == "" {
			tb.Fatalf("%s:%d: line lacks custom_id or request_sha256: %s", path, n, data[:i])
		}
		st.lines = append(st.lines, l)
		if l.finished() {
			st.finished[l.RequestSHA256] = true
		}
		data = data[i+1:]
	}
	return st
}

// checkComplete asserts that every one of the n input keys has exactly one
// final record, and returns the count of records per key.
func checkComplete(tb testing.TB, st journalState, n int) {
	tb.Helper()
	if st.torn {
		tb.Errorf("journal ends in a torn line")
	}
	final := map[string]int{}
	for _, l := range st.lines {
		if l.finished() {
			final[l.CustomID]++
		}
	}
	for i := range n {
		k := fmt.Sprintf("k%06d", i)
		if final[k] != 1 {
			tb.Errorf("key %s has %d final records, want 1", k, final[k])
		}
	}
	if len(final) != n {
		tb.Errorf("journal has final records for %d keys, want %d", len(final), n)
	}
}

// waitFor polls cond every 10ms until it holds or d passes.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return cond()
}
