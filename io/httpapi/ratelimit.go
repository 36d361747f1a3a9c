package httpapi

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// RateLimit holds the x-ratelimit-* headers of one answer. A field is -1
// when its header was absent or unreadable.
type RateLimit struct {
	LimitRequests     int64
	LimitTokens       int64
	RemainingRequests int64
	RemainingTokens   int64
	ResetRequests     time.Duration // -1 when absent
	ResetTokens       time.Duration // -1 when absent
}

// Known reports whether any rate-limit header was present.
func (r RateLimit) Known() bool {
	return r.LimitRequests >= 0 || r.LimitTokens >= 0 || r.RemainingRequests >= 0 || r.RemainingTokens >= 0
}

// ParseRateLimit reads the x-ratelimit-* headers (of a header read by
// net/http, whose keys are canonical). Reset values are Go
// duration strings ("1s", "6m0s", "20ms"); plain numbers are seconds.
func ParseRateLimit(h http.Header) RateLimit {
	if len(h) <= 16 && !anyKeyWithPrefix(h, "X-Ratelimit-") {
		// No such header (a local server's answers): one look at each
		// key instead of six lookups by name.
		return RateLimit{LimitRequests: -1, LimitTokens: -1, RemainingRequests: -1, RemainingTokens: -1, ResetRequests: -1, ResetTokens: -1}
	}
	return RateLimit{
		LimitRequests:     headerInt(h, "X-Ratelimit-Limit-Requests"),
		LimitTokens:       headerInt(h, "X-Ratelimit-Limit-Tokens"),
		RemainingRequests: headerInt(h, "X-Ratelimit-Remaining-Requests"),
		RemainingTokens:   headerInt(h, "X-Ratelimit-Remaining-Tokens"),
		ResetRequests:     headerDuration(h, "X-Ratelimit-Reset-Requests"),
		ResetTokens:       headerDuration(h, "X-Ratelimit-Reset-Tokens"),
	}
}

// anyKeyWithPrefix reports whether one of h's keys starts with prefix.
func anyKeyWithPrefix(h http.Header, prefix string) bool {
	for k := range h {
		if strings.HasPrefix(k, prefix) {
			return true
		}
	}
	return false
}

func headerInt(h http.Header, name string) int64 {
	v := header(h, name)
	if v == "" {
		return -1
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return -1
	}
	return n
}

func headerDuration(h http.Header, name string) time.Duration {
	v := header(h, name)
	if v == "" {
		return -1
	}
	// A plain number (seconds) ends in a digit and a duration in a unit;
	// the likely parse goes first, since a failed one allocates its error.
	// (The only plain number ParseDuration reads is "0", which is 0 either
	// way.)
	if c := v[len(v)-1]; c >= '0' && c <= '9' {
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			if f >= 0 && f < 1e9 {
				return time.Duration(f * float64(time.Second))
			}
			return -1
		}
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return d
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil && f >= 0 && f < 1e9 {
		return time.Duration(f * float64(time.Second))
	}
	return -1
}
