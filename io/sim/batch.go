package sim

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// MaxFileBytes is the largest file POST /v1/files accepts (OpenAI's 512 MB
// a file); a larger upload is answered 413.
const MaxFileBytes = 512 << 20

// BatchStats counts batches and their lines.
type BatchStats struct {
	Created int `json:"created"` // POST /v1/batches answered 200
	// Final states reached.
	Completed int `json:"completed"`
	Failed    int `json:"failed"` // failed validation
	Expired   int `json:"expired"`
	Cancelled int `json:"cancelled"`
	// Lines counts lines answered (in the output or error file with a
	// response); LinesFailed those answered with an error status (400,
	// 500). Expired and cancelled lines are neither.
	Lines       int `json:"lines"`
	LinesFailed int `json:"lines_failed"`
	// Broken counts lines answered 200 whose output breaks the
	// request's schema (Config.SchemaBreak).
	Broken int `json:"broken,omitempty"`
	// InputTokens and OutputTokens sum the usage of lines answered 200,
	// each billed once, at the standard token counts (the batch discount
	// is the client's arithmetic).
	InputTokens  int64 `json:"input_tokens"`
	OutputTokens int64 `json:"output_tokens"`
}

// file is a stored file: an upload, or a batch's output or error file.
type file struct {
	id, filename, purpose string
	data                  []byte
	created               int64
}

// object is f's FileObject.
func (f *file) object() []byte {
	b, _ := json.Marshal(map[string]any{
		"id":             f.id,
		"object":         "file",
		"bytes":          len(f.data),
		"created_at":     f.created,
		"expires_at":     f.created + 30*24*3600,
		"filename":       f.filename,
		"purpose":        f.purpose,
		"status":         "processed",
		"status_details": nil,
	})
	return b
}

// newFile stores a file. Called with amu held.
func (s *Server) newFile(name, purpose string, data []byte, at time.Time) *file {
	s.store.ids++
	f := &file{
		id:       "file-" + hexID(digest(s.cfg.Seed, "file", itob(s.store.ids)), 12),
		filename: name, purpose: purpose, data: data, created: at.Unix(),
	}
	s.store.fileObjs[f.id] = f
	return f
}

// filePurposes are the purposes POST /v1/files accepts.
var filePurposes = []string{"assistants", "batch", "fine-tune", "vision", "user_data", "evals"}

// uploadFile answers POST /v1/files: multipart/form-data with the fields
// purpose and file. A batch file must be named *.jsonl, as OpenAI asks.
func (s *Server) uploadFile(w http.ResponseWriter, r *http.Request, now time.Time) {
	r.Body = http.MaxBytesReader(w, r.Body, MaxFileBytes+1<<20)
	mr, err := r.MultipartReader()
	if err != nil {
		s.writeError(w, invalidRequest("Invalid request: expected a multipart/form-data body with the fields 'purpose' and 'file'.", ""))
		return
	}
	var (
		purpose, name string
		data          []byte
		haveFile      bool
	)
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err == nil {
			switch part.FormName() {
			case "purpose":
				var b []byte
				b, err = io.ReadAll(io.LimitReader(part, 256))
				purpose = strings.TrimSpace(string(b))
			case "file":
				data, err = io.ReadAll(part)
				name, haveFile = part.FileName(), true
			}
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) || len(data) > MaxFileBytes {
				s.writeError(w, &apiError{status: http.StatusRequestEntityTooLarge, typ: "invalid_request_error",
					message: fmt.Sprintf("File is too large: the limit is %d bytes.", MaxFileBytes)})
				return
			}
			s.writeError(w, invalidRequest("Invalid multipart body: "+err.Error(), ""))
			return
		}
	}
	switch {
	case purpose == "":
		s.writeError(w, invalidRequest("Missing required parameter: 'purpose'.", "purpose"))
		return
	case !slices.Contains(filePurposes, purpose):
		s.writeError(w, invalidRequest(fmt.Sprintf("Invalid value for purpose: '%s'. Supported values are: '%s'.", purpose, strings.Join(filePurposes, "', '")), "purpose"))
		return
	case !haveFile:
		s.writeError(w, invalidRequest("Missing required parameter: 'file'.", "file"))
		return
	case purpose == "batch" && !strings.HasSuffix(name, ".jsonl"):
		s.writeError(w, invalidRequest("Invalid file format for Batch API. Must be .jsonl", "file"))
		return
	}
	if len(data) > MaxFileBytes {
		s.writeError(w, &apiError{status: http.StatusRequestEntityTooLarge, typ: "invalid_request_error",
			message: fmt.Sprintf("File is too large: the limit is %d bytes.", MaxFileBytes)})
		return
	}
	s.amu.Lock()
	f := s.newFile(name, purpose, data, now)
	s.store.files++
	s.store.uploads[hexSHA(data)]++
	b := f.object()
	s.amu.Unlock()
	s.writeOther(w, http.StatusOK, b)
}

// getFile answers GET /v1/files/{id} and, with content, GET
// /v1/files/{id}/content.
func (s *Server) getFile(w http.ResponseWriter, id string, content bool) {
	s.amu.Lock()
	f := s.store.fileObjs[id]
	s.amu.Unlock()
	if f == nil {
		s.writeError(w, notFound(fmt.Sprintf("No such File object: %s", id), "id"))
		return
	}
	if !content {
		s.writeOther(w, http.StatusOK, f.object())
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	s.writeRaw(w, f.data)
}

// deleteFile answers DELETE /v1/files/{id}. A batch keeps its lines once
// created, so deleting its input file changes nothing about it.
func (s *Server) deleteFile(w http.ResponseWriter, id string) {
	s.writeStored(w, func() ([]byte, *apiError) {
		if s.store.fileObjs[id] == nil {
			return nil, notFound(fmt.Sprintf("No such File object: %s", id), "id")
		}
		delete(s.store.fileObjs, id)
		b, _ := json.Marshal(map[string]any{"id": id, "object": "file", "deleted": true})
		return b, nil
	})
}

// writeRaw is writeOther for a 200 with a body that is not JSON; the
// caller sets Content-Type.
func (s *Server) writeRaw(w http.ResponseWriter, body []byte) {
	s.mu.Lock()
	s.others++
	n := s.others
	s.mu.Unlock()
	h := w.Header()
	h.Set("x-request-id", "req_"+hexID(digest(s.cfg.Seed, "req-other", itob(n)), 16))
	h.Set("openai-processing-ms", "0")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// Uploads returns how many times each file content was uploaded, keyed by
// the hex SHA-256 of the content. A count above 1 is a file uploaded
// twice. The map is the caller's.
func (s *Server) Uploads() map[string]int {
	s.amu.Lock()
	defer s.amu.Unlock()
	return maps(s.store.uploads)
}

// BatchCreations returns how many batches were created from each input
// file id. A count above 1 is a batch created twice for one upload. The
// map is the caller's.
func (s *Server) BatchCreations() map[string]int {
	s.amu.Lock()
	defer s.amu.Unlock()
	return maps(s.store.byFile)
}

// BatchBilled returns how many times a batch line with each custom_id was
// answered 200 and billed, over all batches (after bringing every batch
// up to now). A count above 1 is a row billed twice. The map is the
// caller's.
func (s *Server) BatchBilled() map[string]int {
	s.amu.Lock()
	defer s.amu.Unlock()
	s.settleAll(s.now())
	return maps(s.store.billed)
}

// maps copies m.
func maps(m map[string]int) map[string]int {
	c := make(map[string]int, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// hexSHA is the hex SHA-256 of b.
func hexSHA(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// batchEndpoints maps a batch endpoint to the simulated API answering its
// lines.
var batchEndpoints = map[string]*endpoint{
	"/v1/responses":        responsesAPI,
	"/v1/chat/completions": chatAPI,
	"/v1/embeddings":       embeddingsAPI,
}

// batchError is one entry of a failed batch's errors.data.
type batchError struct {
	Code    string  `json:"code"`
	Line    *int    `json:"line"`
	Message string  `json:"message"`
	Param   *string `json:"param"`
}

// batchLine is one valid line of a batch's input.
type batchLine struct {
	customID string
	body     []byte    // the line's body, compacted
	at       time.Time // when it is answered
	out      []byte    // its output or error line, once answered
	ok       bool      // answered 200
}

// batch is one batch. Like a background response its state is a function
// of the clock; advanceBatch brings it up to date.
type batch struct {
	id, endpoint, inputFile, model string
	metadata                       map[string]string
	created                        time.Time
	errs                           []batchError // validation errors: the batch fails
	lines                          []*batchLine // in the order they are answered (shuffled)
	next                           int          // lines[:next] are answered
	tokens                         int64        // enqueued tokens (BatchTokenLimit)
	cancelAt                       *time.Time

	status                            string
	inProgressAt, finalizingAt, endAt *int64
	outputFile, errorFile             *string
	completed, failed                 int
	usage                             usage
	terminal                          bool
}

// times are the batch's schedule: end of validation, of processing, and
// completion.
func (b *batch) times(d time.Duration) (validated, processed, done time.Time) {
	return b.created.Add(d / 10), b.created.Add(d * 9 / 10), b.created.Add(d)
}

// createBatch answers POST /v1/batches.
func (s *Server) createBatch(w http.ResponseWriter, r *http.Request, now time.Time) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBody))
	if err != nil {
		s.writeError(w, invalidRequest("Invalid request body: "+err.Error(), ""))
		return
	}
	var req struct {
		InputFileID      *string           `json:"input_file_id"`
		Endpoint         *string           `json:"endpoint"`
		CompletionWindow *string           `json:"completion_window"`
		Metadata         map[string]string `json:"metadata"`
	}
	if aerr := decodeObject(body, &req); aerr != nil {
		s.writeError(w, aerr)
		return
	}
	for _, f := range []struct {
		name string
		v    *string
	}{{"input_file_id", req.InputFileID}, {"endpoint", req.Endpoint}, {"completion_window", req.CompletionWindow}} {
		if f.v == nil || *f.v == "" {
			s.writeError(w, invalidRequest(fmt.Sprintf("Missing required parameter: '%s'.", f.name), f.name))
			return
		}
	}
	ep := batchEndpoints[*req.Endpoint]
	switch {
	case ep == nil:
		s.writeError(w, invalidRequest(fmt.Sprintf("Invalid value: '%s'. Supported values are: '/v1/responses', '/v1/chat/completions' and '/v1/embeddings'.", *req.Endpoint), "endpoint"))
		return
	case *req.CompletionWindow != "24h":
		s.writeError(w, invalidRequest(fmt.Sprintf("Invalid value: '%s'. Supported values are: '24h'.", *req.CompletionWindow), "completion_window"))
		return
	case len(req.Metadata) > 16:
		s.writeError(w, invalidRequest("Invalid 'metadata': too many properties. Expected an object with at most 16 properties.", "metadata"))
		return
	}
	s.writeStored(w, func() ([]byte, *apiError) {
		f := s.store.fileObjs[*req.InputFileID]
		switch {
		case f == nil:
			return nil, notFound(fmt.Sprintf("No such File object: %s", *req.InputFileID), "input_file_id")
		case f.purpose != "batch":
			return nil, invalidRequest(fmt.Sprintf("The file %s has purpose '%s'; a batch needs a file with purpose 'batch'.", f.id, f.purpose), "input_file_id")
		case int64(len(f.data)) > s.cfg.BatchMaxBytes:
			return nil, invalidRequest("File is too large.", "input_file_id")
		}
		s.store.ids++
		b := &batch{
			id:        "batch_" + hexID(digest(s.cfg.Seed, "batch", itob(s.store.ids)), 16),
			endpoint:  *req.Endpoint,
			inputFile: f.id,
			metadata:  req.Metadata,
			created:   now,
			status:    "validating",
		}
		s.validateBatch(b, f.data, ep, now)
		s.store.batches[b.id] = b
		s.store.batchOrder = append(s.store.batchOrder, b)
		s.store.byFile[f.id]++
		s.store.batchStats.Created++
		return b.object(), nil
	})
}

// validateBatch checks the input file of b, as OpenAI does while the batch
// is validating, and schedules its lines. Called with amu held.
func (s *Server) validateBatch(b *batch, data []byte, ep *endpoint, now time.Time) {
	fail := func(code, msg string, line int, param string) {
		e := batchError{Code: code, Message: msg}
		if line > 0 {
			e.Line = &line
		}
		if param != "" {
			e.Param = &param
		}
		b.errs = append(b.errs, e)
	}
	raw := bytes.Split(data, []byte("\n"))
	n := 0
	for _, l := range raw {
		if len(bytes.TrimSpace(l)) > 0 {
			n++
		}
	}
	switch {
	case n == 0:
		fail("empty_file", "The input file is empty.", 0, "")
		return
	case n > s.cfg.BatchMaxLines:
		fail("too_many_tasks", fmt.Sprintf("The input file has %d requests; the limit is %d per batch.", n, s.cfg.BatchMaxLines), 0, "")
		return
	}
	seen := map[string]bool{}
	for i, l := range raw {
		if len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		no := i + 1
		var in struct {
			CustomID *string         `json:"custom_id"`
			Method   *string         `json:"method"`
			URL      *string         `json:"url"`
			Body     json.RawMessage `json:"body"`
		}
		if firstByte(l) != '{' || json.Unmarshal(l, &in) != nil {
			fail("invalid_json_line", "This line is not parseable as valid JSON.", no, "")
			continue
		}
		switch {
		case in.CustomID == nil || *in.CustomID == "":
			fail("missing_required_parameter", "Missing required parameter: 'custom_id'.", no, "custom_id")
			continue
		case in.Method == nil || *in.Method != http.MethodPost:
			fail("invalid_method", "The method of this request must be 'POST'.", no, "method")
			continue
		case in.URL == nil || *in.URL != b.endpoint:
			fail("url_mismatch", fmt.Sprintf("The URL of this request does not match the batch's endpoint %s.", b.endpoint), no, "url")
			continue
		case firstByte(in.Body) != '{':
			fail("missing_required_parameter", "Missing required parameter: 'body' (a JSON object).", no, "body")
			continue
		case seen[*in.CustomID]:
			fail("duplicate_custom_id", "The custom_id for this request is a duplicate of another request. The custom_id parameter must be unique for each request in a batch.", no, "custom_id")
			continue
		}
		seen[*in.CustomID] = true
		var m struct {
			Model *string `json:"model"`
		}
		_ = json.Unmarshal(in.Body, &m)
		model := s.cfg.Model
		if m.Model != nil && *m.Model != "" {
			model = *m.Model
		}
		if b.model == "" {
			b.model = model
		} else if model != b.model {
			fail("model_mismatch", fmt.Sprintf("The model '%s' of this request differs from the model '%s' of the batch's other requests; a batch holds one model.", model, b.model), no, "body.model")
			continue
		}
		var buf bytes.Buffer
		_ = json.Compact(&buf, in.Body) // valid: it unmarshalled
		if c, aerr := ep.parse(buf.Bytes()); aerr == nil {
			b.tokens += c.cost()
		}
		b.lines = append(b.lines, &batchLine{customID: *in.CustomID, body: buf.Bytes()})
	}
	if len(b.errs) > 0 {
		b.lines = nil
		return
	}
	if lim := s.cfg.BatchTokenLimit; lim > 0 {
		var queued int64
		for _, o := range s.store.batchOrder {
			s.advanceBatch(o, now)
			if !o.terminal && o.model == b.model && len(o.errs) == 0 {
				queued += o.tokens
			}
		}
		if queued+b.tokens > lim {
			fail("token_limit_exceeded", fmt.Sprintf("Enqueued token limit reached for %s in organization org-sim. Limit: %d enqueued tokens. Please try again once some in_progress batches have been completed.", b.model, lim), 0, "")
			b.lines = nil
			return
		}
	}
	// The lines are answered in a shuffled order, evenly spread over the
	// processing time; the output and error files keep that order.
	for i := len(b.lines) - 1; i > 0; i-- {
		j := int(u64(digest(s.cfg.Seed, "batch_order", []byte(b.id), itob(i))) % uint64(i+1))
		b.lines[i], b.lines[j] = b.lines[j], b.lines[i]
	}
	validated, processed, _ := b.times(s.cfg.BatchDelay)
	span := processed.Sub(validated)
	for k, l := range b.lines {
		l.at = validated.Add(time.Duration(int64(span) * int64(k+1) / int64(len(b.lines))))
	}
}

// advanceBatch brings b up to now: answers the lines due, moves its status
// and, at its end, writes the output and error files. Called with amu
// held.
func (s *Server) advanceBatch(b *batch, now time.Time) {
	if b.terminal {
		return
	}
	d := s.cfg.BatchDelay
	validated, processed, done := b.times(d)
	var expireAt time.Time
	expires := false
	if e := s.cfg.BatchExpireAfter; e > 0 && b.created.Add(e).Before(done) {
		expireAt, expires = b.created.Add(e), true
	}
	cancelled := b.cancelAt != nil && (!expires || b.cancelAt.Before(expireAt))
	// stop is when processing stops, as far as now.
	stop := now
	if cancelled && b.cancelAt.Before(stop) {
		stop = *b.cancelAt
	}
	if expires && expireAt.Before(stop) {
		stop = expireAt
	}
	expired := expires && !now.Before(expireAt)
	if now.Before(validated) && !cancelled && !expired {
		return // validating
	}
	if len(b.errs) > 0 && !stop.Before(validated) {
		s.finishBatch(b, "failed", validated, "")
		return
	}
	if !stop.Before(validated) {
		b.inProgressAt = unixPtr(validated)
		b.status = "in_progress"
	}
	for b.next < len(b.lines) && !b.lines[b.next].at.After(stop) {
		s.answerLine(b, b.lines[b.next])
		b.next++
	}
	switch {
	case cancelled:
		b.status = "cancelling"
		if end := b.cancelAt.Add(d / 10); !now.Before(end) {
			s.finishBatch(b, "cancelled", end, "batch_cancelled")
		}
	case expired:
		s.finishBatch(b, "expired", expireAt, "batch_expired")
	case !now.Before(done):
		b.finalizingAt = unixPtr(processed)
		s.finishBatch(b, "completed", done, "")
	case !now.Before(processed):
		b.finalizingAt = unixPtr(processed)
		b.status = "finalizing"
	}
}

// unixPtr is t in Unix seconds, as a pointer.
func unixPtr(t time.Time) *int64 {
	u := t.Unix()
	return &u
}

// answerLine answers one batch line through the same per-request logic as
// the online endpoint (validation, the bad-request fault, the Incomplete
// fault's band, the answer), or the BatchFail share's 500, and bills a 200
// once. Rate limits and the other faults belong to the online path.
func (s *Server) answerLine(b *batch, l *batchLine) {
	c := &s.cfg
	ep := batchEndpoints[b.endpoint]
	sum := sha256.Sum256(l.body)
	status, body := http.StatusOK, []byte(nil)
	req, aerr := ep.parse(l.body)
	switch {
	case aerr != nil:
		status, body = aerr.status, aerr.body()
	case c.BadRequest > 0 && unit(digest(c.Seed, "bad_request", sum[:])) < c.BadRequest:
		status, body = http.StatusBadRequest, invalidRequest("Invalid request: the simulator rejects this request body on every attempt (bad-request fault).", "").body()
	case c.BatchFail > 0 && unit(digest(c.Seed, "batch_fail", []byte(b.id), []byte(l.customID))) < c.BatchFail:
		e := &apiError{status: http.StatusInternalServerError, typ: "server_error", message: "The server had an error while processing your request. Sorry about that!"}
		status, body = e.status, e.body()
	default:
		model := c.Model
		if m := req.modelName(); m != "" {
			model = m
		}
		incomplete := ep.incomplete && s.faultBand(unit(digest(c.Seed, "batch_fault", sum[:]))) == FaultIncomplete
		rep := req.reply(c, l.body, model, incomplete, l.at.Unix(), l.at.Unix())
		if kind := s.breakSchema(req, &rep, append([]byte(b.id+"\x00"), l.customID...)); kind != "" {
			s.store.batchStats.Broken++
		}
		body = rep.body
		b.usage.input += rep.usage.input
		b.usage.cached += rep.usage.cached
		b.usage.output += rep.usage.output
		b.usage.reasoning += rep.usage.reasoning
		st := &s.store.batchStats
		st.InputTokens += rep.usage.input
		st.OutputTokens += rep.usage.output
		s.store.billed[l.customID]++
	}
	s.store.batchStats.Lines++
	if status == http.StatusOK {
		b.completed++
		l.ok = true
	} else {
		b.failed++
		s.store.batchStats.LinesFailed++
	}
	// {"id","custom_id","response":{"status_code","request_id","body"},"error":null}
	cid, _ := json.Marshal(l.customID)
	l.out = fmt.Appendf(make([]byte, 0, len(body)+200), `{"id":"batch_req_%s","custom_id":%s,"response":{"status_code":%d,"request_id":"req_%s","body":%s},"error":null}`,
		hexID(digest(c.Seed, "batch_req", []byte(b.id), []byte(l.customID)), 16), cid, status,
		hexID(digest(c.Seed, "batch_req_id", []byte(b.id), []byte(l.customID)), 16), body)
}

// finishBatch ends b in status at time at: the lines not answered go to
// the error file with code (batch_expired, batch_cancelled), and the
// output and error files are written, each in the order the lines were
// answered. Called with amu held.
func (s *Server) finishBatch(b *batch, status string, at time.Time, code string) {
	b.status, b.terminal, b.endAt = status, true, unixPtr(at)
	st := &s.store.batchStats
	switch status {
	case "failed":
		st.Failed++
		return
	case "completed":
		st.Completed++
	case "expired":
		st.Expired++
	case "cancelled":
		st.Cancelled++
	}
	var out, errs bytes.Buffer
	n := 0
	for _, l := range b.lines[:b.next] {
		n += len(l.out) + 1
	}
	out.Grow(n)
	for _, l := range b.lines[:b.next] {
		dst := &errs
		if l.ok {
			dst = &out
		}
		dst.Write(l.out)
		dst.WriteByte('\n')
	}
	msg := "This request could not be executed before the completion window expired."
	if code == "batch_cancelled" {
		msg = "This request was not executed because the batch was cancelled."
	}
	for _, l := range b.lines[b.next:] {
		line, _ := json.Marshal(map[string]any{
			"id":        "batch_req_" + hexID(digest(s.cfg.Seed, "batch_req", []byte(b.id), []byte(l.customID)), 16),
			"custom_id": l.customID,
			"response":  nil,
			"error":     map[string]string{"code": code, "message": msg},
		})
		errs.Write(line)
		errs.WriteByte('\n')
	}
	if out.Len() > 0 {
		f := s.newFile(b.id+"_output.jsonl", "batch_output", out.Bytes(), at)
		b.outputFile = &f.id
	}
	if errs.Len() > 0 {
		f := s.newFile(b.id+"_error.jsonl", "batch_output", errs.Bytes(), at)
		b.errorFile = &f.id
	}
}

// object is b's Batch object.
func (b *batch) object() []byte {
	var errs any
	if len(b.errs) > 0 && b.status == "failed" {
		errs = map[string]any{"object": "list", "data": b.errs}
	}
	total := 0
	if b.inProgressAt != nil || b.terminal {
		total = len(b.lines)
	}
	var model any
	if b.model != "" {
		model = b.model
	}
	var metadata any
	if b.metadata != nil {
		metadata = b.metadata
	}
	at := func(status string) *int64 {
		if b.status == status {
			return b.endAt
		}
		return nil
	}
	var cancelling *int64
	if b.cancelAt != nil {
		cancelling = unixPtr(*b.cancelAt)
	}
	obj := map[string]any{
		"id":                b.id,
		"object":            "batch",
		"endpoint":          b.endpoint,
		"model":             model,
		"errors":            errs,
		"input_file_id":     b.inputFile,
		"completion_window": "24h",
		"status":            b.status,
		"output_file_id":    b.outputFile,
		"error_file_id":     b.errorFile,
		"created_at":        b.created.Unix(),
		"in_progress_at":    b.inProgressAt,
		"expires_at":        b.created.Add(24 * time.Hour).Unix(),
		"finalizing_at":     b.finalizingAt,
		"completed_at":      at("completed"),
		"failed_at":         at("failed"),
		"expired_at":        at("expired"),
		"cancelling_at":     cancelling,
		"cancelled_at":      at("cancelled"),
		"request_counts":    map[string]int{"total": total, "completed": b.completed, "failed": b.failed},
		"metadata":          metadata,
		"usage":             b.usage.shape(UsageOpenAI),
	}
	out, _ := json.Marshal(obj)
	return out
}

// listBatches answers GET /v1/batches?limit=N&after=ID: the batches,
// newest first, a page of limit (default 20, at most 100) after the batch
// named by after, as OpenAI pages them.
func (s *Server) listBatches(w http.ResponseWriter, r *http.Request, now time.Time) {
	s.writeStored(w, func() ([]byte, *apiError) {
		limit := 20
		if v := r.URL.Query().Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 100 {
				return nil, &apiError{status: http.StatusBadRequest, typ: "invalid_request_error",
					message: fmt.Sprintf("Invalid 'limit': %q: an integer from 1 to 100 is expected.", v)}
			}
			limit = n
		}
		all := make([]*batch, 0, len(s.store.batches))
		for _, b := range s.store.batches {
			all = append(all, b)
		}
		slices.SortFunc(all, func(a, b *batch) int {
			if c := b.created.Compare(a.created); c != 0 {
				return c
			}
			return strings.Compare(b.id, a.id)
		})
		if after := r.URL.Query().Get("after"); after != "" {
			i := slices.IndexFunc(all, func(b *batch) bool { return b.id == after })
			if i < 0 {
				return nil, notFound(fmt.Sprintf("No such batch: %s", after), "after")
			}
			all = all[i+1:]
		}
		more := len(all) > limit
		all = all[:min(limit, len(all))]
		data := make([]json.RawMessage, len(all))
		for i, b := range all {
			s.advanceBatch(b, now)
			data[i] = b.object()
		}
		page := map[string]any{"object": "list", "data": data, "has_more": more}
		if len(all) > 0 {
			page["first_id"], page["last_id"] = all[0].id, all[len(all)-1].id
		}
		out, _ := json.Marshal(page)
		return out, nil
	})
}

// getBatch answers GET /v1/batches/{id}.
func (s *Server) getBatch(w http.ResponseWriter, id string, now time.Time) {
	s.writeStored(w, func() ([]byte, *apiError) {
		b := s.store.batches[id]
		if b == nil {
			return nil, notFound(fmt.Sprintf("No such batch: %s", id), "batch_id")
		}
		s.advanceBatch(b, now)
		return b.object(), nil
	})
}

// cancelBatch answers POST /v1/batches/{id}/cancel: a batch not yet ended
// is cancelling, then cancelled with partial results; cancelling one
// already cancelling answers it again; an ended batch is a 409, as OpenAI
// answers.
func (s *Server) cancelBatch(w http.ResponseWriter, id string, now time.Time) {
	s.writeStored(w, func() ([]byte, *apiError) {
		b := s.store.batches[id]
		if b == nil {
			return nil, notFound(fmt.Sprintf("No such batch: %s", id), "batch_id")
		}
		s.advanceBatch(b, now)
		if b.terminal {
			return nil, &apiError{status: http.StatusConflict, typ: "invalid_request_error",
				message: fmt.Sprintf("Cannot cancel a batch with status '%s'.", b.status)}
		}
		if b.cancelAt == nil {
			t := now
			b.cancelAt = &t
			s.advanceBatch(b, now)
		}
		return b.object(), nil
	})
}

// writeStored runs f with amu held and writes its 200 body or its error
// after releasing it.
func (s *Server) writeStored(w http.ResponseWriter, f func() ([]byte, *apiError)) {
	s.amu.Lock()
	b, e := f()
	s.amu.Unlock()
	if e != nil {
		s.writeError(w, e)
		return
	}
	s.writeOther(w, http.StatusOK, b)
}
