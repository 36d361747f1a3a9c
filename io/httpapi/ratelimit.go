package httpapi

import (
	"net/http"
	"strconv"
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

// ParseRateLimit reads the x-ratelimit-* headers. Reset values are Go
// duration strings ("1s", "6m0s", "20ms"); plain numbers are seconds.
func ParseRateLimit(h http.Header) RateLimit {
	return RateLimit{
		LimitRequests:     headerInt(h, "x-ratelimit-limit-requests"),
		LimitTokens:       headerInt(h, "x-ratelimit-limit-tokens"),
		RemainingRequests: headerInt(h, "x-ratelimit-remaining-requests"),
		RemainingTokens:   headerInt(h, "x-ratelimit-remaining-tokens"),
		ResetRequests:     headerDuration(h, "x-ratelimit-reset-requests"),
		ResetTokens:       headerDuration(h, "x-ratelimit-reset-tokens"),
	}
}

func headerInt(h http.Header, name string) int64 {
	v := h.Get(name)
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
	v := h.Get(name)
	if v == "" {
		return -1
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return d
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil && f >= 0 && f < 1e9 {
		return time.Duration(f * float64(time.Second))
	}
	return -1
}
