package pipeline

import (
	"context"
	"errors"
	"io"

	"github.com/llmbatch/llmbatch/io/rows"
)

// asyncReader reads rows in a goroutine of its own, so that a reader
// blocked on an idle pipe (stdin fed by a slow producer) does not hold up
// a stop: Next returns ctx's error as soon as ctx is done. The goroutine
// ends at the input's end, on a fatal read error, or when ctx is done and
// its pending Next returns; until then it may outlive Run, blocked on the
// pipe. Used for streams only (stdin, FIFOs): files never block that way.
type asyncReader struct {
	ctx context.Context
	ch  <-chan rowResult
}

type rowResult struct {
	row rows.Row
	err error
}

func newAsyncReader(ctx context.Context, rd rows.Reader) *asyncReader {
	ch := make(chan rowResult, 1)
	go func() {
		defer close(ch)
		for {
			row, err := rd.Next()
			select {
			case ch <- rowResult{row, err}:
			case <-ctx.Done():
				return
			}
			var rowErr *rows.RowError
			if err != nil && !errors.As(err, &rowErr) {
				return // io.EOF or a fatal error: already handed over
			}
		}
	}()
	return &asyncReader{ctx: ctx, ch: ch}
}

// Next implements rows.Reader.
func (a *asyncReader) Next() (rows.Row, error) {
	select {
	case rr, ok := <-a.ch:
		if !ok {
			return rows.Row{}, io.EOF
		}
		return rr.row, rr.err
	case <-a.ctx.Done():
		return rows.Row{}, a.ctx.Err()
	}
}
