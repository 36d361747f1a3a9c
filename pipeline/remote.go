package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sync"
	"time"

	"github.com/llmbatch/llmbatch/io/results"
	"github.com/llmbatch/llmbatch/io/rows"
	"github.com/llmbatch/llmbatch/io/store"
)

// Inputs on object storage: Config.Input may be a URL that io/store opens
// (s3://bucket/key, file:///path, mem://key), read through ranged reads:
// Parquet fetches its footer and then only the column chunks of the
// shard's row groups and the columns the templates use; JSONL and CSV are
// streamed (with the read-ahead io/store gives a sequential reader).
// Output may be a URL too: see runRemoteJournal.

// remoteInput reports whether the input is a URL, not a local path.
func (c *Config) remoteInput() bool { return rows.IsURL(c.Input) }

// openRemote is rows.Options.Remote: an object opened through io/store.
func openRemote(url string) (rows.File, error) {
	o, err := store.Open(context.Background(), url)
	if errors.Is(err, store.ErrNotExist) {
		return nil, usageErrorf("open input: %v", err)
	}
	return o, err
}

// countTotal reports whether the input's rows are counted for progress:
// not for a remote JSONL or CSV input, which that would read twice.
func (c *Config) countTotal(ropts rows.Options) bool {
	if !c.remoteInput() {
		return true
	}
	f, err := rows.FormatOf(c.Input, ropts)
	return err == nil && f == rows.FormatParquet
}

// DefaultUploadInterval is how often a journal on object storage uploads
// what was journalled since the last upload (Config.UploadInterval).
const DefaultUploadInterval = time.Minute

// runRemoteJournal runs a job whose Output is a URL: the journal is a
// working file under WorkDir, brought up to date from the segments already
// uploaded (a new machine resumes where the last upload ended), and its
// new whole lines are uploaded as a segment every UploadInterval and when
// the run ends, with the summary.
func runRemoteJournal(ctx context.Context, cfg Config) (*results.Summary, error) {
	url := cfg.Output
	name := store.Redact(url)
	dir := cfg.WorkDir
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "llmbatch-journals")
	}
	h := sha256.Sum256([]byte(name))
	local := filepath.Join(dir, hex.EncodeToString(h[:8]), path.Base(name))
	j, err := store.OpenJournal(ctx, url, local)
	if err != nil {
		// Not a usage error: the store may be down for a moment, and an
		// Indexed Job retries this index on exit 1.
		return nil, fmt.Errorf("journal %s: %w", name, err)
	}
	defer j.Close()
	cfg.Logger.Info("journal on object storage", "journal", name, "working_file", local, "uploaded_bytes", j.Uploaded)
	cfg.Output = local
	every := cfg.UploadInterval
	if every <= 0 {
		every = DefaultUploadInterval
	}
	var mu sync.Mutex
	push := func(ctx context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		_, err := j.Push(ctx)
		return err
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				if err := push(ctx); err != nil {
					cfg.Logger.Warn("cannot upload the journal; trying again at the next interval", "journal", name, "err", err)
				}
			case <-stop:
				return
			}
		}
	}()
	sum, err := runLocal(ctx, cfg)
	close(stop)
	<-done
	final := context.WithoutCancel(ctx)
	perr := push(final)
	if perr == nil {
		if serr := j.PutFile(final, results.SummaryPath(j.Key()), results.SummaryPath(local)); serr != nil && !errors.Is(serr, os.ErrNotExist) {
			cfg.Logger.Warn("cannot upload the summary", "journal", name, "err", serr)
		}
	}
	if perr != nil && err == nil {
		// Exit 1: a retry uploads it (from this machine's working file) or
		// re-sends what was not uploaded (from another machine).
		err = fmt.Errorf("cannot upload the journal to %s (the working file %s holds it; re-running resumes): %w", name, local, perr)
	}
	return sum, err
}
