package responses

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/llmbatch/llmbatch/retry"
)

// DefaultMaxBodyBytes bounds the size of one answer's body.
const DefaultMaxBodyBytes = 64 << 20

// Class says what the caller should do with an answer.
type Class int

const (
	// OK: the row is done.
	OK Class = iota
	// RowFailed: the row failed for good (400, an incomplete response...);
	// record it and go on with the job.
	RowFailed
	// Retryable: the same request may succeed later (429, 5xx, a reset).
	Retryable
	// Fatal: no request can succeed until the user acts (401, 403, 402,
	// insufficient_quota); stop the job.
	Fatal
)

func (c Class) String() string {
	switch c {
	case OK:
		return "ok"
	case RowFailed:
		return "row-failed"
	case Retryable:
		return "retryable"
	case Fatal:
		return "fatal"
	}
	return "class(" + strconv.Itoa(int(c)) + ")"
}

// Client sends requests to one endpoint. Its exported fields must not
// change once it is in use; it is then safe for concurrent use.
type Client struct {
	// BaseURL is the API root, e.g. "https://api.openai.com/v1"; requests
	// go to BaseURL + "/responses".
	BaseURL string
	// APIKey is sent as "Authorization: Bearer KEY" (or the key alone when
	// RawAuth is set). Empty sends no Authorization header.
	APIKey  string
	RawAuth bool
	// Header holds extra headers sent with every request.
	Header http.Header
	// HTTPClient sends the requests; nil means http.DefaultClient.
	HTTPClient *http.Client
	// MaxBodyBytes bounds an answer's body; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// UserAgent is sent as User-Agent when non-empty.
	UserAgent string
}

// Answer is what the endpoint said to one request.
type Answer struct {
	StatusCode int
	RequestID  string          // x-request-id
	Body       json.RawMessage // the body, when it is valid JSON
	Status     string          // the response object's status
	Model      string
	OutputText string // the text of the output's message items, as the SDKs join it
	Usage      Usage
	RateLimit  RateLimit
	Latency    time.Duration // from sending the request to reading the whole body
}

// Error is a non-OK answer or a transport failure. Its text never contains
// the API key.
type Error struct {
	Class      Class
	StatusCode int    // 0 when no HTTP answer arrived
	Code       string // the server's error code, or one of ours (see below)
	Type       string
	Message    string
	RequestID  string
	// RetryAfter is the wait the server asked for (retry-after-ms or
	// retry-after), 0 if none.
	RetryAfter time.Duration
	// RateLimited is set for a 429 that is not insufficient_quota: the
	// whole pool should pause.
	RateLimited bool
	// Err is the transport error, if any.
	Err error
}

// Codes this package gives to answers that carry none of their own.
const (
	CodeConnection   = "connection_error"   // reset, refused, EOF before an answer
	CodeTimeout      = "timeout"            // the attempt's deadline passed
	CodeMalformed    = "malformed_response" // a 2xx whose body is cut short or is not JSON
	CodeNotResponse  = "not_a_response"     // a 2xx JSON body that is not a response object
	CodeIncomplete   = "incomplete"         // status "incomplete"
	CodeFailed       = "response_failed"    // status "failed" with no error code
	CodeTooLarge     = "response_too_large"
	CodeHTTP         = "http_error" // a non-2xx answer with no error code
	CodeCanceled     = "canceled"
	CodeBadStatus    = "unexpected_status" // status other than completed/incomplete/failed
	codeInsufficient = "insufficient_quota"
)

func (e *Error) Error() string {
	var b strings.Builder
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, "HTTP %d", e.StatusCode)
	}
	if e.Code != "" {
		if b.Len() > 0 {
			b.WriteString(" ")
		}
		b.WriteString(e.Code)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.Err != nil && e.Message == "" {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Send makes one attempt. It returns the answer (nil if no HTTP answer
// arrived) and, unless the class is OK, an *Error.
func (c *Client) Send(ctx context.Context, body []byte) (*Answer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(c.BaseURL, "/")+"/responses", bytes.NewReader(body))
	if err != nil {
		return nil, &Error{Class: Fatal, Code: "bad_request_url", Message: "cannot build request: invalid base URL"}
	}
	for k, v := range c.Header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if c.UserAgent != "" {
		req.Header.Set("User-Agent", c.UserAgent)
	}
	if c.APIKey != "" {
		if c.RawAuth {
			req.Header.Set("Authorization", c.APIKey)
		} else {
			req.Header.Set("Authorization", "Bearer "+c.APIKey)
		}
	}
	hc := c.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	start := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		return nil, transportError(ctx, err)
	}
	defer resp.Body.Close()
	max := c.MaxBodyBytes
	if max <= 0 {
		max = DefaultMaxBodyBytes
	}
	raw, readErr := readBody(resp, max+1)
	if c.APIKey != "" && bytes.Contains(raw, []byte(c.APIKey)) {
		// A gateway that echoes the key must not put it in the journal or
		// an error message.
		raw = bytes.ReplaceAll(raw, []byte(c.APIKey), []byte("[redacted]"))
	}
	ans := &Answer{
		StatusCode: resp.StatusCode,
		RequestID:  resp.Header.Get("x-request-id"),
		RateLimit:  ParseRateLimit(resp.Header),
		Latency:    time.Since(start),
	}
	if int64(len(raw)) > max {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // drain a little for connection reuse
		return ans, &Error{Class: RowFailed, StatusCode: resp.StatusCode, Code: CodeTooLarge,
			Message: fmt.Sprintf("answer body exceeds %d bytes", max), RequestID: ans.RequestID}
	}
	return ans, classify(ctx, ans, resp.Header, raw, readErr)
}

func transportError(ctx context.Context, err error) *Error {
	e := &Error{Class: Retryable, Code: CodeConnection, Err: err}
	var ne net.Error
	switch {
	case ctx.Err() != nil && errors.Is(err, context.Canceled):
		e.Code = CodeCanceled
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		e.Code = CodeTimeout
	}
	e.Message = scrub(err)
	return e
}

// scrub gives a transport error's text without the URL's user info.
func scrub(err error) string {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			return inner.Error()
		}
	}
	return err.Error()
}

// wire is the part of a response object (or error body) that is read.
type wire struct {
	Object string          `json:"object"`
	Status string          `json:"status"`
	Model  string          `json:"model"`
	Output []wireItem      `json:"output"`
	Usage  json.RawMessage `json:"usage"`
	Error  *struct {
		Code    json.RawMessage `json:"code"`
		Type    string          `json:"type"`
		Message string          `json:"message"`
	} `json:"error"`
	IncompleteDetails *struct {
		Reason string `json:"reason"`
	} `json:"incomplete_details"`
}

type wireItem struct {
	Type    string `json:"type"`
	Content []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	} `json:"content"`
}

func classify(ctx context.Context, ans *Answer, h http.Header, raw []byte, readErr error) error {
	retryAfter, _ := retry.ParseRetryAfter(h.Get("retry-after-ms"), h.Get("retry-after"), time.Now())
	var w wire
	jsonErr := json.Unmarshal(raw, &w)
	valid := readErr == nil && (jsonErr == nil || json.Valid(raw))
	if valid {
		ans.Body = raw
	}
	code := ans.StatusCode
	if code >= 200 && code < 300 {
		return classifyOK(ctx, ans, &w, raw, readErr, jsonErr, retryAfter)
	}
	e := &Error{StatusCode: code, RequestID: ans.RequestID, RetryAfter: retryAfter, Code: CodeHTTP}
	if w.Error != nil {
		e.Type = w.Error.Type
		e.Code = codeString(w.Error.Code, or(e.Type, CodeHTTP))
		e.Message = w.Error.Message
	} else if jsonErr != nil || readErr != nil {
		e.Message = snippet(raw)
	}
	if e.Message == "" {
		e.Message = http.StatusText(code)
	}
	switch {
	case code == 401 || code == 402 || code == 403:
		e.Class = Fatal
	case code == 429 && (e.Code == codeInsufficient || e.Type == codeInsufficient):
		e.Class = Fatal
	case code == 429:
		e.Class = Retryable
		e.RateLimited = true
	case code == 408 || code == 409 || code >= 500:
		e.Class = Retryable
	default:
		e.Class = RowFailed
	}
	if e.Class != Fatal {
		switch strings.ToLower(h.Get("x-should-retry")) {
		case "true":
			e.Class = Retryable
		case "false":
			e.Class = RowFailed
			e.RateLimited = false
		}
	}
	return e
}

func classifyOK(ctx context.Context, ans *Answer, w *wire, raw []byte, readErr, jsonErr error, retryAfter time.Duration) error {
	e := &Error{StatusCode: ans.StatusCode, RequestID: ans.RequestID, RetryAfter: retryAfter}
	switch {
	case readErr != nil:
		e.Class, e.Code, e.Message, e.Err = Retryable, CodeMalformed, "answer cut short: "+readErr.Error(), readErr
		switch {
		case errors.Is(ctx.Err(), context.Canceled):
			e.Code = CodeCanceled
		case ctx.Err() != nil:
			e.Code = CodeTimeout
		}
		return e
	case jsonErr != nil && !json.Valid(raw):
		e.Class, e.Code = Retryable, CodeMalformed
		e.Message = fmt.Sprintf("answer is not JSON (%v): %s", jsonErr, snippet(raw))
		return e
	case jsonErr != nil:
		// Valid JSON, but not shaped like a response: record it, keep
		// what usage it reports (it was paid for), do not retry.
		var u struct {
			Model string          `json:"model"`
			Usage json.RawMessage `json:"usage"`
		}
		if json.Unmarshal(raw, &u) == nil {
			ans.Model = u.Model
			ans.Usage, _ = ParseUsage(u.Usage)
		}
		e.Class, e.Code = RowFailed, CodeNotResponse
		e.Message = fmt.Sprintf("answer is not a response object (%v): %s", jsonErr, snippet(raw))
		return e
	case w.Status == "" && w.Output == nil:
		e.Class, e.Code = RowFailed, CodeNotResponse
		e.Message = "answer is not a response object: " + snippet(raw)
		return e
	}
	ans.Status = w.Status
	ans.Model = w.Model
	ans.OutputText = outputText(w.Output)
	u, err := ParseUsage(w.Usage)
	if err != nil {
		e.Class, e.Code, e.Message = RowFailed, CodeNotResponse, "usage is not readable: "+err.Error()
		return e
	}
	ans.Usage = u
	switch w.Status {
	case "completed", "":
		return nil
	case "incomplete":
		e.Class, e.Code = RowFailed, CodeIncomplete
		e.Message = "response incomplete"
		if w.IncompleteDetails != nil && w.IncompleteDetails.Reason != "" {
			e.Message += ": " + w.IncompleteDetails.Reason
		}
		return e
	case "failed":
		e.Class, e.Code, e.Message = RowFailed, CodeFailed, "response failed"
		if w.Error != nil {
			e.Code = codeString(w.Error.Code, CodeFailed)
			e.Message = w.Error.Message
		}
		if e.Code == "server_error" || e.Code == "rate_limit_exceeded" {
			e.Class = Retryable
		}
		return e
	default:
		e.Class, e.Code = RowFailed, CodeBadStatus
		e.Message = fmt.Sprintf("response status %q", w.Status)
		return e
	}
}

// outputText joins the text of output_text parts of message items, as the
// official SDKs compute Response.output_text.
func outputText(items []wireItem) string {
	var b strings.Builder
	for _, it := range items {
		if it.Type != "message" {
			continue
		}
		for _, c := range it.Content {
			if c.Type == "output_text" {
				b.WriteString(c.Text)
			}
		}
	}
	return b.String()
}

// codeString reads an error code that may be a string, a number or null.
func codeString(raw json.RawMessage, def string) string {
	var s string
	if json.Unmarshal(raw, &s) == nil && s != "" {
		return s
	}
	if len(raw) > 0 && string(raw) != "null" && raw[0] != '"' {
		return string(raw)
	}
	return def
}

func snippet(b []byte) string {
	const n = 200
	s := strings.ToValidUTF8(string(b), "?")
	if len(s) > n {
		s = s[:n] + "…"
	}
	return strings.TrimSpace(s)
}

// RetryHint implements retry.Hinter.
func (e *Error) RetryHint() retry.Hint {
	return retry.Hint{Retry: e.Class == Retryable, After: e.RetryAfter, PauseAll: e.RateLimited}
}

func or(s, def string) string {
	if s != "" {
		return s
	}
	return def
}

// readBody reads up to limit bytes of the answer's body, in one allocation
// when the server sent a Content-Length (net/http ends the body there; a
// short body is an io.ErrUnexpectedEOF, as with io.ReadAll).
func readBody(resp *http.Response, limit int64) ([]byte, error) {
	n := resp.ContentLength
	if n < 0 || n >= limit {
		return io.ReadAll(io.LimitReader(resp.Body, limit))
	}
	buf := make([]byte, n)
	m, err := io.ReadFull(resp.Body, buf)
	return buf[:m], err
}
