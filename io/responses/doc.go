// Package responses is the client of an OpenAI-compatible
// POST /v1/responses endpoint: it sends a request body, reads the answer,
// normalises usage (OpenAI's input_tokens/output_tokens shape and the
// chat-style prompt_tokens/completion_tokens shape that some gateways send),
// computes output_text the way the official SDKs do, and classifies every
// answer into a Class that tells the caller what to do next.
//
// The client makes exactly one attempt per call; retrying is the caller's
// job (see package retry). Request bodies are byte slices, so an attempt can
// be replayed byte for byte.
//
// The API key is sent in the Authorization header and never appears in an
// error, a log line or a value this package returns.
package responses
