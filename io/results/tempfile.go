package results

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
)

// FileMode is the mode of every file llmbatch writes (journal, summary,
// exports), less the process's umask, as the shell's ">" would create
// them.
const FileMode os.FileMode = 0o644

// CreateTemp creates a new file in dir whose name is prefix followed by a
// random number, with FileMode less the umask: os.CreateTemp's 0600
// would leave a summary or an export renamed from it readable by its
// owner only, unlike the journal beside it.
func CreateTemp(dir, prefix string) (*os.File, error) {
	for range 10000 {
		name := filepath.Join(dir, fmt.Sprintf("%s%d", prefix, rand.Uint32()))
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, FileMode)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		return f, err
	}
	return nil, &os.PathError{Op: "createtemp", Path: filepath.Join(dir, prefix+"*"), Err: os.ErrExist}
}
