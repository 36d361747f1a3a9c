// Package sim simulates an OpenAI-compatible server on loopback, for tests,
// benchmarks and the llmbatch demo. It serves three endpoints:
//
//   - POST /v1/responses: a completed response object with a message (and,
//     for reasoning models, a reasoning item first) and a usage block in
//     the Responses, Chat Completions or DeepSeek shape (Config.Usage);
//     404 with Config.NoResponses, as a chat-only server answers.
//   - POST /v1/chat/completions: a chat.completion with n choices,
//     finish_reason "stop" or "length", and usage in the Chat Completions
//     shape or DeepSeek's (prompt_cache_hit_tokens, prompt_cache_miss_tokens).
//   - POST /v1/embeddings: one unit-length float32 vector per input (a
//     string, strings, a token array or token arrays; up to 2,048 inputs),
//     as JSON numbers or base64 little-endian float32 (encoding_format),
//     with the request's prompt_tokens. Embedding returns the vector the
//     server answers for a text; Config.ShuffleEmbeddings answers the items
//     out of order, each with its index.
//
// Each path also answers without the /v1 prefix. Every endpoint goes
// through the same path: OpenAI error bodies for 400, 401, 404, 405, 413,
// 429 and 5xx; the x-request-id, openai-processing-ms and x-ratelimit-*
// headers; retry-after and retry-after-ms on 429s; requests-per-minute and
// tokens-per-minute limits with continuously refilling buckets; and
// injected faults: rate-limit answers, server errors, connection resets,
// truncated JSON bodies, slow answers, incomplete answers (a response with
// status "incomplete", a chat completion with finish_reason "length";
// embeddings have none), permanently bad requests and an exhausted quota.
// An endpoint only reads its request and writes its success body.
//
// Token counts are estimates: a quarter of the text's bytes, rounded up,
// plus 4 a message (Responses input items, chat messages); an embeddings
// input counts a quarter of its bytes, or its length for a token array.
// The TPM limit charges the input estimate plus the request's output cap
// (max_output_tokens; max_completion_tokens or max_tokens times n).
//
// # Determinism
//
// Nothing the server answers depends on a random source. The output text is
// a function of Config.Seed and the request's input (Responses input, chat
// messages): by default one of "positive", "negative" and "neutral"; for a
// json_schema format, a JSON value valid for the schema. An embedding is a
// function of the model, the input text and the dimensions alone. Ids,
// token counts, cached and reasoning tokens and the shuffled order are
// functions of the seed and the exact body bytes. The fault drawn
// for an attempt is a function of the seed, the SHA-256 of the body and the
// number of times this server has seen that body before, so a retried body
// gets a fresh draw while a rerun of the same sequence of requests sees the
// same faults. The bad-request fault depends on the seed and the body only,
// so such a body fails on every attempt. Latency jitter is drawn the same
// way. Only timestamps, openai-processing-ms and the RPM/TPM limiter, which
// follows the clock, vary between runs.
package sim
