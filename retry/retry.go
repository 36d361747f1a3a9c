// Package retry decides when to try a request again and how long to wait:
// capped attempts, exponential backoff with full jitter (on
// github.com/cenkalti/backoff/v4), the server's Retry-After honoured up to a
// cap, and a Gate that pauses every worker of a pool at once after a rate
// limit answer.
//
// The package knows nothing of HTTP: an attempt's error tells Do what to do
// by implementing Hinter.
package retry

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// Defaults of Policy's fields.
const (
	DefaultMaxAttempts   = 8
	DefaultInitial       = 500 * time.Millisecond
	DefaultMax           = 60 * time.Second
	DefaultMaxRetryAfter = 5 * time.Minute
)

// Hint is an attempt's verdict as its caller classified it.
type Hint struct {
	// Retry reports whether another attempt may succeed.
	Retry bool
	// After is the wait the server asked for; 0 if it named none.
	After time.Duration
	// PauseAll asks every worker sharing the Policy's Gate to wait, not
	// only this one (a rate-limit answer).
	PauseAll bool
}

// Hinter is implemented by errors that know whether they are worth
// retrying. Do treats an error that does not implement it as permanent.
type Hinter interface {
	error
	RetryHint() Hint
}

// Policy is a retry policy. The zero value uses the defaults above. A
// Policy may be shared by many goroutines as long as its fields do not
// change; each Do call keeps its own backoff state.
type Policy struct {
	// MaxAttempts caps attempts per call, the first included; 0 means
	// DefaultMaxAttempts.
	MaxAttempts int
	// Initial is the first backoff interval, doubled after each retry up
	// to Max; the wait is drawn uniformly from (0, interval] (full jitter).
	Initial, Max time.Duration
	// MaxRetryAfter caps a server-requested wait; 0 means DefaultMaxRetryAfter.
	MaxRetryAfter time.Duration
	// Gate, when set, is waited on before every attempt and paused by
	// answers whose Hint has PauseAll.
	Gate *Gate
	// OnRetry, when set, is called before each wait with the attempt that
	// failed (1-based), the wait and the attempt's error.
	OnRetry func(attempt int, wait time.Duration, err error)

	jitter func() float64 // returns a value in (0,1]; tests replace it
}

// Do calls op until it returns nil, returns an error that is not worth
// retrying, MaxAttempts attempts have been made, or ctx is done. It returns
// the number of attempts made and op's last error (or ctx's error when ctx
// ended first). ctx governs only the waits; op chooses its own context.
func (p *Policy) Do(ctx context.Context, op func(attempt int) error) (attempts int, err error) {
	max := p.MaxAttempts
	if max <= 0 {
		max = DefaultMaxAttempts
	}
	var b *backoff.ExponentialBackOff // made at the first retry: most operations need none
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return attempt - 1, err
		}
		if p.Gate != nil {
			if err := p.Gate.Wait(ctx); err != nil {
				return attempt - 1, err
			}
		}
		err := op(attempt)
		if err == nil {
			return attempt, nil
		}
		var h Hinter
		if !errors.As(err, &h) {
			return attempt, err
		}
		hint := h.RetryHint()
		if !hint.Retry || attempt >= max {
			return attempt, err
		}
		if b == nil {
			b = backoff.NewExponentialBackOff(
				backoff.WithInitialInterval(or(p.Initial, DefaultInitial)),
				backoff.WithMaxInterval(or(p.Max, DefaultMax)),
				backoff.WithMultiplier(2),
				backoff.WithRandomizationFactor(0),
				backoff.WithMaxElapsedTime(0),
			)
		}
		wait := p.wait(b.NextBackOff(), hint.After)
		if hint.PauseAll && p.Gate != nil {
			p.Gate.PauseFor(wait)
		}
		if p.OnRetry != nil {
			p.OnRetry(attempt, wait, err)
		}
		if err := sleep(ctx, wait); err != nil {
			return attempt, err
		}
	}
}

// wait picks the wait before the next attempt: the server's, capped, when
// it named one, else the backoff interval with full jitter.
func (p *Policy) wait(interval, after time.Duration) time.Duration {
	if after > 0 {
		return min(after, or(p.MaxRetryAfter, DefaultMaxRetryAfter))
	}
	j := p.jitter
	if j == nil {
		j = func() float64 { return 1 - rand.Float64() }
	}
	return time.Duration(float64(interval) * j())
}

func or(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
