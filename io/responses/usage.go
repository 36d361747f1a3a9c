package responses

import "github.com/llmbatch/llmbatch/io/api"

// Usage is the normalised token count (see api.Usage).
type Usage = api.Usage

// ParseUsage normalises a usage object (see api.ParseUsage).
func ParseUsage(raw []byte) (Usage, error) { return api.ParseUsage(raw) }
