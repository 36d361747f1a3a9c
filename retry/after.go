package retry

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// ParseRetryAfter reads a server's requested wait: retryAfterMS (the
// non-standard retry-after-ms header, milliseconds) first, then retryAfter
// (seconds, possibly fractional, or an HTTP date). It reports false when
// neither gives a finite, non-negative wait.
func ParseRetryAfter(retryAfterMS, retryAfter string, now time.Time) (time.Duration, bool) {
	if v := strings.TrimSpace(retryAfterMS); v != "" {
		if f, err := strconv.ParseFloat(v, 64); err == nil && finite(f) && f >= 0 && f < 1e12 {
			return time.Duration(f * float64(time.Millisecond)), true
		}
	}
	v := strings.TrimSpace(retryAfter)
	if v == "" {
		return 0, false
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		if finite(f) && f >= 0 && f < 1e9 {
			return time.Duration(f * float64(time.Second)), true
		}
		return 0, false
	}
	if t, err := time.Parse(time.RFC1123, v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }
