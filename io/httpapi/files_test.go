package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/llmbatch/llmbatch/io/api"
	"github.com/llmbatch/llmbatch/io/httpapi"
	"github.com/llmbatch/llmbatch/io/responses"
)

// Classify gives a (status, body) pair that did not come over HTTP, as a
// Batch output line holds it, the class and code Send gives the same
// answer over HTTP.
func TestClassify_AsSend(t *testing.T) {
	for _, tc := range []struct {
		status int
		body   string
	}{
		{200, okBody},
		{200, `{"object":"response","status":"incomplete","incomplete_details":{"reason":"max_output_tokens"},"output":[]}`},
		{200, `{"object":"response","status":"failed","error":{"code":"server_error","message":"boom"},"output":[]}`},
		{200, `{"not":"a response"}`},
		{400, `{"error":{"message":"bad","type":"invalid_request_error","code":null}}`},
		{429, `{"error":{"message":"slow down","type":"rate_limit_error","code":"rate_limit_exceeded"}}`},
		{429, `{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","code":"insufficient_quota"}}`},
		{500, `{"error":{"message":"oops","type":"server_error","code":null}}`},
		{502, `<html>bad gateway</html>`},
		{401, `{"error":{"message":"bad key","code":"invalid_api_key"}}`},
	} {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("x-request-id", "req_1")
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			c := &httpapi.Client{BaseURL: srv.URL}
			sentAns, sentErr := c.Send(context.Background(), "/responses", []byte(`{}`), responses.API{})
			ans, err := httpapi.Classify(tc.status, "req_1", []byte(tc.body), responses.API{})
			var se, ce *httpapi.Error
			errors.As(sentErr, &se)
			errors.As(err, &ce)
			if (se == nil) != (ce == nil) {
				t.Fatalf("Send error %v, Classify error %v", sentErr, err)
			}
			if se != nil && (se.Class != ce.Class || se.Code != ce.Code || se.Message != ce.Message || se.Quota != ce.Quota || se.RateLimited != ce.RateLimited) {
				t.Errorf("Send %+v, Classify %+v", se, ce)
			}
			if ans.RequestID != "req_1" || string(ans.Body) != string(sentAns.Body) || ans.Result.OutputText != sentAns.Result.OutputText || ans.Result.Usage != sentAns.Result.Usage {
				t.Errorf("Classify answer %+v, Send's %+v", ans, sentAns)
			}
		})
	}
}

type fileDec struct{}

func (fileDec) Decode(b []byte) (api.Result, error) {
	var o struct{ ID string }
	return api.Result{}, json.Unmarshal(b, &o)
}

// Upload sends multipart/form-data with the fields and the file, and the
// key; its error text never holds the key.
func TestClient_Upload(t *testing.T) {
	const key = "sk-upload-test-0123456789"
	content := bytes.Repeat([]byte(`{"custom_id":"a","method":"POST","url":"/v1/responses","body":{}}`+"\n"), 1000)
	var got struct {
		purpose, name string
		data          []byte
		auth          string
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.auth = r.Header.Get("Authorization")
		if err := r.ParseMultipartForm(1 << 20); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		got.purpose = r.FormValue("purpose")
		f, h, err := r.FormFile("file")
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		got.name = h.Filename
		got.data, _ = io.ReadAll(f)
		if got.purpose == "fail" {
			w.WriteHeader(400)
			fmt.Fprintf(w, `{"error":{"message":"bad key %s","code":"bad"}}`, key)
			return
		}
		io.WriteString(w, `{"id":"file-1","object":"file","bytes":1}`)
	}))
	defer srv.Close()
	c := &httpapi.Client{BaseURL: srv.URL, APIKey: key}
	ans, err := c.Upload(context.Background(), "/files", []string{"purpose", "batch"}, "in.jsonl", content, fileDec{})
	if err != nil || !strings.Contains(string(ans.Body), "file-1") {
		t.Fatalf("Upload: %v", err)
	}
	if got.purpose != "batch" || got.name != "in.jsonl" || !bytes.Equal(got.data, content) || got.auth != "Bearer "+key {
		t.Errorf("server got purpose %q, name %q, %d bytes (want %d), auth %q", got.purpose, got.name, len(got.data), len(content), got.auth)
	}
	_, err = c.Upload(context.Background(), "/files", []string{"purpose", "fail"}, "in.jsonl", content, fileDec{})
	var e *httpapi.Error
	if !errors.As(err, &e) || e.Class != httpapi.RowFailed || strings.Contains(err.Error(), key) {
		t.Errorf("failed upload: %v", err)
	}
}

// Download streams a body of any size (past MaxBodyBytes) to w; a body
// cut short is a retryable error; a 404 is classified as Send's.
func TestClient_Download(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/files/big/content":
			w.Write(big)
		case "/files/cut/content":
			w.Header().Set("Content-Length", fmt.Sprint(len(big)))
			w.Write(big[:1000])
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		default:
			w.WriteHeader(404)
			io.WriteString(w, `{"error":{"message":"No such File object","type":"invalid_request_error","code":null}}`)
		}
	}))
	defer srv.Close()
	c := &httpapi.Client{BaseURL: srv.URL, MaxBodyBytes: 1024}
	var b bytes.Buffer
	n, _, err := c.Download(context.Background(), "/files/big/content", &b)
	if err != nil || n != int64(len(big)) || !bytes.Equal(b.Bytes(), big) {
		t.Fatalf("Download: %d bytes, %v", n, err)
	}
	b.Reset()
	_, _, err = c.Download(context.Background(), "/files/cut/content", &b)
	var e *httpapi.Error
	if !errors.As(err, &e) || e.Class != httpapi.Retryable {
		t.Errorf("cut download: %v, want retryable", err)
	}
	_, ans, err := c.Download(context.Background(), "/files/gone/content", &b)
	if !errors.As(err, &e) || e.StatusCode != 404 || e.Class != httpapi.RowFailed || ans == nil {
		t.Errorf("404: %v", err)
	}
}
