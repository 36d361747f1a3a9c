package results

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Errors of CheckJournal.
var (
	// ErrNotJournal: the file exists, is not empty, and its first line is
	// not an llmbatch record. It is never appended to, cut or repaired.
	ErrNotJournal = errors.New("not an llmbatch journal")
	// ErrNotRegular: the journal path is a directory, a FIFO, a device or
	// a socket, not a regular file.
	ErrNotRegular = errors.New("not a regular file")
)

// maxFirstLine bounds how much of a file CheckJournal reads to judge its
// first line (a record holds a whole response body, up to 64 MiB).
const maxFirstLine = 80 << 20

// recordPrefix and markPrefix are how the lines a Journal writes begin.
const (
	recordPrefix = `{"custom_id":`
	markPrefix   = `{"kind":`
)

// CheckJournal tells whether path may be used as a journal before anything
// opens it for writing: a missing or empty file may; a path that is not a
// regular file gives an error wrapping ErrNotRegular (appending to a FIFO
// would hang, to a device would lose the records); a file whose first line
// is not an llmbatch record or mark (a JSON object with "custom_id" or
// "kind", and the "job" that wrote it) gives an error wrapping ErrNotJournal, so that a file of
// the user's own is never cut as a torn journal. A first line without its
// newline (the first write of a job torn by a crash) counts as a record
// when it begins as every record line begins.
func CheckJournal(path string) error {
	st, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("journal %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("journal %s: %w (it is %s); give -o a file name", path, ErrNotRegular, fileKind(st.Mode()))
	}
	if st.Size() == 0 {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("journal %s: %w", path, err)
	}
	defer f.Close()
	line, err := bufio.NewReaderSize(io.LimitReader(f, maxFirstLine), 64<<10).ReadBytes('\n')
	if err != nil && err != io.EOF {
		return fmt.Errorf("read journal %s: %w", path, err)
	}
	if isRecordLine(line, err == io.EOF) {
		return nil
	}
	return fmt.Errorf("%s: %w: its first line is not a record llmbatch wrote; it is left as it is: give -o a new file", path, ErrNotJournal)
}

// isRecordLine reports whether line (the first of a file) is an llmbatch
// record; torn means it lacks its newline.
func isRecordLine(line []byte, torn bool) bool {
	if torn {
		return bytes.HasPrefix(line, []byte(recordPrefix)) || bytes.HasPrefix(line, []byte(markPrefix))
	}
	var s struct {
		CustomID *string `json:"custom_id"`
		Kind     string  `json:"kind"`
		Job      *Job    `json:"job"`
	}
	return json.Unmarshal(line, &s) == nil && (s.CustomID != nil || s.Kind != "") && s.Job != nil && s.Job.Fingerprint != ""
}

func fileKind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&os.ModeNamedPipe != 0:
		return "a FIFO"
	case m&os.ModeDevice != 0, m&os.ModeCharDevice != 0:
		return "a device"
	case m&os.ModeSocket != 0:
		return "a socket"
	}
	return "not a regular file"
}

// RemoveStaleTemps removes the temp files that WriteFileAtomic left beside
// path when the process was killed between creating and renaming them.
// The caller must be the only writer of path (it holds the journal's lock).
func RemoveStaleTemps(path string) error {
	dir := filepath.Dir(path)
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open dir %s: %w", dir, err)
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return fmt.Errorf("read dir %s: %w", dir, err)
	}
	prefix := tempPrefix(path)
	var first error
	for _, n := range names {
		if strings.HasPrefix(n, prefix) {
			if err := os.Remove(filepath.Join(dir, n)); err != nil && !errors.Is(err, os.ErrNotExist) && first == nil {
				first = err
			}
		}
	}
	return first
}

// tempPrefix is the name prefix of WriteFileAtomic's temp files for path.
func tempPrefix(path string) string { return "." + filepath.Base(path) + ".tmp" }
