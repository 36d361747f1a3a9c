package responses

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/llmbatch/llmbatch/io/api"
	"github.com/llmbatch/llmbatch/io/jsonscan"
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
	Type    string     `json:"type"`
	Content []wirePart `json:"content"`
}

// wirePart is a message item's content part: output_text carries text, a
// refusal its refusal.
type wirePart struct {
	Type    string `json:"type"`
	Text    string `json:"text"`
	Refusal string `json:"refusal"`
}

// refusal returns the refusal of the first refusal part of a message
// item, ok false when there is none.
func refusal(items []wireItem) (string, bool) {
	for _, it := range items {
		if it.Type != "message" {
			continue
		}
		for _, c := range it.Content {
			if c.Type == "refusal" {
				return c.Refusal, true
			}
		}
	}
	return "", false
}

// outputText joins the text of output_text parts of message items, as the
// official SDKs compute Response.output_text.
func outputText(items []wireItem) string {
	var first string
	var b strings.Builder // when there is more than one text
	n := 0
	for _, it := range items {
		if it.Type != "message" {
			continue
		}
		for _, c := range it.Content {
			if c.Type != "output_text" {
				continue
			}
			switch n++; n {
			case 1:
				first = c.Text
				continue
			case 2:
				b.WriteString(first)
			}
			b.WriteString(c.Text)
		}
	}
	if n < 2 {
		return first
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

// wireKeys are wire's JSON names; the others are those scan reads of an
// incomplete_details object, an output item and a content part (in the
// order of wirePart's fields).
var (
	wireKeys   = []string{"object", "status", "model", "output", "usage", "error", "incomplete_details"}
	reasonKeys = []string{"reason"}
	itemKeys   = []string{"type", "content"}
	partKeys   = []string{"type", "text", "refusal"}
)

// scan decodes body as json.Unmarshal would into a wire, without
// reflection, for the shapes answers have; ok is false for anything else
// (invalid JSON among it), which json.Unmarshal then decodes. It reads
// every byte once (jsonscan's walks in place).
func scan(body []byte) (w wire, ok bool) {
	end := jsonscan.FieldsAt(body, 0, 0, wireKeys, func(k, i int) int {
		switch wireKeys[k] {
		case "output":
			if body[i] == 'n' {
				return 0 // null leaves Output nil; anything else n... is invalid
			}
			w.Output = []wireItem{}
			return jsonscan.ArrayAt(body, i, 1, func(j int) int {
				it, end := scanItem(body, j)
				w.Output = append(w.Output, it)
				return end
			})
		case "usage":
			var end int
			w.Usage, end = api.ScanUsageAt(body, i, 1)
			return end
		case "incomplete_details":
			if body[i] == 'n' {
				return 0
			}
			w.IncompleteDetails = &struct {
				Reason string `json:"reason"`
			}{}
			return jsonscan.FieldsAt(body, i, 1, reasonKeys, func(_, r int) int {
				return jsonscan.Value(body, r, 2, func(v []byte) (ok bool) {
					w.IncompleteDetails.Reason, ok = scanString(v)
					return ok
				})
			})
		}
		return jsonscan.Value(body, i, 1, func(v []byte) (ok bool) {
			switch wireKeys[k] {
			case "object":
				w.Object, ok = scanString(v)
			case "status":
				w.Status, ok = scanString(v)
			case "model":
				w.Model, ok = api.ModelString(v)
			case "error":
				w.Error, ok = v, true
			}
			return ok
		})
	})
	return w, jsonscan.End(body, end) >= 0
}

// scanItem reads the output item that starts at b[i] (an object; not
// null) and returns where it ends, or -1.
func scanItem(b []byte, i int) (it wireItem, end int) {
	end = jsonscan.FieldsAt(b, i, 2, itemKeys, func(k, j int) int {
		if k == 0 {
			return jsonscan.Value(b, j, 3, func(v []byte) (ok bool) {
				it.Type, ok = scanString(v)
				return ok
			})
		}
		if b[j] == 'n' {
			return 0 // null leaves Content nil; anything else n... is invalid
		}
		it.Content = make([]wirePart, 0, 1)
		return jsonscan.ArrayAt(b, j, 3, func(pi int) int {
			var p wirePart
			end := jsonscan.FieldsAt(b, pi, 4, partKeys, func(f, v int) int {
				dst := &p.Type
				switch f {
				case 1:
					dst = &p.Text
				case 2:
					dst = &p.Refusal
				}
				return jsonscan.Value(b, v, 5, func(pv []byte) (ok bool) {
					*dst, ok = scanString(pv)
					return ok
				})
			})
			it.Content = append(it.Content, p)
			return end
		})
	})
	return it, end
}

// scanString reads a string or null (as ""); the values every answer
// repeats are not allocated.
func scanString(v []byte) (string, bool) {
	switch string(v) {
	case "null":
		return "", true
	case `"response"`:
		return "response", true
	case `"completed"`:
		return "completed", true
	case `"incomplete"`:
		return "incomplete", true
	case `"failed"`:
		return "failed", true
	case `"message"`:
		return "message", true
	case `"output_text"`:
		return "output_text", true
	case `"reasoning"`:
		return "reasoning", true
	}
	return jsonscan.String(v)
}
