package sim

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// MaxBodyBytes is the largest request body a Server reads; a larger one is
// answered 413.
const MaxBodyBytes = 32 << 20

// StatusNoAnswer is the Stats.ByStatus key of attempts that got no HTTP
// answer: connection resets, and requests cut off by Close.
const StatusNoAnswer = 0

// StatusClientClosed is the Stats.ByStatus key of requests whose client went
// away (cancelled its context) before the answer was due, as nginx's 499.
const StatusClientClosed = 499

// Fault names, the keys of Stats.Faults.
const (
	FaultRateLimit   = "rate_limit"   // injected 429 rate_limit_exceeded (Config.RateLimit)
	FaultServerError = "server_error" // injected 500/502/503
	FaultReset       = "reset"        // connection reset
	FaultMalformed   = "malformed"    // 200 with a truncated JSON body
	FaultIncomplete  = "incomplete"   // injected status "incomplete"
	FaultSlow        = "slow"         // answer delayed by SlowDelay
	FaultBadRequest  = "bad_request"  // injected 400
	FaultQuota       = "quota"        // 429 insufficient_quota (Config.QuotaAfter)
	LimitRPM         = "rpm"          // 429 from the requests-per-minute limit
	LimitTPM         = "tpm"          // 429 from the tokens-per-minute limit
)

// errClosed ends a wait when the Server is closed.
var errClosed = errors.New("sim: server closed")

// Server is a simulated OpenAI-compatible server: POST /v1/responses,
// /v1/chat/completions and /v1/embeddings. It is an http.Handler and
// can also listen by itself (Start). It is safe for concurrent use. Create
// one with New.
type Server struct {
	cfg Config
	now func() time.Time // the limiter's and timestamps' clock; a test seam
	// maxBody is MaxBodyBytes; a test seam.
	maxBody int64
	lim     *limiter
	done    chan struct{} // closed by Close; ends every wait

	closeOnce sync.Once

	mu        sync.Mutex
	hs        *http.Server  // set by Start
	served    chan struct{} // closed when hs.Serve returns
	closed    bool
	requests  int
	others    int // answers outside the API routes, for their request ids
	byStatus  map[int]int
	completed int
	inTok     int64
	outTok    int64
	perBody   map[string]*[2]int
	faults    map[string]int
	admitted  int // requests that reached the quota check
	endpoints map[string]*EndpointStats

	// amu guards the stored objects: background responses, files and
	// batches (background.go, batch.go). Lock order: amu before mu.
	amu   sync.Mutex
	store store
}

// New returns a Server for cfg. Zero-valued fields get their documented
// defaults and out-of-range values are clamped (see Config.Validate).
func New(cfg Config) *Server {
	cfg = cfg.normalized()
	return &Server{
		cfg:      cfg,
		now:      time.Now,
		maxBody:  MaxBodyBytes,
		lim:      newLimiter(cfg.RPM, cfg.TPM, cfg.StartEmpty),
		done:     make(chan struct{}),
		byStatus: map[int]int{},
		perBody:  map[string]*[2]int{},
		faults:   map[string]int{},
		endpoints: map[string]*EndpointStats{
			EndpointResponses:  {},
			EndpointChat:       {},
			EndpointEmbeddings: {},
		},
		store: newStore(),
	}
}

// Start listens on addr (e.g. "127.0.0.1:0"; "" means that) and serves in
// the background until Close. It returns the base URL clients use, e.g.
// "http://127.0.0.1:41234/v1" (requests then go to BASE/responses,
// BASE/chat/completions and BASE/embeddings). A Server can be started once.
func (s *Server) Start(addr string) (baseURL string, err error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return "", errClosed
	case s.hs != nil:
		return "", errors.New("sim: server already started")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("sim: listen: %w", err)
	}
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0), // libraries never print
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = hs.Serve(ln) // always ErrServerClosed after Close
	}()
	s.hs, s.served = hs, served
	return "http://" + ln.Addr().String() + "/v1", nil
}

// Close stops the listener started by Start and closes its connections.
// Handlers still waiting (latency, slow answers) end at once, their
// connections closed without an answer. Close returns when the server's
// goroutines have ended. It is safe to call more than once, and on a
// Server that was never started.
func (s *Server) Close() error {
	s.closeOnce.Do(func() { close(s.done) })
	s.mu.Lock()
	hs, served := s.hs, s.served
	s.hs, s.closed = nil, true
	s.mu.Unlock()
	if hs == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	err := hs.Shutdown(ctx)
	if err != nil {
		err = hs.Close()
	}
	<-served
	return err
}

// Stats is a snapshot of what a Server has received and answered. Requests,
// ByStatus and the totals count requests to the API routes (responses, chat
// completions, embeddings) together; Endpoints splits them by route.
type Stats struct {
	// Requests counts requests to the API routes: POST /v1/responses,
	// /v1/chat/completions and /v1/embeddings (also without /v1).
	Requests int `json:"requests"`
	// ByStatus maps an HTTP status to a count. StatusNoAnswer (0) counts
	// resets; StatusClientClosed (499) counts requests the client
	// abandoned.
	ByStatus map[int]int `json:"by_status"`
	// Completed counts whole 200 answers that are complete: a response
	// with status "completed", a chat completion whose every choice has
	// finish_reason "stop", any embeddings answer. A truncated body is not
	// one.
	Completed int `json:"completed"`
	// InputTokens and OutputTokens sum the usage of the 200 answers whose
	// body was whole (including incomplete ones, which are billed).
	InputTokens  int64 `json:"input_tokens"`
	OutputTokens int64 `json:"output_tokens"`
	// PerBody maps the hex SHA-256 of a body to [requests, completed].
	PerBody map[string][2]int `json:"per_body"`
	// Faults counts injected faults and limit refusals by name (Fault*,
	// LimitRPM, LimitTPM).
	Faults map[string]int `json:"faults"`
	// Endpoints splits Requests, Completed and the tokens by route; the
	// keys are EndpointResponses, EndpointChat and EndpointEmbeddings, all
	// three always present.
	Endpoints map[string]EndpointStats `json:"endpoints"`
	// Background counts background responses (POST /v1/responses with
	// "background": true). Their creation calls are requests like any
	// other; their usage is billed once, when they reach a final state,
	// into the totals above, Completed and Endpoints["responses"].
	Background BackgroundStats `json:"background"`
	// Files counts files uploaded (POST /v1/files answered 200).
	Files int `json:"files"`
	// Batches counts batches and their lines. Batch lines are not
	// requests: their usage is billed here only, never in the totals above.
	Batches BatchStats `json:"batches"`
	// The per-key counts of Server.Creations, Uploads, BatchCreations and
	// BatchBilled, for a client that reads Stats from GET /_sim/stats.
	Creations      map[string]int `json:"creations"`
	Uploads        map[string]int `json:"uploads"`
	BatchCreations map[string]int `json:"batch_creations"`
	BatchBilled    map[string]int `json:"batch_billed"`
}

// EndpointStats counts one route's requests and billed tokens.
type EndpointStats struct {
	Requests     int   `json:"requests"`
	Completed    int   `json:"completed"`
	InputTokens  int64 `json:"input_tokens"`
	OutputTokens int64 `json:"output_tokens"`
}

// Stats returns a snapshot. The maps are the caller's. Background
// responses and batches whose time has come are brought up to date first,
// so their usage is billed by the clock, whether or not a client polled.
func (s *Server) Stats() Stats {
	s.amu.Lock()
	s.settleAll(s.now())
	st := Stats{
		Background:     s.store.bgStats,
		Files:          s.store.files,
		Batches:        s.store.batchStats,
		Creations:      maps(s.store.creations),
		Uploads:        maps(s.store.uploads),
		BatchCreations: maps(s.store.byFile),
		BatchBilled:    maps(s.store.billed),
	}
	s.amu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	st.Requests, st.Completed = s.requests, s.completed
	st.InputTokens, st.OutputTokens = s.inTok, s.outTok
	st.ByStatus = make(map[int]int, len(s.byStatus))
	st.PerBody = make(map[string][2]int, len(s.perBody))
	st.Faults = make(map[string]int, len(s.faults))
	st.Endpoints = make(map[string]EndpointStats, len(s.endpoints))
	for k, v := range s.endpoints {
		st.Endpoints[k] = *v
	}
	for k, v := range s.byStatus {
		st.ByStatus[k] = v
	}
	for k, v := range s.perBody {
		st.PerBody[k] = *v
	}
	for k, v := range s.faults {
		st.Faults[k] = v
	}
	return st
}

// Count reports, for one request body (hex SHA-256 of the exact body
// bytes), how many requests this server received and how many it answered
// with a complete 200 (see Stats.Completed), on any route.
func (s *Server) Count(bodySHA256 string) (requests, completed int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.perBody[strings.ToLower(bodySHA256)]; c != nil {
		return c[0], c[1]
	}
	return 0, 0
}

// ServeHTTP implements http.Handler. Routes: POST /v1/responses, POST
// /v1/chat/completions and POST /v1/embeddings (each also without /v1);
// the stored-object routes of background responses, files and batches
// (see the package doc); GET /_sim/stats (also under /v1) returns Stats as
// JSON. Anything else is 404, as is /v1/responses with Config.NoResponses;
// another method on a route is 405. A reset fault hijacks the connection; where the
// ResponseWriter cannot be hijacked (HTTP/2, a recorder), ServeHTTP panics
// with http.ErrAbortHandler instead, which net/http turns into an aborted
// stream.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.serveStored(w, r) {
		return
	}
	var ep *endpoint
	switch r.URL.Path {
	case "/v1/responses", "/responses":
		if !s.cfg.NoResponses {
			ep = responsesAPI
		}
	case "/v1/chat/completions", "/chat/completions":
		ep = chatAPI
	case "/v1/embeddings", "/embeddings":
		ep = embeddingsAPI
	case "/_sim/stats", "/v1/_sim/stats":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			s.writeError(w, &apiError{status: http.StatusMethodNotAllowed, typ: "invalid_request_error",
				message: fmt.Sprintf("Method %s is not allowed on %s; use GET.", r.Method, r.URL.Path)})
			return
		}
		b, _ := json.Marshal(s.Stats())
		s.writeOther(w, http.StatusOK, b)
		return
	}
	switch {
	case ep == nil:
		s.writeError(w, &apiError{status: http.StatusNotFound, typ: "invalid_request_error",
			message: fmt.Sprintf("Invalid URL (%s %s)", r.Method, r.URL.Path)})
	case r.Method != http.MethodPost:
		w.Header().Set("Allow", http.MethodPost)
		s.writeError(w, &apiError{status: http.StatusMethodNotAllowed, typ: "invalid_request_error",
			message: fmt.Sprintf("Method %s is not allowed on %s; use POST.", r.Method, r.URL.Path)})
	default:
		s.serveAPI(w, r, ep)
	}
}

// writeOther writes an answer outside the API routes, with the
// headers every answer carries.
func (s *Server) writeOther(w http.ResponseWriter, status int, body []byte) {
	s.mu.Lock()
	s.others++
	n := s.others
	s.mu.Unlock()
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("x-request-id", "req_"+hexID(digest(s.cfg.Seed, "req-other", itob(n)), 16))
	h.Set("openai-processing-ms", "0")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeError is writeOther for an error.
func (s *Server) writeError(w http.ResponseWriter, e *apiError) { s.writeOther(w, e.status, e.body()) }

// outcome is the decided answer to one attempt.
type outcome struct {
	status    int
	body      []byte
	header    http.Header // extra headers
	reset     bool        // close the connection with no answer
	truncate  bool        // cut the body in half
	extra     time.Duration
	completed bool   // a complete 200 (see Stats.Completed)
	tokens    *usage // usage to add to the totals
	fault     string // a Fault* or Limit* name, or ""
	requestID string
}

// serveAPI answers one request to ep's route.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request, ep *endpoint) {
	start := time.Now()
	now := s.now()
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBody))
	var (
		key     string
		attempt int
		o       outcome
	)
	if err != nil {
		var mbe *http.MaxBytesError
		n := s.begin(ep, "")
		if !errors.As(err, &mbe) {
			// The client went away while sending.
			s.record(ep, "", StatusClientClosed, outcome{})
			return
		}
		o = s.errorOutcome(&apiError{status: http.StatusRequestEntityTooLarge, typ: "invalid_request_error", code: "request_too_large",
			message: fmt.Sprintf("Request body too large: the limit is %d bytes.", s.maxBody)}, now)
		o.requestID = "req_" + hexID(digest(s.cfg.Seed, "req-anon", itob(n)), 16)
	} else {
		sum := sha256.Sum256(body)
		key = hex.EncodeToString(sum[:])
		attempt = s.begin(ep, key)
		o = s.decide(r, ep, body, sum, attempt, now)
		o.requestID = "req_" + hexID(digest(s.cfg.Seed, "req", sum[:], itob(attempt)), 16)
	}

	delay := s.cfg.Latency + o.extra
	if j := s.cfg.LatencyJitter; j > 0 {
		delay += time.Duration(unit(digest(s.cfg.Seed, "jitter", []byte(key), itob(attempt))) * float64(j))
	}
	if err := s.sleep(r.Context(), delay); err != nil {
		if errors.Is(err, errClosed) {
			s.record(ep, key, StatusNoAnswer, outcome{})
			panic(http.ErrAbortHandler) // closes the connection without an answer
		}
		s.record(ep, key, StatusClientClosed, outcome{})
		return
	}
	if o.reset {
		s.record(ep, key, StatusNoAnswer, o)
		resetConnection(w)
		return
	}
	s.record(ep, key, o.status, o)

	h := w.Header()
	for k, v := range o.header {
		h[k] = v
	}
	h.Set("Content-Type", "application/json")
	h.Set("x-request-id", o.requestID)
	h.Set("openai-processing-ms", strconv.FormatInt(time.Since(start).Milliseconds(), 10))
	b := o.body
	if o.truncate {
		b = b[:len(b)/2]
	}
	w.WriteHeader(o.status)
	_, _ = w.Write(b)
}

// begin counts a request to ep and returns how many times this server had
// seen the body before. An empty key (unread body) counts only in the
// totals.
func (s *Server) begin(ep *endpoint, key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	s.endpoints[ep.name].Requests++
	if key == "" {
		return s.requests
	}
	c := s.perBody[key]
	if c == nil {
		c = new([2]int)
		s.perBody[key] = c
	}
	c[0]++
	return c[0] - 1
}

// record counts an answer (or its absence) to ep under status.
func (s *Server) record(ep *endpoint, key string, status int, o outcome) {
	s.mu.Lock()
	defer s.mu.Unlock()
	es := s.endpoints[ep.name]
	s.byStatus[status]++
	if o.fault != "" {
		s.faults[o.fault]++
	}
	if o.completed && status == http.StatusOK {
		s.completed++
		es.Completed++
		if c := s.perBody[key]; c != nil {
			c[1]++
		}
	}
	if o.tokens != nil && status == http.StatusOK {
		s.inTok += o.tokens.input
		s.outTok += o.tokens.output
		es.InputTokens += o.tokens.input
		es.OutputTokens += o.tokens.output
	}
}

// overQuota counts a request against QuotaAfter and reports whether it is
// past it.
func (s *Server) overQuota() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.admitted++
	return s.cfg.QuotaAfter > 0 && s.admitted > s.cfg.QuotaAfter
}

// sleep waits d, or until ctx is done or the server is closed.
func (s *Server) sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-s.done:
		return errClosed
	}
}

// resetConnection closes the client's connection with no answer, with
// SO_LINGER 0 so that the peer sees a reset rather than an orderly close
// where the platform allows.
func resetConnection(w http.ResponseWriter) {
	rc := http.NewResponseController(w)
	conn, _, err := rc.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler) // e.g. HTTP/2: abort the stream instead
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// authorized reports whether the Authorization header carries key, as
// "Bearer KEY" or the bare KEY.
func authorized(header, key string) bool {
	if len(header) > 7 && strings.EqualFold(header[:7], "bearer ") {
		if subtle.ConstantTimeCompare([]byte(strings.TrimSpace(header[7:])), []byte(key)) == 1 {
			return true
		}
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(header)), []byte(key)) == 1
}

// authError is the 401 for a request that does not carry Config.APIKey
// (when set), or nil.
func (s *Server) authError(r *http.Request) *apiError {
	if s.cfg.APIKey == "" {
		return nil
	}
	switch h := r.Header.Get("Authorization"); {
	case h == "":
		return &apiError{status: http.StatusUnauthorized, typ: "invalid_request_error", code: "invalid_api_key",
			message: "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."}
	case !authorized(h, s.cfg.APIKey):
		return &apiError{status: http.StatusUnauthorized, typ: "invalid_request_error", code: "invalid_api_key",
			message: "Incorrect API key provided. Check the key your client sends in the Authorization header."}
	}
	return nil
}

// faultBand maps a uniform draw to the fault whose band it falls in, or "".
func (s *Server) faultBand(u float64) string {
	c := &s.cfg
	acc := 0.0
	for _, b := range []struct {
		p    float64
		name string
	}{
		{c.RateLimit, FaultRateLimit},
		{c.ServerError, FaultServerError},
		{c.Reset, FaultReset},
		{c.Malformed, FaultMalformed},
		{c.Incomplete, FaultIncomplete},
		{c.Slow, FaultSlow},
	} {
		acc += b.p
		if u < acc {
			return b.name
		}
	}
	return ""
}

// decide answers one attempt to ep: authentication, validation, the
// bad-request fault, the quota, the injected rate limit, the RPM/TPM
// limits, then the other faults, in that order. Only validation and the
// success body depend on the endpoint.
func (s *Server) decide(r *http.Request, ep *endpoint, body []byte, sum [sha256.Size]byte, attempt int, now time.Time) outcome {
	c := &s.cfg
	if e := s.authError(r); e != nil {
		return s.errorOutcome(e, now)
	}
	req, aerr := ep.parse(body)
	if aerr != nil {
		return s.errorOutcome(aerr, now)
	}
	model := c.Model
	if m := req.modelName(); m != "" {
		model = m
	}
	if c.BadRequest > 0 && unit(digest(c.Seed, "bad_request", sum[:])) < c.BadRequest {
		o := s.errorOutcome(invalidRequest("Invalid request: the simulator rejects this request body on every attempt (bad-request fault).", ""), now)
		o.fault = FaultBadRequest
		return o
	}
	if s.overQuota() {
		o := s.errorOutcome(&apiError{status: http.StatusTooManyRequests, typ: "insufficient_quota", code: "insufficient_quota",
			message: "You exceeded your current quota, please check your plan and billing details."}, now)
		o.fault = FaultQuota
		return o
	}

	draw := digest(c.Seed, "fault", sum[:], itob(attempt))
	fault := s.faultBand(unit(draw))
	if fault == FaultIncomplete && !ep.incomplete {
		fault = ""
	}
	if fault == FaultRateLimit {
		limit := c.RPM
		if limit == 0 {
			limit = 500
		}
		o := s.rateLimited(&denial{dimension: "requests", limit: limit, used: limit, requested: 1, wait: c.RetryAfter}, model, now, nil)
		o.fault = FaultRateLimit
		return o
	}
	if s.lim.enabled() {
		d, lims := s.lim.take(now, req.cost())
		if d != nil {
			o := s.rateLimited(d, model, now, &lims)
			o.fault = LimitRPM
			if d.dimension == "tokens" {
				o.fault = LimitTPM
			}
			return o
		}
		o := s.success(body, req, model, fault, draw, now)
		lims.setHeaders(o.header)
		return o
	}
	return s.success(body, req, model, fault, draw, now)
}

// success answers a request admitted by the limits: a server error, a
// reset, or a 200 (possibly truncated, incomplete or slow). draw is the
// attempt's fault draw; its second word picks the 5xx status.
func (s *Server) success(body []byte, req call, model, fault string, draw [sha256.Size]byte, now time.Time) outcome {
	c := &s.cfg
	switch fault {
	case FaultServerError:
		e := &apiError{typ: "server_error"}
		switch binary.BigEndian.Uint64(draw[8:16]) % 3 {
		case 0:
			e.status, e.message = http.StatusInternalServerError, "The server had an error while processing your request. Sorry about that!"
		case 1:
			e.status, e.message = http.StatusBadGateway, "Bad gateway."
		default:
			e.status, e.code, e.message = http.StatusServiceUnavailable, "server_is_overloaded", "The server is overloaded or not ready yet."
		}
		return outcome{status: e.status, body: e.body(), header: http.Header{}, fault: fault}
	case FaultReset:
		return outcome{reset: true, header: http.Header{}, fault: fault}
	}
	o := outcome{status: http.StatusOK, header: http.Header{}, fault: fault}
	if fault == FaultSlow {
		o.extra = c.SlowDelay
	}
	created := now.Unix()
	finished := now.Add(c.Latency + o.extra).Unix()
	if bg, ok := req.(*request); ok && bg.Background != nil && *bg.Background && !c.NoBackground {
		// The final answer is the synchronous one to the body without
		// its background and store members.
		rep := req.reply(c, stripMembers(body, "background", "store"), model, fault == FaultIncomplete, created, finished)
		return s.createBackground(o, body, bg, rep, draw, now)
	}
	rep := req.reply(c, body, model, fault == FaultIncomplete, created, finished)
	o.body = rep.body
	if fault == FaultMalformed {
		o.truncate = true
		return o
	}
	o.completed = rep.completed
	o.tokens = &rep.usage
	return o
}

// errorOutcome is an error answer, with the x-ratelimit-* headers of the
// current limits.
func (s *Server) errorOutcome(e *apiError, now time.Time) outcome {
	o := outcome{status: e.status, body: e.body(), header: http.Header{}}
	if s.lim.enabled() {
		s.lim.peek(now).setHeaders(o.header)
	}
	return o
}

// rateLimited is a 429 rate_limit_exceeded answer for d. lims, if not nil,
// are the limits after the refusal; otherwise they are read now.
func (s *Server) rateLimited(d *denial, model string, now time.Time, lims *limits) outcome {
	e := &apiError{status: http.StatusTooManyRequests, typ: d.dimension, code: "rate_limit_exceeded"}
	o := outcome{status: e.status, header: http.Header{}}
	if d.tooLarge {
		e.message = fmt.Sprintf("Request too large for %s on %s: Limit %d, Requested %d. The input or output tokens must be reduced in order to run successfully.",
			d.dimension, model, d.limit, d.requested)
		o.header.Set("x-should-retry", "false")
	} else {
		e.message = fmt.Sprintf("Rate limit reached for %s on %s: Limit %d, Used %d, Requested %d. Please try again in %s.",
			d.dimension, model, d.limit, d.used, d.requested, d.wait)
		o.header.Set("retry-after-ms", strconv.FormatInt(int64(math.Ceil(float64(d.wait)/float64(time.Millisecond))), 10))
		o.header.Set("retry-after", strconv.FormatInt(int64(math.Ceil(d.wait.Seconds())), 10))
	}
	o.body = e.body()
	switch {
	case lims != nil:
		lims.setHeaders(o.header)
	case s.lim.enabled():
		s.lim.peek(now).setHeaders(o.header)
	}
	return o
}
