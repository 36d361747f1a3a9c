package sim

import "time"

// SetClock replaces the clock s uses for its rate limits and timestamps.
// Call it before s serves any request.
func SetClock(s *Server, now func() time.Time) { s.now = now }

// SetMaxBody replaces the body size limit of s (MaxBodyBytes). Call it
// before s serves any request.
func SetMaxBody(s *Server, n int64) { s.maxBody = n }
