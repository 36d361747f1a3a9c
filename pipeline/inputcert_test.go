package pipeline_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/llmbatch/llmbatch/io/results"
	"github.com/llmbatch/llmbatch/io/sim"
	"github.com/llmbatch/llmbatch/pipeline"
)

// TestRun_CertifiedResumeBuildsNothing: a run that reads its whole input
// certifies the journal in its summary (the input's SHA-256, the
// journal's length); a resume of the same input skips the finished rows
// by key, without building their requests: a request hash tampered in
// the journal goes unseen. Once the journal has grown since (a run that
// did not end its pass), or without the certificate, every finished row
// is checked again, and the tampered one is refused as before.
func TestRun_CertifiedResumeBuildsNothing(t *testing.T) {
	dir := t.TempDir()
	const n = 60
	s, base := startSim(t, sim.Config{Seed: 3})
	input := writeInput(t, dir, n)
	cfg := baseConfig(dir, input, base)

	// A run cut short by Limit certifies nothing.
	cfg.Limit = 20
	if _, err := pipeline.Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if c := readCert(t, cfg.Output); c != nil {
		t.Fatalf("a run cut by Limit certified %+v", c)
	}
	cfg.Limit = 0
	if _, err := pipeline.Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	in, _ := os.ReadFile(input)
	sum := sha256.Sum256(in)
	st, _ := os.Stat(cfg.Output)
	c := readCert(t, cfg.Output)
	if c == nil || c.SHA256 != hex.EncodeToString(sum[:]) || c.JournalBytes != st.Size() {
		t.Fatalf("certificate %+v, want the input's SHA-256 and %d journal bytes", c, st.Size())
	}

	// Tamper one record's request hash (not the first row's: that one
	// is always built), keeping the journal's length.
	j, _ := os.ReadFile(cfg.Output)
	var rec results.Record
	line := bytes.Split(j, []byte("\n"))[10]
	if err := json.Unmarshal(line, &rec); err != nil || len(rec.RequestSHA256) != 64 {
		t.Fatalf("first record %s: %v", line, err)
	}
	bad := bytes.Replace(j, []byte(rec.RequestSHA256), bytes.Repeat([]byte("0"), 64), 1)
	if err := os.WriteFile(cfg.Output, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	before := s.Stats().Requests
	res, err := pipeline.Run(context.Background(), cfg)
	if err != nil || res.Rows.Skipped != n || s.Stats().Requests != before {
		t.Fatalf("certified resume: %v, rows %+v, %d requests", err, res.Rows, s.Stats().Requests-before)
	}
	if readCert(t, cfg.Output) == nil {
		t.Fatal("a certified resume that read its whole input kept no certificate")
	}

	// The journal grows (a line a later run wrote): checked row by row,
	// and the tampered row is refused.
	f, _ := os.OpenFile(cfg.Output, os.O_APPEND|os.O_WRONLY, 0)
	f.Write(append(bytes.Replace(line, []byte(rec.RequestSHA256), bytes.Repeat([]byte("0"), 64), 1), '\n'))
	f.Close()
	_, err = pipeline.Run(context.Background(), cfg)
	var uerr *pipeline.UsageError
	if !errors.As(err, &uerr) {
		t.Fatalf("uncertified resume over a tampered journal: %v, want the request check's usage error", err)
	}
}

func readCert(t *testing.T, journal string) *results.InputCert {
	t.Helper()
	return readSummary(t, journal).Input
}
