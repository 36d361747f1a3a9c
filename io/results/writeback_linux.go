//go:build linux && !arm

package results

import (
	"os"
	"syscall"
)

// syncFileRangeWrite is SYNC_FILE_RANGE_WRITE: start writing the range's
// dirty pages out, without waiting for them.
const syncFileRangeWrite = 2

// startWriteback asks the kernel to start writing f's bytes [off,
// off+n) to disk now rather than when the next fsync asks for all of
// them at once: that fsync, and the one Close makes, then wait for
// little. A hint: its errors are the next fsync's to report.
func startWriteback(f *os.File, off, n int64) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	rc.Control(func(fd uintptr) {
		syscall.SyncFileRange(int(fd), off, n, syncFileRangeWrite)
	})
}
