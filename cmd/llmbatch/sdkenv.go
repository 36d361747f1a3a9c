package main

import "net/http"

// sdkHeaders are the environment variables the official OpenAI SDKs turn
// into request headers, and those headers.
var sdkHeaders = []struct{ env, header string }{
	{"OPENAI_ORG_ID", "OpenAI-Organization"},
	{"OPENAI_PROJECT_ID", "OpenAI-Project"},
}

// withSDKHeaders returns h plus the headers of the OPENAI_ORG_ID and
// OPENAI_PROJECT_ID variables that are set, as the official SDKs send
// them; a header -H already gives is left as it is. h is not modified.
func withSDKHeaders(h http.Header, getenv func(string) string) http.Header {
	out := h.Clone()
	for _, s := range sdkHeaders {
		v := getenv(s.env)
		if v == "" || len(h.Values(s.header)) > 0 {
			continue
		}
		if out == nil {
			out = make(http.Header)
		}
		out.Set(s.header, v)
	}
	return out
}
