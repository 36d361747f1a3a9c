package batchapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/llmbatch/llmbatch/io/api"
)

// Batch is the part of the Batch API's Batch object llmbatch reads (see
// openai-python src/openai/types/batch.py).
type Batch struct {
	ID               string        `json:"id"`
	Endpoint         string        `json:"endpoint,omitempty"`
	InputFileID      string        `json:"input_file_id,omitempty"`
	Status           string        `json:"status"`
	OutputFileID     string        `json:"output_file_id,omitempty"`
	ErrorFileID      string        `json:"error_file_id,omitempty"`
	RequestCounts    RequestCounts `json:"request_counts"`
	Errors           *BatchErrors  `json:"errors,omitempty"`
	CreatedAt        int64         `json:"created_at,omitempty"`
	CompletionWindow string        `json:"completion_window,omitempty"`
}

// RequestCounts is a batch's request_counts.
type RequestCounts struct {
	Total     int `json:"total"`
	Completed int `json:"completed"`
	Failed    int `json:"failed"`
}

// BatchErrors is a failed batch's errors: what validation found.
type BatchErrors struct {
	Data []BatchError `json:"data"`
}

// BatchError is one validation error: its code, the input file's line
// (1-based) when it names one, and the server's message.
type BatchError struct {
	Code    string `json:"code"`
	Line    *int   `json:"line,omitempty"`
	Message string `json:"message"`
	Param   string `json:"param,omitempty"`
}

// Batch states.
const (
	StatusValidating = "validating"
	StatusFailed     = "failed"
	StatusInProgress = "in_progress"
	StatusFinalizing = "finalizing"
	StatusCompleted  = "completed"
	StatusExpired    = "expired"
	StatusCancelling = "cancelling"
	StatusCancelled  = "cancelled"
)

// Terminal reports whether a batch in status will not change again.
func Terminal(status string) bool {
	switch status {
	case StatusFailed, StatusCompleted, StatusExpired, StatusCancelled:
		return true
	}
	return false
}

// fileObject is the part of a FileObject llmbatch reads.
type fileObject struct {
	ID     string `json:"id"`
	Bytes  int64  `json:"bytes"`
	Object string `json:"object"`
}

// outputLine is a line of a batch's output or error file:
// {"id", "custom_id", "response": {"status_code", "request_id", "body"} |
// null, "error": {"code", "message"} | null}.
type outputLine struct {
	CustomID *string `json:"custom_id"`
	Response *struct {
		StatusCode int             `json:"status_code"`
		RequestID  string          `json:"request_id"`
		Body       json.RawMessage `json:"body"`
	} `json:"response"`
	Error *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// inputLine is a line of a batch input file.
type inputLine struct {
	CustomID string          `json:"custom_id"`
	Method   string          `json:"method"`
	URL      string          `json:"url"`
	Body     json.RawMessage `json:"body"`
}

// objectDecoder reads a 2xx answer that must be a JSON object with a
// string "id" (a File or Batch object): what httpapi's classification
// needs of a Decoder.
type objectDecoder struct{ object string }

func (d objectDecoder) Decode(body []byte) (api.Result, error) {
	var o struct {
		ID     string `json:"id"`
		Object string `json:"object"`
	}
	if err := json.Unmarshal(body, &o); err != nil {
		return api.Result{}, err
	}
	if o.ID == "" {
		return api.Result{}, errors.New("no id")
	}
	if o.Object != "" && o.Object != d.object {
		return api.Result{}, fmt.Errorf("object %q, want %q", o.Object, d.object)
	}
	return api.Result{}, nil
}

var (
	fileDecoder  = objectDecoder{"file"}
	batchDecoder = objectDecoder{"batch"}
	listDecoder  = listObject{}
)

// listObject reads a list answer: a JSON object with a "data" array.
type listObject struct{}

func (listObject) Decode(body []byte) (api.Result, error) {
	var o struct {
		Data []json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &o); err != nil {
		return api.Result{}, err
	}
	if o.Data == nil {
		return api.Result{}, errors.New("no data")
	}
	return api.Result{}, nil
}

// describe lists a failed batch's errors, naming each line's row key.
func describe(b *Batch, keys []string) string {
	if b.Errors == nil || len(b.Errors.Data) == 0 {
		return "no errors given"
	}
	var parts []string
	for i, e := range b.Errors.Data {
		if i == 10 {
			parts = append(parts, fmt.Sprintf("and %d more", len(b.Errors.Data)-i))
			break
		}
		s := e.Code
		if e.Line != nil {
			s = fmt.Sprintf("line %d", *e.Line)
			if l := *e.Line; l >= 1 && l <= len(keys) {
				s += fmt.Sprintf(" (key %q)", keys[l-1])
			}
			s += ": " + e.Code
		}
		if e.Message != "" {
			s += ": " + e.Message
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}
