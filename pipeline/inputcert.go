package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"

	"github.com/llmbatch/llmbatch/io/results"
)

// A resume must not skip a finished row whose request would now differ
// (the input edited in its middle, where the job's fingerprint does not
// look): it builds every finished row's request and compares its hash
// with the journalled one (runner.unchanged). That costs as much as
// building the requests of a whole job, for a resume that may have
// nothing left to send. So a run that read its whole input, and checked
// (or built) every finished row against it, says so in its summary:
//
//	"input": {"sha256": "<the input file's SHA-256>", "journal_bytes": N}
//
// every record in the journal's first N bytes was made from, or checked
// against, an input of that content. A later run whose input has the same
// SHA-256, finding the journal still N bytes long, skips finished rows by
// their key alone, without building their requests. Any other case (the
// journal grew since: a run that did not end its pass; another digest:
// the input changed; no such summary: an older journal, or one moved
// without its summary) is checked row by row, as before, and certified
// when that pass ends. Only a local regular file is hashed (a stream
// cannot be read twice, a remote input is not fetched twice); hashing
// reads it once, beside the journal's scan.

// certified reports whether the summary beside journal certifies it for
// the input whose SHA-256 digest returns. digest is called (and the hash
// waited for) only when the summary holds a certificate for the journal
// as it is: a resume after a crash does not wait for a hash it cannot use.
func certified(journal string, digest func() string) bool {
	s := lastSummary(journal)
	st, err := os.Stat(journal)
	if s == nil || s.Input == nil || err != nil || s.Input.JournalBytes != st.Size() {
		return false
	}
	d := digest()
	return d != "" && s.Input.SHA256 == d
}

// inputCertOf is the certificate of journal, as it is now, for an input
// whose SHA-256 is digest (nil when there is none to give).
func inputCertOf(journal, digest string) *results.InputCert {
	st, err := os.Stat(journal)
	if digest == "" || err != nil {
		return nil
	}
	return &results.InputCert{SHA256: digest, JournalBytes: st.Size()}
}

// digestInput starts hashing the input when it is a local regular file
// and returns what waits for its hex SHA-256 ("" when not hashed, or the
// hash failed or was cancelled). The goroutine ends when ctx does, or
// when the file is read.
func digestInput(ctx context.Context, cfg *Config, stream bool) func() string {
	if stream || cfg.remoteInput() {
		return func() string { return "" }
	}
	done := make(chan string, 1)
	go func() {
		done <- fileSHA256(ctx, cfg.Input)
	}()
	var d string
	var waited bool
	return func() string {
		if !waited {
			d, waited = <-done, true
		}
		return d
	}
}

// fileSHA256 is the hex SHA-256 of the regular file at path, or "".
func fileSHA256(ctx context.Context, path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return ""
	}
	h := sha256.New()
	buf := make([]byte, 1<<20)
	for {
		if ctx.Err() != nil {
			return ""
		}
		n, err := f.Read(buf)
		h.Write(buf[:n])
		if err == io.EOF {
			return hex.EncodeToString(h.Sum(nil))
		}
		if err != nil {
			return ""
		}
	}
}
