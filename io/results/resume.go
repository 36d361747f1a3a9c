package results

import (
	"fmt"
	"io"
)

// Resume opens the journal at path for a run, in one call: it takes the
// journal's lock (one run per journal; ErrLocked otherwise), removes the
// summary temp files a killed run left, scans every good record into fn,
// lets accept refuse the journal (a different job's: nothing has been
// changed then), cuts a torn last line, and opens the journal for
// appending. The lock is held until the Journal is closed. A journal that
// does not exist yet is created, empty.
//
// Errors from the lock and the scan describe the file (a *CorruptError for
// a bad line before the last); accept's error is returned as it is.
// mark, when not nil, gets the journal's marks, in line order with the
// records (ScanMarks).
func Resume(path string, fn func(*Record), mark func(*Mark), accept func(ScanInfo) error) (*Journal, ScanInfo, error) {
	lock, err := Lock(path)
	if err != nil {
		return nil, ScanInfo{}, err
	}
	fail := func(err error) (*Journal, ScanInfo, error) {
		lock.Close()
		return nil, ScanInfo{}, err
	}
	tempErr := RemoveStaleTemps(SummaryPath(path))
	info, err := ScanMarks(path, fn, mark)
	if err != nil {
		return fail(err)
	}
	info.TempsLeft = tempErr
	if accept != nil {
		if err := accept(info); err != nil {
			return fail(err)
		}
	}
	j, err := OpenJournal(path, info.Size)
	if err != nil {
		return fail(err)
	}
	j.lock = lock
	return j, info, nil
}

// closeLock releases the lock Resume took, if any.
func (j *Journal) closeLock() error {
	if j.lock == nil {
		return nil
	}
	err := j.lock.Close()
	j.lock = nil
	if err != nil {
		return fmt.Errorf("unlock journal %s: %w", j.path, err)
	}
	return nil
}

var _ io.Closer = (*Journal)(nil)
