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
// # Background responses, Files and Batches
//
// The server keeps, in memory, what the asynchronous modes need. A POST
// /v1/responses with "background": true (400 with "store": false) goes
// through the faults and limits above and answers at once with a Response
// in status "queued" and a fresh id; it is in_progress for the second half
// of Config.BackgroundDelay (plus jitter) and then final: the synchronous
// answer to the body without its background and store members (the same
// text, output and usage), "incomplete" under the Incomplete fault, or
// "failed" with error.code "server_error" for the BackgroundFail share.
// GET /v1/responses/{id} answers the current object; POST
// /v1/responses/{id}/cancel cancels a queued or in_progress one (again:
// the same object; a completed, incomplete or failed one: 400);
// BackgroundExpireAfter makes a response 404 that long after it ended.
// Usage is billed once per response, when it completes or ends incomplete
// (never on a GET, never if cancelled or failed); Server.Creations counts
// creations per row (the request's input), Stats.Background the polls.
// Config.NoBackground answers such a create synchronously instead, as a
// server without background mode does.
//
// POST /v1/files (multipart, purpose and a *.jsonl file) stores a file;
// GET /v1/files/{id} and /v1/files/{id}/content read it, DELETE
// /v1/files/{id} removes it. POST /v1/batches
// creates a batch for /v1/responses, /v1/chat/completions or
// /v1/embeddings, "validating" for the first tenth of Config.BatchDelay,
// then "failed" with errors.data [{code, line, message, param}]
// (invalid_json_line, missing_required_parameter, invalid_method,
// url_mismatch, duplicate_custom_id, model_mismatch, too_many_tasks,
// empty_file, token_limit_exceeded; an input file over BatchMaxBytes is a
// 400 at creation, as OpenAI answers "File is too large."), or
// "in_progress" with its lines answered one by one in a shuffled order
// until nine tenths, "finalizing", and "completed". Each line is answered
// like its body, compacted, sent online (validation, the bad-request
// fault, the Incomplete fault's band, the same answer and usage; no rate
// limits or transport faults), or 500 for the BatchFail share. The output
// file holds the lines answered 200, the error file those answered 4xx/5xx
// and, when the batch ends "expired" (BatchExpireAfter) or "cancelled"
// (POST /v1/batches/{id}/cancel: "cancelling" for a tenth of BatchDelay;
// an ended batch: 409), the lines never answered, with response null and
// error.code batch_expired or batch_cancelled; both files keep the
// shuffled order. A line's usage is billed once, when it is answered,
// into Stats.Batches only; Server.Uploads, BatchCreations and BatchBilled
// count uploads per content, batches per input file and billed lines per
// custom_id. States follow the server's clock whether or not anyone polls;
// Stats brings every object up to date first. The stored-object routes
// take the API key and may draw the injected 429s and 5xx of RateLimit
// and ServerError, which change nothing stored.
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
// follows the clock, vary between runs. A background response's delay and
// failure are drawn from the seed, the body and the attempt, like a fault; a
// batch's line order and failed lines from the seed, the batch id and the
// custom_id; ids of stored objects from the seed and their creation order.
// Their states follow the clock.
package sim
