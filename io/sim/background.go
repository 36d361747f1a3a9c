package sim

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// BackgroundStats counts background responses.
type BackgroundStats struct {
	Created int `json:"created"` // responses created (POST /v1/responses with background: true answered 200, truncated answers included)
	Gets    int `json:"gets"`    // authenticated GET /v1/responses/{id} calls, whatever their answer (injected faults and 404s included): the polling load
	Cancels int `json:"cancels"` // authenticated POST /v1/responses/{id}/cancel calls, whatever their answer
	// Final states reached. Completed and Incomplete responses are billed.
	Completed  int `json:"completed"`
	Incomplete int `json:"incomplete"`
	Failed     int `json:"failed"`
	Cancelled  int `json:"cancelled"`
	// Expired counts responses removed from storage (Config.BackgroundExpireAfter).
	Expired      int   `json:"expired"`
	InputTokens  int64 `json:"input_tokens"`
	OutputTokens int64 `json:"output_tokens"`
}

// store holds the objects the stateful routes keep: background responses,
// files and batches, and what they count. Guarded by Server.amu.
type store struct {
	bg        map[string]*bgJob
	creations map[string]int // background creations per row (Creations)
	bgStats   BackgroundStats

	files      int // uploads (Stats.Files)
	fileObjs   map[string]*file
	uploads    map[string]int // uploads per content SHA-256
	batches    map[string]*batch
	batchOrder []*batch       // in creation order, for settleAll
	byFile     map[string]int // batch creations per input_file_id
	billed     map[string]int // billed batch lines per custom_id
	batchStats BatchStats

	calls int // calls to the stateful routes, for fault draws
	ids   int // objects created, for their ids
}

func newStore() store {
	return store{
		bg:        map[string]*bgJob{},
		creations: map[string]int{},
		fileObjs:  map[string]*file{},
		uploads:   map[string]int{},
		batches:   map[string]*batch{},
		byFile:    map[string]int{},
		billed:    map[string]int{},
	}
}

// bgJob is one background response. Its state is a function of the clock:
// queued for the first half of its delay, in_progress for the second,
// then final (completed, incomplete or failed), unless cancelled first.
type bgJob struct {
	id      string
	key     string // the body's hex SHA-256 (Stats.PerBody)
	sync    []byte // the synchronous answer to the same body
	rep     reply  // its usage
	fail    bool   // ends failed
	created time.Time
	due     time.Time  // when it reaches its final state
	cancel  *time.Time // when it was cancelled, if before due
	settled bool       // its final state has been counted (and billed)
}

// final is the job's final status, ignoring cancellation.
func (j *bgJob) final() string {
	switch {
	case j.fail:
		return "failed"
	case j.rep.completed:
		return "completed"
	}
	return "incomplete"
}

// status is the job's status at t.
func (j *bgJob) status(t time.Time) string {
	switch {
	case j.cancel != nil:
		return "cancelled"
	case !t.Before(j.due):
		return j.final()
	case t.Before(j.created.Add(j.due.Sub(j.created) / 2)):
		return "queued"
	}
	return "in_progress"
}

// ended is when the job reached its final state, if it has by t.
func (j *bgJob) ended(t time.Time) (time.Time, bool) {
	if j.cancel != nil {
		return *j.cancel, true
	}
	return j.due, !t.Before(j.due)
}

// object is the Response object of j at t: the synchronous answer's
// object with the background fields, and output and usage only once
// completed or incomplete.
func (j *bgJob) object(t time.Time) []byte {
	st := j.status(t)
	kv := map[string]any{
		"id":         j.id,
		"status":     st,
		"background": true,
		"created_at": j.created.Unix(),
	}
	switch st {
	case "completed":
		kv["completed_at"] = j.due.Unix()
	case "incomplete":
	case "failed":
		kv["error"] = map[string]string{"code": "server_error", "message": "The model failed to generate a response (simulated background failure)."}
		fallthrough
	default:
		kv["completed_at"] = nil
		kv["incomplete_details"] = nil
		kv["output"] = []any{}
		kv["usage"] = nil
	}
	return patchObject(j.sync, kv)
}

// patchObject sets top-level fields of the JSON object b.
func patchObject(b []byte, kv map[string]any) []byte {
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) != nil {
		m = map[string]json.RawMessage{}
	}
	for k, v := range kv {
		m[k], _ = json.Marshal(v)
	}
	out, _ := json.Marshal(m)
	return out
}

// stripMembers is the JSON object body, compacted, without its top-level
// members named in names; the other members keep their order. A body
// that is not an object is returned as is.
func stripMembers(body []byte, names ...string) []byte {
	dec := json.NewDecoder(bytes.NewReader(body))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return body
	}
	var buf bytes.Buffer
	buf.WriteByte('{')
	for n := 0; dec.More(); {
		t, err := dec.Token()
		key, ok := t.(string)
		var v json.RawMessage
		if err != nil || !ok || dec.Decode(&v) != nil {
			return body
		}
		if slices.Contains(names, key) {
			continue
		}
		if n > 0 {
			buf.WriteByte(',')
		}
		n++
		k, _ := json.Marshal(key)
		buf.Write(k)
		buf.WriteByte(':')
		if json.Compact(&buf, v) != nil {
			return body
		}
	}
	buf.WriteByte('}')
	return buf.Bytes()
}

// rowKey is what Creations counts a background response under: the
// request's input, the string itself for a string input, else its compact
// JSON.
func rowKey(req *request) string {
	if firstByte(req.Input) == '"' {
		var s string
		if json.Unmarshal(req.Input, &s) == nil {
			return s
		}
	}
	var buf bytes.Buffer
	if json.Compact(&buf, req.Input) == nil {
		return buf.String()
	}
	return string(req.Input)
}

// createBackground stores a background response for a request admitted
// with the 200 o and the synchronous answer rep, and turns o into the
// queued object. Nothing is billed now: usage counts when the response
// reaches its final state (settle). A malformed fault still creates the
// response; only the answer is cut.
func (s *Server) createBackground(o outcome, body []byte, req *request, rep reply, draw [sha256.Size]byte, now time.Time) outcome {
	c := &s.cfg
	delay := c.BackgroundDelay
	if c.BackgroundJitter > 0 {
		delay += time.Duration(unit(digest(c.Seed, "bg_jitter", draw[:])) * float64(c.BackgroundJitter))
	}
	j := &bgJob{
		id:      "resp_" + hexID(digest(c.Seed, "resp_bg", draw[:]), 24),
		key:     hexSHA(body),
		sync:    rep.body,
		rep:     rep,
		fail:    c.BackgroundFail > 0 && unit(digest(c.Seed, "bg_fail", draw[:])) < c.BackgroundFail,
		created: now,
		due:     now.Add(delay),
	}
	s.amu.Lock()
	s.store.bg[j.id] = j
	s.store.creations[rowKey(req)]++
	s.store.bgStats.Created++
	o.body = j.object(now.Add(-time.Nanosecond)) // queued, even with no delay
	s.amu.Unlock()
	o.truncate = o.fault == FaultMalformed
	return o
}

// settleBackground counts and bills j's final state if it has reached it
// by now, once, and removes it from storage once expired. It reports
// whether j is still stored. Called with amu held.
func (s *Server) settleBackground(j *bgJob, now time.Time) bool {
	end, ok := j.ended(now)
	if !ok {
		return true
	}
	if !j.settled {
		j.settled = true
		st := &s.store.bgStats
		switch j.status(now) {
		case "cancelled":
			st.Cancelled++
		case "failed":
			st.Failed++
		default:
			if j.rep.completed {
				st.Completed++
			} else {
				st.Incomplete++
			}
			st.InputTokens += j.rep.usage.input
			st.OutputTokens += j.rep.usage.output
			s.mu.Lock()
			es := s.endpoints[EndpointResponses]
			if j.rep.completed {
				s.completed++
				es.Completed++
				if c := s.perBody[j.key]; c != nil {
					c[1]++
				}
			}
			s.inTok += j.rep.usage.input
			s.outTok += j.rep.usage.output
			es.InputTokens += j.rep.usage.input
			es.OutputTokens += j.rep.usage.output
			s.mu.Unlock()
		}
	}
	if e := s.cfg.BackgroundExpireAfter; e > 0 && !now.Before(end.Add(e)) {
		delete(s.store.bg, j.id)
		s.store.bgStats.Expired++
		return false
	}
	return true
}

// settleAll brings every stored background response and batch up to now.
// Called with amu held.
func (s *Server) settleAll(now time.Time) {
	for _, j := range s.store.bg {
		s.settleBackground(j, now)
	}
	for _, b := range s.store.batchOrder {
		s.advanceBatch(b, now)
	}
}

// Creations returns how many background responses this server created for
// each row, keyed by the request's input: the string itself for a string
// input, else the input's compact JSON. A row created twice (e.g. resent
// after a crash instead of polled) shows a count above 1. The map is the
// caller's.
func (s *Server) Creations() map[string]int {
	s.amu.Lock()
	defer s.amu.Unlock()
	m := make(map[string]int, len(s.store.creations))
	for k, v := range s.store.creations {
		m[k] = v
	}
	return m
}

// notFound is the 404 of a stored object that does not exist.
func notFound(msg, param string) *apiError {
	return &apiError{status: http.StatusNotFound, typ: "invalid_request_error", message: msg, param: param}
}

// lockResponse takes s.amu and returns the background response id, or
// answers 404, releases s.amu and returns nil when there is none (or it
// expired).
func (s *Server) lockResponse(w http.ResponseWriter, id string, now time.Time) *bgJob {
	s.amu.Lock()
	j := s.store.bg[id]
	if j == nil || !s.settleBackground(j, now) {
		s.amu.Unlock()
		s.writeError(w, notFound(fmt.Sprintf("Response with id '%s' not found.", id), ""))
		return nil
	}
	return j
}

// getResponse answers GET /v1/responses/{id}.
func (s *Server) getResponse(w http.ResponseWriter, id string, now time.Time) {
	j := s.lockResponse(w, id, now)
	if j == nil {
		return
	}
	b := j.object(now)
	s.amu.Unlock()
	s.writeOther(w, http.StatusOK, b)
}

// cancelResponse answers POST /v1/responses/{id}/cancel: a queued or
// in_progress response is cancelled (nothing billed); cancelling a
// cancelled one answers it again; a completed, incomplete or failed one
// is a 400, as OpenAI answers.
func (s *Server) cancelResponse(w http.ResponseWriter, id string, now time.Time) {
	j := s.lockResponse(w, id, now)
	if j == nil {
		return
	}
	switch st := j.status(now); st {
	case "queued", "in_progress":
		t := now
		j.cancel = &t
		s.settleBackground(j, now)
	case "cancelled":
	default:
		s.amu.Unlock()
		msg := fmt.Sprintf("Cannot cancel a %s response.", st)
		if st == "incomplete" {
			msg = "Cannot cancel a response in terminal state."
		}
		s.writeError(w, invalidRequest(msg, "response_id"))
		return
	}
	b := j.object(now)
	s.amu.Unlock()
	s.writeOther(w, http.StatusOK, b)
}

// serveStored answers the routes of stored objects and reports whether the
// request was one of theirs: GET /v1/responses/{id}, POST
// /v1/responses/{id}/cancel, POST /v1/files, GET /v1/files/{id} and
// /v1/files/{id}/content, DELETE /v1/files/{id}, POST /v1/batches, GET /v1/batches/{id} and POST
// /v1/batches/{id}/cancel (each also without /v1). Each call is
// authenticated like the API routes and may draw an injected 429 or 5xx
// (Config.RateLimit, Config.ServerError), which changes nothing stored.
func (s *Server) serveStored(w http.ResponseWriter, r *http.Request) bool {
	p := r.URL.Path
	if strings.HasPrefix(p, "/v1/") {
		p = p[3:]
	}
	seg := strings.Split(strings.Trim(p, "/"), "/")
	var (
		method string
		serve  func(now time.Time)
		count  *int // the call's counter in Stats.Background, if any
	)
	switch {
	case len(seg) == 2 && seg[0] == "responses" && !s.cfg.NoResponses:
		method, serve = http.MethodGet, func(now time.Time) { s.getResponse(w, seg[1], now) }
		count = &s.store.bgStats.Gets
	case len(seg) == 3 && seg[0] == "responses" && seg[2] == "cancel" && !s.cfg.NoResponses:
		method, serve = http.MethodPost, func(now time.Time) { s.cancelResponse(w, seg[1], now) }
		count = &s.store.bgStats.Cancels
	case len(seg) == 1 && seg[0] == "files":
		method, serve = http.MethodPost, func(now time.Time) { s.uploadFile(w, r, now) }
	case len(seg) == 2 && seg[0] == "files" && r.Method == http.MethodDelete:
		method, serve = http.MethodDelete, func(time.Time) { s.deleteFile(w, seg[1]) }
	case len(seg) == 2 && seg[0] == "files":
		method, serve = http.MethodGet, func(time.Time) { s.getFile(w, seg[1], false) }
	case len(seg) == 3 && seg[0] == "files" && seg[2] == "content":
		method, serve = http.MethodGet, func(time.Time) { s.getFile(w, seg[1], true) }
	case len(seg) == 1 && seg[0] == "batches" && r.Method == http.MethodGet:
		method, serve = http.MethodGet, func(now time.Time) { s.listBatches(w, r, now) }
	case len(seg) == 1 && seg[0] == "batches":
		method, serve = http.MethodPost, func(now time.Time) { s.createBatch(w, r, now) }
	case len(seg) == 2 && seg[0] == "batches":
		method, serve = http.MethodGet, func(now time.Time) { s.getBatch(w, seg[1], now) }
	case len(seg) == 3 && seg[0] == "batches" && seg[2] == "cancel":
		method, serve = http.MethodPost, func(now time.Time) { s.cancelBatch(w, seg[1], now) }
	default:
		return false
	}
	if r.Method != method {
		w.Header().Set("Allow", method)
		s.writeError(w, &apiError{status: http.StatusMethodNotAllowed, typ: "invalid_request_error",
			message: fmt.Sprintf("Method %s is not allowed on %s; use %s.", r.Method, r.URL.Path, method)})
		return true
	}
	if e := s.authError(r); e != nil {
		s.writeError(w, e)
		return true
	}
	if count != nil {
		s.amu.Lock()
		*count++
		s.amu.Unlock()
	}
	now := s.now()
	if o := s.storedFault(now); o != nil {
		h := w.Header()
		for k, v := range o.header {
			h[k] = v
		}
		s.writeOther(w, o.status, o.body)
		return true
	}
	serve(now)
	return true
}

// storedFault draws the injected 429 or 5xx of a call to a stored-object
// route, from (Seed, the number of such calls before it), or returns nil.
func (s *Server) storedFault(now time.Time) *outcome {
	c := &s.cfg
	if c.RateLimit == 0 && c.ServerError == 0 {
		return nil
	}
	s.amu.Lock()
	n := s.store.calls
	s.store.calls++
	s.amu.Unlock()
	draw := digest(c.Seed, "stored_fault", itob(n))
	var o outcome
	switch s.faultBand(unit(draw)) {
	case FaultRateLimit:
		o = s.rateLimited(&denial{dimension: "requests", limit: 500, used: 500, requested: 1, wait: c.RetryAfter}, c.Model, now, nil)
		o.fault = FaultRateLimit
	case FaultServerError:
		o = s.success(nil, nil, "", FaultServerError, draw, now)
	default:
		return nil
	}
	s.mu.Lock()
	s.faults[o.fault]++
	s.mu.Unlock()
	return &o
}
