// Package responses is the /v1/responses API (api.API): a row's prompt is
// the request's input and its instructions the instructions; an answer is
// a response object, whose output_text is joined the way the official SDKs
// join it, whose status "incomplete" or "failed" fails its row (a failure
// with server_error or rate_limit_exceeded is retryable), and whose usage
// may come in OpenAI's shape or the chat-style shape some gateways send.
package responses
