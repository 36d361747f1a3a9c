package results

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// A Mark is a journal line that is not a row's result: something a run
// mode must find again after a crash, written (and fsynced) the moment it
// exists, such as a background response's id, an uploaded file's or a
// batch's. A mark's first member is "kind"; it has no custom_id, so the
// resume scan, report, export and any reader of Batch API output lines
// (which join by custom_id) never take it for a row's result:
//
//	{"kind":"response","key":"row-17","id":"resp_abc123","time":"2026-11-30T01:02:03Z"}
//	{"kind":"batch_file","id":"file-xyz","data":{"endpoint":"/v1/responses","model":"gpt-5-mini","lines":2,"bytes":310,"keys":["1","2"]}}
//	{"kind":"batch","id":"batch_abc","data":{"input_file_id":"file-xyz","endpoint":"/v1/responses"}}
//
// Kind names the mode's record type; Key, when set, is the row the mark
// belongs to; Data holds the mode's own fields.
type Mark struct {
	Kind string          `json:"kind"`
	Key  string          `json:"key,omitempty"`
	ID   string          `json:"id,omitempty"`
	Data json.RawMessage `json:"data,omitempty"`
	Time time.Time       `json:"time,omitzero"`
	// Job is set on a job's first line, when that is a mark (see Record).
	Job *Job `json:"job,omitempty"`
}

// errMark is what the record decoders return for a mark's line: the
// readers of records skip it.
var errMark = errors.New("a mark, not a record")

// decodeMark decodes line as a mark; ok is false when line is not one
// (not JSON, or a "kind" that is not a non-empty string).
func decodeMark(line []byte) (Mark, bool) {
	var m Mark
	if err := json.Unmarshal(line, &m); err != nil || m.Kind == "" {
		return Mark{}, false
	}
	return m, true
}

// isMark reports whether a line that is not a record (it has no
// custom_id) is a mark. Only the decoders' slow path asks.
func isMark(line []byte) bool {
	_, ok := decodeMark(line)
	return ok
}

// AddMark encodes m as one line and holds it until Flush, as Add does for
// a record. A caller that must not go on before the mark is durable calls
// Flush and then Sync.
func (j *Journal) AddMark(m *Mark) error {
	if j.err != nil {
		return j.err
	}
	if m.Kind == "" {
		return fmt.Errorf("%w: a mark has no kind", ErrEncode)
	}
	line, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("%w: mark %s %q: %w", ErrEncode, m.Kind, m.ID, err)
	}
	line = append(line, '\n')
	j.pend = append(j.pend, j.Redact.JSON(line)...)
	j.pmarks = append(j.pmarks, len(j.ends))
	j.ends = append(j.ends, len(j.pend))
	return nil
}
