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
package responses
