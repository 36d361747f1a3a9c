package pipeline

import (
	"context"
	"errors"

	"github.com/llmbatch/llmbatch/io/rows"
	"github.com/llmbatch/llmbatch/io/store"
)

// Inputs on object storage: Config.Input may be a URL that io/store opens
// (s3://bucket/key, file:///path, mem://key), read through ranged reads:
// Parquet fetches its footer and then only the column chunks of the
// shard's row groups and the columns the templates use; JSONL and CSV are
// streamed (with the read-ahead io/store gives a sequential reader). The
// journal stays a local file.

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
