package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/llmbatch/llmbatch/io/api"
	"github.com/llmbatch/llmbatch/io/secret"
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

// Decoder reads a 2xx answer's body into a Result; an error means the body
// is not the answer object expected. Every api.API is one.
type Decoder interface {
	Decode(body []byte) (api.Result, error)
}

// Client sends requests to one endpoint. Its exported fields must not
// change once it is in use; it is then safe for concurrent use.
type Client struct {
	// BaseURL is the API root, e.g. "https://api.openai.com/v1"; requests
	// go to BaseURL + an API's path ("/responses").
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

	once   sync.Once
	hc     *http.Client      // HTTPClient with redirects checked (CheckRedirect)
	rt     http.RoundTripper // hc's transport, when a request may skip hc (direct)
	shared bool              // rt only reads a request's headers: they may be c.header itself
	red    *secret.Redactor  // APIKey's, for error texts built from answers
	header http.Header       // every request's headers: Header, then ours
	// targets holds, per path, a request whose URL and Host every
	// request to that path copies: the URL is parsed once.
	targets sync.Map
}

// Answer is what the endpoint said to one request.
type Answer struct {
	StatusCode int
	// RequestID is x-request-id, else LiteLLM's llm_provider-x-request-id
	// or x-litellm-call-id.
	RequestID string
	// Body is the body as received, when it is valid JSON (for a streamed
	// answer, the response its terminal event carries). It may hold the
	// API key if the endpoint echoes it: redact it where it is written
	// (package secret).
	Body json.RawMessage
	// Result is the answer decoded by its API: for a 2xx answer what the
	// API read of it (also when it is not the API's object, what could
	// be read: usage and model), for a streamed one what its terminal
	// event says.
	Result    api.Result
	RateLimit RateLimit
	Latency   time.Duration // from sending the request to reading the whole body
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
	// Quota is set when the answer says the account's quota, credit or
	// budget is used up (OpenAI's insufficient_quota, LiteLLM's
	// budget_exceeded, also when a gateway wraps them in another error's
	// message). Such an answer is Fatal.
	Quota bool
	// Err is the transport error, if any.
	Err error
}

// Codes this package gives to answers that carry none of their own.
const (
	CodeConnection  = "connection_error"   // reset, refused, EOF before an answer
	CodeTimeout     = "timeout"            // the attempt's deadline passed
	CodeMalformed   = "malformed_response" // a 2xx whose body is cut short or is not JSON
	CodeNotResponse = api.CodeNotResponse  // a 2xx JSON body that is not the API's answer object
	CodeTooLarge    = "response_too_large"
	CodeHTTP        = "http_error" // a non-2xx answer with no error code
	CodeCanceled    = "canceled"
	// CodeStream: a 2xx server-sent event stream (the body asked for
	// "stream": true). Not retried: the answer was paid for; the usage of
	// its terminal event, if any, is kept.
	CodeStream = "stream_not_supported"
	// CodeRedirect: a redirect that was not followed, to another origin
	// (scheme, host, port) or one that would turn the POST into a GET.
	CodeRedirect = "redirect_refused"
)

// quotaMarkers are the texts that mark an answer as "out of quota, credit
// or budget", in an error's type, code or message (lower case). Waiting
// does not clear these, unlike a rate limit. A bare "quota exceeded" is
// not one: Google's per-minute limits say that and do clear.
var quotaMarkers = []string{
	"insufficient_quota",
	"exceeded your current quota", // OpenAI's message of insufficient_quota
	"billing_hard_limit_reached",
	"budget_exceeded",          // LiteLLM's type
	"budget has been exceeded", // LiteLLM's message
	"exceededbudget",
	"credit balance is too low", // Anthropic, through gateways
}

// isQuota reports whether any of texts carries a quota marker.
func isQuota(texts ...string) bool {
	for _, t := range texts {
		if t == "" {
			continue
		}
		t = strings.ToLower(t)
		for _, m := range quotaMarkers {
			if strings.Contains(t, m) {
				return true
			}
		}
	}
	return false
}

// AsError returns the *Error in err's chain, or nil: errors.As without
// its cost when err is nil or an *Error itself (the target errors.As
// writes to escapes, one allocation per call, on every answer of a run).
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	if e, ok := err.(*Error); ok {
		return e
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

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
// arrived) and, unless the class is OK, an *Error. The answer is parsed
// exactly as received; error texts built from it have the API key
// redacted.
//
// Redirects: a 307 or 308 to the same origin (scheme, host and port) is
// followed, with the same body and headers (net/http replays the body).
// Any other redirect is not followed: one to another origin would carry
// the key, the extra headers and the prompt there, and a 301, 302 or 303
// would turn the POST into a GET. The row then fails with CodeRedirect,
// naming where the redirect pointed (without its query). This holds for a
// caller's HTTPClient too: its CheckRedirect runs after this check.
func (c *Client) Send(ctx context.Context, path string, body []byte, dec Decoder) (*Answer, error) {
	return c.Do(ctx, http.MethodPost, path, body, dec)
}

// Do is Send with another method: GET (body nil) to read an object, such
// as a background response by its id, or POST to act on one (cancel). The
// answer is classified as Send classifies it, with dec reading a 2xx body.
func (c *Client) Do(ctx context.Context, method, path string, body []byte, dec Decoder) (*Answer, error) {
	ans, err := c.send(ctx, method, path, body, dec)
	if e := AsError(err); e != nil && c.red != nil {
		e.Message = c.red.String(e.Message)
	}
	return ans, err
}

func (c *Client) send(ctx context.Context, method, path string, body []byte, dec Decoder) (*Answer, error) {
	hc := c.httpClient()
	req, err := c.newRequest(ctx, method, path, body)
	if err != nil {
		return nil, &Error{Class: Fatal, Code: "bad_request_url", Message: "cannot build request: invalid base URL"}
	}
	// The headers are the same for every request: built once, and shared
	// with a transport known to only read them (*http.Transport), else
	// their values are (a RoundTripper should not change a request, but
	// one that does then changes its own copy).
	if c.shared {
		req.Header = c.header
	} else {
		req.Header = maps.Clone(c.header)
	}
	return c.roundTrip(ctx, hc, req, dec)
}

// roundTrip sends req, built by newRequest with the client's headers,
// reads its answer and classifies it.
func (c *Client) roundTrip(ctx context.Context, hc *http.Client, req *http.Request, dec Decoder) (*Answer, error) {
	start := time.Now()
	resp, err := c.do(hc, req)
	if re := asRedirect(err); re != nil {
		e := &Error{Class: RowFailed, Code: CodeRedirect, StatusCode: re.StatusCode, Message: re.Error()}
		if resp == nil {
			return nil, e
		}
		ans := &Answer{StatusCode: resp.StatusCode, RequestID: requestID(resp.Header), Latency: time.Since(start)}
		e.RequestID = ans.RequestID
		return ans, e
	}
	if err != nil {
		return nil, transportError(ctx, err)
	}
	defer resp.Body.Close()
	max := c.MaxBodyBytes
	if max <= 0 {
		max = DefaultMaxBodyBytes
	}
	ans := &Answer{
		StatusCode: resp.StatusCode,
		RequestID:  requestID(resp.Header),
		RateLimit:  ParseRateLimit(resp.Header),
	}
	raw, tooLarge, readErr := readBody(resp.Body, resp.ContentLength, max)
	ans.Latency = time.Since(start)
	if tooLarge {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // drain a little for connection reuse
		return ans, &Error{Class: RowFailed, StatusCode: resp.StatusCode, Code: CodeTooLarge,
			Message: fmt.Sprintf("answer body exceeds %d bytes", max), RequestID: ans.RequestID}
	}
	return ans, classify(ctx, ans, resp.Header, raw, readErr, dec)
}

// Classify classifies an answer that did not come over HTTP, such as a
// line of a Batch API output file ({"status_code", "request_id",
// "body"}), exactly as Send classifies the answer of a request: it returns
// the Answer Send would (Body, Result decoded by dec) and, unless the
// class is OK, an *Error. No header is known: the wait a rate limit asks
// for and X-Should-Retry are not read.
func Classify(status int, requestID string, body []byte, dec Decoder) (*Answer, error) {
	ans := &Answer{StatusCode: status, RequestID: requestID}
	return ans, classify(context.Background(), ans, nil, body, nil, dec)
}

// Request returns the request Send would send for path and body, with the
// headers Send sets (Header, then Content-Type, Accept, User-Agent and
// Authorization, which holds the key), without sending it: for a dry run.
// The returned request is the caller's to change.
func (c *Client) Request(ctx context.Context, path string, body []byte) (*http.Request, error) {
	c.httpClient() // builds the headers once
	req, err := c.newRequest(ctx, http.MethodPost, path, body)
	if err != nil {
		return nil, err
	}
	req.Header = c.header.Clone()
	return req, nil
}

// newRequest is http.NewRequestWithContext(ctx, method, BaseURL+path,
// body) with a POST's URL parsed once per path, not once per request (the
// paths of other methods name objects, each used a few times).
func (c *Client) newRequest(ctx context.Context, method, path string, body []byte) (*http.Request, error) {
	var tmpl *http.Request
	if t, ok := c.targets.Load(path); ok && method == http.MethodPost {
		tmpl = t.(*http.Request)
	} else {
		req, err := http.NewRequest(method, strings.TrimRight(c.BaseURL, "/")+path, nil)
		if err != nil {
			return nil, err
		}
		tmpl = req
		if method == http.MethodPost {
			c.targets.Store(path, req)
		}
	}
	u := *tmpl.URL
	if u.User != nil {
		user := *u.User
		u.User = &user
	}
	// One Request: the template's copy with the context (WithContext),
	// then this request's fields.
	req := tmpl.WithContext(ctx)
	req.Method, req.URL, req.Header = method, &u, nil
	req.Body, req.ContentLength = http.NoBody, int64(len(body))
	req.GetBody = func() (io.ReadCloser, error) { return http.NoBody, nil }
	if len(body) > 0 {
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	return req, nil
}

// httpClient is HTTPClient (or http.DefaultClient) with CheckRedirect run
// before the caller's own redirect policy. The first call also builds the
// redactor and the request headers.
func (c *Client) httpClient() *http.Client {
	c.once.Do(func() {
		c.red = secret.NewRedactor(c.APIKey)
		h := make(http.Header, len(c.Header)+4)
		for k, v := range c.Header {
			h[k] = v
		}
		h.Set("Content-Type", "application/json")
		h.Set("Accept", "application/json")
		if c.UserAgent != "" {
			h.Set("User-Agent", c.UserAgent)
		}
		if c.APIKey != "" {
			if c.RawAuth {
				h.Set("Authorization", c.APIKey)
			} else {
				h.Set("Authorization", "Bearer "+c.APIKey)
			}
		}
		c.header = h
		base := c.HTTPClient
		if base == nil {
			base = http.DefaultClient
		}
		hc := *base
		next := base.CheckRedirect
		hc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
			if err := CheckRedirect(req, via); err != nil {
				return err
			}
			if next != nil {
				return next(req, via)
			}
			return nil
		}
		c.hc = &hc
		// Most requests can go to the transport straight (do): none
		// of what http.Client adds applies to them.
		if hc.Jar == nil && hc.Timeout == 0 {
			c.rt = hc.Transport
			if c.rt == nil {
				c.rt = http.DefaultTransport
			}
			_, c.shared = c.rt.(*http.Transport)
		}
	})
	return c.hc
}

// do is hc.Do(req), with the first request sent straight to the
// transport when the client adds nothing to it (no cookie jar, no
// timeout, no user info in the URL to turn into Basic auth): that skips
// a copy of the headers and a little bookkeeping per request. An answer
// that redirects is handed to hc, which follows it from there exactly as
// hc.Do would (CheckRedirect, the headers of each hop, the errors), the
// first hop answered by the answer already received. A transport error
// is wrapped in a *url.Error, as hc.Do wraps it.
func (c *Client) do(hc *http.Client, req *http.Request) (*http.Response, error) {
	if c.rt == nil || req.URL.User != nil {
		return hc.Do(req)
	}
	resp, err := c.rt.RoundTrip(req)
	if err != nil {
		return nil, &url.Error{Op: urlErrorOp(req.Method), URL: req.URL.String(), Err: err}
	}
	switch resp.StatusCode {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		if c.shared {
			// The redirect policies see req (via[0]): its headers become
			// its own, so that none can change what every request shares.
			req.Header = req.Header.Clone()
		}
		follow := *hc
		follow.Transport = &answered{resp: resp, next: c.rt}
		return follow.Do(req)
	}
	return resp, nil
}

// answered is a RoundTripper whose first round trip returns resp, an
// answer already received to that request, and whose next ones go to
// next. It serves one http.Client.Do, which makes its round trips one
// after another.
type answered struct {
	resp *http.Response
	next http.RoundTripper
}

func (a *answered) RoundTrip(req *http.Request) (*http.Response, error) {
	resp := a.resp
	a.resp = nil
	if resp == nil {
		return a.next.RoundTrip(req)
	}
	if req.Body != nil {
		req.Body.Close() // a RoundTripper closes the body, even one it did not read
	}
	return resp, nil
}

// asRedirect returns the *RedirectError in err's chain, or nil, without
// errors.As's allocation when err is nil (every answer).
func asRedirect(err error) *RedirectError {
	if err == nil {
		return nil
	}
	var re *RedirectError
	if !errors.As(err, &re) {
		return nil
	}
	return re
}

// urlErrorOp is the Op of the *url.Error http.Client returns for a
// request of method: "Post" for POST.
func urlErrorOp(method string) string {
	if method == "" {
		return "Get"
	}
	return method[:1] + strings.ToLower(method[1:])
}

// RedirectError is a redirect that CheckRedirect refused.
type RedirectError struct {
	StatusCode int    // the redirect's status
	Location   string // where it pointed: scheme, host and path only
	Reason     string
}

func (e *RedirectError) Error() string {
	return fmt.Sprintf("redirect (HTTP %d) to %s not followed: %s; if that endpoint is trusted, use it as --base-url", e.StatusCode, e.Location, e.Reason)
}

// CheckRedirect is an http.Client CheckRedirect policy for POST requests
// that carry a key: it follows at most 10 redirects, all 307 or 308 (which
// keep the method and body) to the origin of the first request, and
// refuses any other with a *RedirectError.
func CheckRedirect(req *http.Request, via []*http.Request) error {
	e := &RedirectError{Location: where(req.URL)}
	if req.Response != nil {
		e.StatusCode = req.Response.StatusCode
	}
	switch first := via[0]; {
	case origin(req.URL) != origin(first.URL):
		e.Reason = "it leads to another origin than " + origin(first.URL) + ", which would receive the API key, the headers and the request"
	case req.Method != first.Method:
		e.Reason = "it would turn the " + first.Method + " into a " + req.Method
	case len(via) >= 10:
		e.Reason = "more than 10 redirects"
	default:
		return nil
	}
	return e
}

// origin is u's scheme://host:port, with the scheme's default port made
// explicit.
func origin(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	if port == "" {
		switch scheme {
		case "http":
			port = "80"
		case "https":
			port = "443"
		}
	}
	return scheme + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// where is u without user info, query or fragment.
func where(u *url.URL) string {
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}

// requestIDHeaders are the headers that may carry an answer's request id,
// in the order they are tried, in canonical form (see header).
var requestIDHeaders = []string{"X-Request-Id", "Llm_provider-X-Request-Id", "X-Litellm-Call-Id"}

// header is h.Get(name) for a name already in canonical form
// (textproto.CanonicalMIMEHeaderKey), as net/http stores the headers it
// reads: a map look-up that does not allocate, where Get of a lower-case
// name builds the canonical key on every call.
func header(h http.Header, name string) string {
	if v := h[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// requestID reads the request id an answer carries: x-request-id, else
// the ones LiteLLM sends.
func requestID(h http.Header) string {
	for _, name := range requestIDHeaders {
		if v := header(h, name); v != "" {
			return v
		}
	}
	return ""
}

func transportError(ctx context.Context, err error) *Error {
	e := &Error{Class: Retryable, Code: CodeConnection, Err: err}
	var ne net.Error
	switch {
	case ctx.Err() != nil && errors.Is(context.Cause(ctx), context.DeadlineExceeded):
		e.Code = CodeTimeout // a deadline given as a cause, which some layers report as Canceled
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

// errorBody is the part of an error answer that is read.
type errorBody struct {
	// Error is OpenAI's {"code", "type", "message"} object, or a plain
	// string in some gateways.
	Error json.RawMessage `json:"error"`
	// Where other servers put an error's text: FastAPI's "detail",
	// RFC 7807's "title", a bare "message".
	Message json.RawMessage `json:"message"`
	Detail  json.RawMessage `json:"detail"`
	Title   json.RawMessage `json:"title"`
}

// wireError is what is read of an error, whatever its shape.
type wireError struct {
	Code    string
	Type    string
	Message string
}

// readError reads the error of a body: error.{code,type,message}, or an
// "error" string, else a top-level message, detail or title. ok is false
// when the body has none of these.
func (w *errorBody) readError() (we wireError, ok bool) {
	if len(w.Error) > 0 && string(w.Error) != "null" {
		var o struct {
			Code    json.RawMessage `json:"code"`
			Type    json.RawMessage `json:"type"`
			Message json.RawMessage `json:"message"`
		}
		if json.Unmarshal(w.Error, &o) == nil {
			we = wireError{Code: api.CodeString(o.Code, ""), Type: text(o.Type), Message: text(o.Message)}
		} else {
			we.Message = text(w.Error)
		}
		ok = true
	}
	if we.Message == "" {
		for _, raw := range []json.RawMessage{w.Message, w.Detail, w.Title} {
			if t := text(raw); t != "" {
				we.Message, ok = t, true
				break
			}
		}
	}
	return we, ok
}

// text is a JSON string's value, or the compact JSON text of any other
// value ("" for null or absent).
func text(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) == nil {
		return snippet(b.Bytes())
	}
	return snippet(raw)
}

// retryAfter reads the wait an answer asks for: retry-after-ms, then
// retry-after, then LiteLLM's llm_provider-retry-after (the provider's
// header, passed on), each as retry.ParseRetryAfter reads it.
func retryAfter(h http.Header) time.Duration {
	ms, after := header(h, "Retry-After-Ms"), header(h, "Retry-After")
	pms, pafter := header(h, "Llm_provider-Retry-After-Ms"), header(h, "Llm_provider-Retry-After")
	if ms == "" && after == "" && pms == "" && pafter == "" {
		return 0 // most answers: no clock to read
	}
	now := time.Now()
	if d, ok := retry.ParseRetryAfter(ms, after, now); ok {
		return d
	}
	if d, ok := retry.ParseRetryAfter(pms, pafter, now); ok {
		return d
	}
	return 0
}

func classify(ctx context.Context, ans *Answer, h http.Header, raw []byte, readErr error, dec Decoder) error {
	retryAfter := retryAfter(h)
	code := ans.StatusCode
	if code >= 200 && code < 300 {
		if isEventStream(h) {
			return classifyStream(ans, raw, readErr, retryAfter, dec)
		}
		return classifyOK(ctx, ans, raw, readErr, retryAfter, dec)
	}
	var w errorBody
	jsonErr := json.Unmarshal(raw, &w)
	if readErr == nil && (jsonErr == nil || json.Valid(raw)) {
		ans.Body = raw
	}
	e := &Error{StatusCode: code, RequestID: ans.RequestID, RetryAfter: retryAfter, Code: CodeHTTP}
	if we, ok := w.readError(); ok && jsonErr == nil {
		e.Type = we.Type
		e.Code = or(we.Code, or(e.Type, CodeHTTP))
		e.Message = we.Message
	} else if jsonErr != nil || readErr != nil {
		e.Message = snippet(raw)
	}
	if e.Message == "" {
		e.Message = http.StatusText(code)
	}
	e.Quota = isQuota(e.Code, e.Type, e.Message)
	switch {
	case code == 401 || code == 402 || code == 403:
		e.Class = Fatal
	case e.Quota:
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
		switch strings.ToLower(header(h, "X-Should-Retry")) {
		case "true":
			e.Class = Retryable
		case "false":
			e.Class = RowFailed
			e.RateLimited = false
		}
	}
	return e
}

// isEventStream reports whether an answer is a server-sent event stream.
func isEventStream(h http.Header) bool {
	ct := header(h, "Content-Type")
	if !strings.Contains(strings.ToLower(ct), "event-stream") {
		return false // the usual application/json, read without allocating
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "text/event-stream"
}

// classifyStream handles a 2xx event stream: a failed row, never retried
// (the answer was paid for). When the API reads streams
// (api.StreamDecoder), what its terminal event says gives the answer's
// body, usage, model and output text.
func classifyStream(ans *Answer, raw []byte, readErr error, retryAfter time.Duration, dec Decoder) error {
	e := &Error{Class: RowFailed, StatusCode: ans.StatusCode, RequestID: ans.RequestID, RetryAfter: retryAfter, Code: CodeStream,
		Message: `the endpoint answered with an event stream (the request has "stream": true); llmbatch reads whole answers: remove "stream" from the request body`}
	if sd, ok := dec.(api.StreamDecoder); ok {
		if r, body, ok := sd.DecodeStream(raw); ok {
			ans.Result, ans.Body = r, body
		}
	}
	if readErr != nil {
		e.Message += " (the stream was cut short: " + readErr.Error() + ")"
	}
	return e
}

// classifyOK handles a 2xx answer: cut short or not JSON is retried (the
// body did not arrive whole); valid JSON that is not the API's object is
// recorded, with what usage it reports, and not retried; an object the API
// reads as a failure (incomplete, refused, failed) takes the failure's
// class.
func classifyOK(ctx context.Context, ans *Answer, raw []byte, readErr error, retryAfter time.Duration, dec Decoder) error {
	e := &Error{StatusCode: ans.StatusCode, RequestID: ans.RequestID, RetryAfter: retryAfter}
	if readErr != nil {
		e.Class, e.Code, e.Message, e.Err = Retryable, CodeMalformed, "answer cut short: "+readErr.Error(), readErr
		switch {
		case errors.Is(ctx.Err(), context.Canceled):
			e.Code = CodeCanceled
		case ctx.Err() != nil:
			e.Code = CodeTimeout
		}
		return e
	}
	r, err := dec.Decode(raw)
	ans.Result = r
	if err != nil {
		if !json.Valid(raw) {
			e.Class, e.Code = Retryable, CodeMalformed
			e.Message = fmt.Sprintf("answer is not JSON (%v): %s", err, snippet(raw))
			return e
		}
		ans.Body = raw
		e.Class, e.Code = RowFailed, CodeNotResponse
		e.Message = fmt.Sprintf("answer is not the endpoint's answer object (%v): %s", err, snippet(raw))
		return e
	}
	ans.Body = raw
	f := r.Failure
	if f == nil {
		return nil
	}
	e.Class, e.Code, e.Type, e.Message = RowFailed, f.Code, f.Type, f.Message
	if f.Retryable {
		e.Class = Retryable
	}
	return e
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

// Chunk sizes of readBody for a body of unknown length, past the first
// scratchSize bytes.
const (
	scratchSize = 256 << 10
	maxChunk    = 4 << 20
)

// scratch holds the first bytes of a body of unknown length (a gzipped
// answer, which net/http unzips, or a chunked one): a body that fits is
// copied out at its exact size, so that reading it allocates what it
// keeps and no more.
var scratch = sync.Pool{New: func() any { b := make([]byte, scratchSize); return &b }}

// readBody reads a body of at most max bytes. A body whose Content-Length
// (n, -1 when unknown) is known is read into one buffer of that size (net/
// http ends the body there; a short body is an io.ErrUnexpectedEOF, as
// with io.ReadAll); one that announces more than max is not read at all.
// A body of unknown length is read into a pooled 256 KiB scratch buffer,
// and one that ends there is copied into one buffer of its exact size;
// past it, in chunks that double from 512 KiB up to 4 MiB: one that passes
// max is dropped as soon as it does, so that an oversized answer holds at
// most max plus one chunk; one that fits is copied into one buffer of its
// exact size. tooLarge reports a body over max.
func readBody(r io.Reader, n, max int64) (raw []byte, tooLarge bool, err error) {
	if n > max {
		return nil, true, nil
	}
	if n >= 0 {
		buf := make([]byte, n)
		m, err := io.ReadFull(r, buf)
		return buf[:m], false, err
	}
	sp := scratch.Get().(*[]byte)
	defer scratch.Put(sp)
	first, err := readFull(r, (*sp)[:min(scratchSize, max+1)])
	if int64(len(first)) > max {
		return nil, true, nil
	}
	if err != nil {
		if err == io.EOF {
			err = nil
		}
		return bytes.Clone(first), false, err
	}
	var (
		chunks = [][]byte{bytes.Clone(first)}
		total  = int64(len(first))
		size   = int64(2 * scratchSize)
	)
	for err == nil {
		var buf []byte
		buf, err = readFull(r, make([]byte, min(size, max+1-total)))
		chunks = append(chunks, buf)
		total += int64(len(buf))
		if total > max {
			return nil, true, nil
		}
		size = min(2*size, maxChunk)
	}
	if err == io.EOF {
		err = nil
	}
	raw = make([]byte, 0, total)
	for i, c := range chunks {
		raw = append(raw, c...)
		chunks[i] = nil
	}
	return raw, false, err
}

// readFull reads into buf until it is full or r fails, and returns what
// was read; err is nil only when buf was filled.
func readFull(r io.Reader, buf []byte) ([]byte, error) {
	m := 0
	var err error
	for m < len(buf) && err == nil {
		var k int
		k, err = r.Read(buf[m:])
		m += k
	}
	return buf[:m], err
}
