// Package sim simulates an OpenAI-compatible POST /v1/responses endpoint on
// loopback, for tests, benchmarks and the llmbatch demo.
//
// A Server answers like the real endpoint: a completed response object with
// a message (and, for reasoning models, a reasoning item first) and a usage
// block in the Responses shape or the Chat Completions shape; OpenAI error
// bodies for 400, 401, 404, 405, 413, 429 and 5xx; the x-request-id,
// openai-processing-ms and x-ratelimit-* headers; retry-after and
// retry-after-ms on 429s. It enforces requests-per-minute and
// tokens-per-minute limits with continuously refilling buckets, and it can
// inject faults: rate-limit answers, server errors, connection resets,
// truncated JSON bodies, slow answers, incomplete responses, permanently bad
// requests and an exhausted quota.
//
// # Determinism
//
// Nothing the server answers depends on a random source. The output text is
// a function of Config.Seed and the request's input (by default one of
// "positive", "negative" and "neutral"; for a json_schema format, a JSON
// value valid for the schema). Ids, token counts, cached and reasoning
// tokens are functions of the seed and the exact body bytes. The fault drawn
// for an attempt is a function of the seed, the SHA-256 of the body and the
// number of times this server has seen that body before, so a retried body
// gets a fresh draw while a rerun of the same sequence of requests sees the
// same faults. The bad-request fault depends on the seed and the body only,
// so such a body fails on every attempt. Latency jitter is drawn the same
// way. Only timestamps, openai-processing-ms and the RPM/TPM limiter, which
// follows the clock, vary between runs.
package sim
