package pipeline

import (
	"strings"

	"github.com/llmbatch/llmbatch/io/api"
	"github.com/llmbatch/llmbatch/io/chat"
	"github.com/llmbatch/llmbatch/io/embeddings"
	"github.com/llmbatch/llmbatch/io/responses"
)

// apis are the endpoints a job can talk to, the default first. Adding an
// API is one package implementing api.API and one line here.
var apis = []api.API{
	responses.API{},
	chat.API{},
	embeddings.API{},
}

// LookupAPI returns the API named name ("responses", "chat",
// "embeddings").
func LookupAPI(name string) (api.API, bool) {
	for _, a := range apis {
		if a.Name() == name {
			return a, true
		}
	}
	return nil, false
}

// registered reports whether a is one of the APIs above. Their Decode,
// DecodeStream and Unpack accept only valid JSON (TestAPIsRejectInvalidJSON),
// so the bodies the HTTP client returns through them are valid JSON.
func registered(a api.API) bool {
	for _, b := range apis {
		if a == b {
			return true
		}
	}
	return false
}

// APINames lists the names LookupAPI knows, the default first.
func APINames() []string {
	names := make([]string, len(apis))
	for i, a := range apis {
		names[i] = a.Name()
	}
	return names
}

// apiForURL returns the API whose path a Batch API line's url ends with.
func apiForURL(u string) (api.API, bool) {
	u = strings.TrimRight(u, "/")
	for _, a := range apis {
		if strings.HasSuffix(u, a.Path()) {
			return a, true
		}
	}
	return nil, false
}

// api returns the job's API: Config.API, or the Responses API.
func (c *Config) api() api.API {
	if c.API != nil {
		return c.API
	}
	return apis[0]
}
