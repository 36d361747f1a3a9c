// Package httpapi is the HTTP transport every API shares: it POSTs a
// request body to an OpenAI-compatible endpoint (BaseURL + an API's path),
// with auth and extra headers, reads the answer within a size bound, has a
// 2xx answer decoded by the API it was sent to (package api: the API knows
// its answer object, its usage and its output), and classifies every
// answer into a Class that tells the caller what to do next: status codes,
// error bodies, retry hints, rate-limit headers, quota and budget errors,
// streams and redirects are handled here, the same for every API.
//
// The client makes exactly one attempt per call; retrying is the caller's
// job (see package retry). Request bodies are byte slices, so an attempt can
// be replayed byte for byte.
//
// Answers are parsed exactly as received. The API key is sent in the
// Authorization header; error texts built from an answer have it redacted
// (package secret), but an Answer's Body and RequestID are what the
// endpoint sent: a caller that writes them out redacts them there (the
// results journal does). Redirects to another origin are not followed
// (see Client.Send).
//
// An error's text is read from error.message (error may also be a plain
// string), else a top-level message, detail or title (FastAPI, RFC 7807).
// The request id is x-request-id, else LiteLLM's llm_provider-x-request-id
// or x-litellm-call-id. A quota or budget that is used up is recognised
// by the error's type, code or message, also when a gateway wraps it in
// another error (LiteLLM's 429 throttling_error whose message carries
// "insufficient_quota"), and is Fatal.
package httpapi
