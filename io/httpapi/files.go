package httpapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Upload sends content as a multipart/form-data POST to path (the Files
// API's "/files"), with the form fields given in pairs (name, value:
// "purpose", "batch") and content as the part "file" named filename. The
// answer is read and classified as Send's, dec reading a 2xx body (the
// file object). content is not copied: the body streams from it.
func (c *Client) Upload(ctx context.Context, path string, fields []string, filename string, content []byte, dec Decoder) (*Answer, error) {
	if len(fields)%2 != 0 {
		return nil, &Error{Class: RowFailed, Code: "bad_upload", Message: "upload fields must come in name, value pairs"}
	}
	var rnd [16]byte
	_, _ = rand.Read(rnd[:])
	boundary := "llmbatch-" + hex.EncodeToString(rnd[:])
	var head bytes.Buffer
	for i := 0; i < len(fields); i += 2 {
		fmt.Fprintf(&head, "--%s\r\nContent-Disposition: form-data; name=%q\r\n\r\n%s\r\n", boundary, fields[i], fields[i+1])
	}
	fmt.Fprintf(&head, "--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=%q\r\nContent-Type: application/jsonl\r\n\r\n",
		boundary, strings.ReplaceAll(filename, `"`, ""))
	tail := []byte("\r\n--" + boundary + "--\r\n")
	hb := head.Bytes()
	body := func() io.Reader {
		return io.MultiReader(bytes.NewReader(hb), bytes.NewReader(content), bytes.NewReader(tail))
	}
	hc := c.httpClient()
	req, err := c.newRequest(ctx, http.MethodPost, path, nil)
	if err != nil {
		return nil, &Error{Class: Fatal, Code: "bad_request_url", Message: "cannot build request: invalid base URL"}
	}
	req.Header = c.header.Clone() // its own: a header is changed below
	req.Header["Content-Type"] = []string{"multipart/form-data; boundary=" + boundary}
	req.ContentLength = int64(len(hb) + len(content) + len(tail))
	req.Body = io.NopCloser(body())
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(body()), nil }
	ans, err := c.roundTrip(ctx, hc, req, dec)
	c.redact(err)
	return ans, err
}

// Download GETs path (the Files API's "/files/{id}/content") and copies a
// 2xx answer's body, of any size, to w. A non-2xx answer is read (up to
// MaxBodyBytes) and classified as Send classifies it; a body cut short is
// a Retryable *Error (CodeMalformed, or CodeConnection when no answer
// arrived). n is the bytes copied to w.
func (c *Client) Download(ctx context.Context, path string, w io.Writer) (n int64, ans *Answer, err error) {
	defer func() { c.redact(err) }()
	hc := c.httpClient()
	req, err := c.newRequest(ctx, http.MethodGet, path, nil)
	if err != nil {
		return 0, nil, &Error{Class: Fatal, Code: "bad_request_url", Message: "cannot build request: invalid base URL"}
	}
	req.Header = c.header.Clone() // its own: a header is changed below
	req.Header["Accept"] = []string{"*/*"}
	start := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		var re *RedirectError
		if errors.As(err, &re) {
			return 0, nil, &Error{Class: RowFailed, Code: CodeRedirect, StatusCode: re.StatusCode, Message: re.Error()}
		}
		return 0, nil, transportError(ctx, err)
	}
	defer resp.Body.Close()
	ans = &Answer{StatusCode: resp.StatusCode, RequestID: requestID(resp.Header), RateLimit: ParseRateLimit(resp.Header)}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		max := c.MaxBodyBytes
		if max <= 0 {
			max = DefaultMaxBodyBytes
		}
		raw, _, readErr := readBody(resp.Body, resp.ContentLength, max)
		ans.Latency = time.Since(start)
		return 0, ans, classify(ctx, ans, resp.Header, raw, readErr, nil)
	}
	n, err = io.Copy(w, resp.Body)
	ans.Latency = time.Since(start)
	if err == nil && resp.ContentLength >= 0 && n != resp.ContentLength {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		e := &Error{Class: Retryable, StatusCode: resp.StatusCode, Code: CodeMalformed, RequestID: ans.RequestID,
			Message: "download cut short: " + scrub(err), Err: err}
		if ctx.Err() != nil {
			e.Code = CodeCanceled
		}
		return n, ans, e
	}
	return n, ans, nil
}

// redact removes the API key from an *Error's message.
func (c *Client) redact(err error) {
	if e := AsError(err); e != nil && c.red != nil {
		e.Message = c.red.String(e.Message)
	}
}
