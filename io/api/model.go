package api

import (
	"sync/atomic"

	"github.com/llmbatch/llmbatch/io/jsonscan"
)

// lastModel is the model name ModelString read last, when the JSON text it
// came from is the name's own bytes (no escape, valid UTF-8).
var lastModel atomic.Pointer[string]

// ModelString is jsonscan.String for an answer's model name, or null (as
// ""): a job's answers name one model, or a few, and the name read last is
// returned again without allocating when the text is the same.
func ModelString(v []byte) (string, bool) {
	if jsonscan.IsNull(v) {
		return "", true
	}
	if p := lastModel.Load(); p != nil && len(v) == len(*p)+2 && v[0] == '"' && v[len(v)-1] == '"' && string(v[1:len(v)-1]) == *p {
		return *p, true
	}
	s, ok := jsonscan.String(v)
	if ok && s == string(v[1:len(v)-1]) {
		lastModel.Store(&s)
	}
	return s, ok
}
