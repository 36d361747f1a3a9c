package responses

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/llmbatch/llmbatch/io/api"
)

// wire is the part of a response object that is read.
type wire struct {
	Object string         `json:"object"`
	Status string         `json:"status"`
	Model  string         `json:"model"`
	Output []wireItem     `json:"output"`
	Usage  *api.WireUsage `json:"usage"`
	// Error is {"code", "type", "message"}, or a plain string in some
	// servers.
	Error             json.RawMessage `json:"error"`
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

// DecodeStream implements api.StreamDecoder: the response of the last
// terminal event (response.completed, .incomplete or .failed).
func (a API) DecodeStream(raw []byte) (r api.Result, body json.RawMessage, ok bool) {
	for line := range bytes.Lines(raw) {
		data, found := bytes.CutPrefix(bytes.TrimRight(line, "\r\n"), []byte("data:"))
		if !found {
			continue
		}
		var ev struct {
			Type     string          `json:"type"`
			Response json.RawMessage `json:"response"`
		}
		if json.Unmarshal(bytes.TrimSpace(data), &ev) != nil {
			continue
		}
		switch ev.Type {
		case "response.completed", "response.incomplete", "response.failed":
		default:
			continue
		}
		if res, err := a.Decode(ev.Response); err == nil {
			r, body, ok = res, ev.Response, true
		}
	}
	return r, body, ok
}

// failure reads a failed response's error into f.
func (w *wire) failure(f *api.Failure) {
	if len(w.Error) == 0 || string(w.Error) == "null" {
		return
	}
	var o struct {
		Code    json.RawMessage `json:"code"`
		Type    any             `json:"type"`
		Message any             `json:"message"`
	}
	if json.Unmarshal(w.Error, &o) == nil {
		f.Code = api.CodeString(o.Code, f.Code)
		if t, ok := o.Type.(string); ok {
			f.Type = t
		}
		if m, ok := o.Message.(string); ok && m != "" {
			f.Message = m
		}
		return
	}
	var msg string
	if json.Unmarshal(w.Error, &msg) == nil && msg != "" {
		f.Message = msg
	}
}
