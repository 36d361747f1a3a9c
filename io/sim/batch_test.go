package sim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/llmbatch/llmbatch/io/sim"
)

// upload posts content as a multipart file upload.
func upload(tb testing.TB, base, name, purpose string, content []byte) result {
	tb.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if purpose != "" {
		_ = mw.WriteField("purpose", purpose)
	}
	if name != "" {
		fw, _ := mw.CreateFormFile("file", name)
		_, _ = fw.Write(content)
	}
	_ = mw.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/files", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return result{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return result{status: resp.StatusCode, header: resp.Header, body: b, err: err}
}

// wireFile is a FileObject.
type wireFile struct {
	ID        string  `json:"id"`
	Object    string  `json:"object"`
	Bytes     *int    `json:"bytes"`
	CreatedAt *int64  `json:"created_at"`
	Filename  string  `json:"filename"`
	Purpose   string  `json:"purpose"`
	Status    string  `json:"status"`
	Details   *string `json:"status_details"`
}

func uploadOK(tb testing.TB, base string, content []byte) string {
	tb.Helper()
	r := upload(tb, base, "rows.jsonl", "batch", content)
	if r.err != nil || r.status != 200 {
		tb.Fatalf("upload = %d %s %v", r.status, r.body, r.err)
	}
	var f wireFile
	if err := json.Unmarshal(r.body, &f); err != nil || !strings.HasPrefix(f.ID, "file-") || f.Object != "file" ||
		f.Bytes == nil || *f.Bytes != len(content) || f.CreatedAt == nil || f.Filename != "rows.jsonl" || f.Purpose != "batch" || f.Status != "processed" {
		tb.Fatalf("upload answer %s (%v)", r.body, err)
	}
	return f.ID
}

// wireBatch is a Batch object.
type wireBatch struct {
	ID               string  `json:"id"`
	Object           string  `json:"object"`
	Endpoint         string  `json:"endpoint"`
	InputFileID      string  `json:"input_file_id"`
	CompletionWindow string  `json:"completion_window"`
	Status           string  `json:"status"`
	OutputFileID     *string `json:"output_file_id"`
	ErrorFileID      *string `json:"error_file_id"`
	CreatedAt        int64   `json:"created_at"`
	InProgressAt     *int64  `json:"in_progress_at"`
	ExpiresAt        int64   `json:"expires_at"`
	FinalizingAt     *int64  `json:"finalizing_at"`
	CompletedAt      *int64  `json:"completed_at"`
	FailedAt         *int64  `json:"failed_at"`
	ExpiredAt        *int64  `json:"expired_at"`
	CancellingAt     *int64  `json:"cancelling_at"`
	CancelledAt      *int64  `json:"cancelled_at"`
	RequestCounts    *struct {
		Total     int `json:"total"`
		Completed int `json:"completed"`
		Failed    int `json:"failed"`
	} `json:"request_counts"`
	Errors *struct {
		Object string `json:"object"`
		Data   []struct {
			Code    string  `json:"code"`
			Line    *int    `json:"line"`
			Message string  `json:"message"`
			Param   *string `json:"param"`
		} `json:"data"`
	} `json:"errors"`
	Metadata map[string]string `json:"metadata"`
	Model    string            `json:"model"`
	Usage    wireUsage         `json:"usage"`
}

func decodeBatch(tb testing.TB, r result) wireBatch {
	tb.Helper()
	if r.err != nil || r.status != 200 {
		tb.Fatalf("batch answer = %d %s %v", r.status, r.body, r.err)
	}
	var b wireBatch
	if err := json.Unmarshal(r.body, &b); err != nil || b.Object != "batch" || !strings.HasPrefix(b.ID, "batch_") ||
		b.RequestCounts == nil || b.CompletionWindow != "24h" || b.ExpiresAt != b.CreatedAt+86400 {
		tb.Fatalf("batch answer %s (%v)", r.body, err)
	}
	return b
}

func createBatch(tb testing.TB, base, fileID, endpoint string) wireBatch {
	tb.Helper()
	b := decodeBatch(tb, post(tb, base+"/batches", fmt.Sprintf(`{"input_file_id":%q,"endpoint":%q,"completion_window":"24h","metadata":{"job":"t"}}`, fileID, endpoint)))
	if b.Status != "validating" || b.InputFileID != fileID || b.Endpoint != endpoint || b.Metadata["job"] != "t" {
		tb.Fatalf("created batch = %+v", b)
	}
	return b
}

// outLine is a line of a batch output or error file.
type outLine struct {
	ID       string `json:"id"`
	CustomID string `json:"custom_id"`
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

// download reads a batch output or error file; a nil id is no lines.
func download(tb testing.TB, base string, id *string) []outLine {
	tb.Helper()
	if id == nil {
		return nil
	}
	var f wireFile
	if r := get(tb, base+"/files/"+*id); r.status != 200 || json.Unmarshal(r.body, &f) != nil || f.Purpose != "batch_output" {
		tb.Fatalf("GET file %s = %d %s", *id, r.status, r.body)
	}
	r := get(tb, base+"/files/"+*id+"/content")
	if r.status != 200 || *f.Bytes != len(r.body) {
		tb.Fatalf("content of %s = %d, %d bytes (object says %d)", *id, r.status, len(r.body), *f.Bytes)
	}
	var lines []outLine
	for _, l := range bytes.Split(bytes.TrimSpace(r.body), []byte("\n")) {
		var o outLine
		if err := json.Unmarshal(l, &o); err != nil || !strings.HasPrefix(o.ID, "batch_req_") || o.CustomID == "" {
			tb.Fatalf("output line %s (%v)", l, err)
		}
		lines = append(lines, o)
	}
	return lines
}

// inputLine is one batch input line.
func inputLine(id, url string, body any) []byte {
	b, _ := json.Marshal(map[string]any{"custom_id": id, "method": "POST", "url": url, "body": body})
	return append(b, '\n')
}

// stripTimes drops the timestamps of an answer, which differ between a
// batch line and a synchronous request.
func stripTimes(tb testing.TB, body []byte) map[string]any {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		tb.Fatalf("answer body %s: %v", body, err)
	}
	for _, k := range []string{"created_at", "completed_at", "created"} {
		delete(m, k)
	}
	return m
}

// batchJob is one file of the ~200-line test: its endpoint, lines, and
// each line's body by custom_id.
type batchJob struct {
	endpoint string
	file     []byte
	bodies   map[string][]byte
	ids      []string
}

func makeJob(endpoint string, n int, body func(i int) any) batchJob {
	j := batchJob{endpoint: endpoint, bodies: map[string][]byte{}}
	for i := range n {
		id := fmt.Sprintf("%s-row-%03d", strings.TrimPrefix(endpoint, "/v1/"), i)
		b, _ := json.Marshal(body(i))
		j.bodies[id] = b
		j.ids = append(j.ids, id)
		j.file = append(j.file, inputLine(id, endpoint, body(i))...)
	}
	return j
}

// threeJobs is ~200 lines across the three endpoints.
func threeJobs() []batchJob {
	return []batchJob{
		makeJob("/v1/responses", 100, func(i int) any {
			return map[string]any{"model": "gpt-5-mini", "input": fmt.Sprintf("review %d: %s", i, strings.Repeat("good ", i%7)), "max_output_tokens": 200}
		}),
		makeJob("/v1/chat/completions", 60, func(i int) any {
			return map[string]any{"model": "gpt-4o-mini", "messages": []map[string]string{{"role": "user", "content": fmt.Sprintf("label %d", i)}}}
		}),
		makeJob("/v1/embeddings", 40, func(i int) any {
			return map[string]any{"model": "text-embedding-3-small", "input": fmt.Sprintf("text %d", i), "dimensions": 8}
		}),
	}
}

func TestBatch_Completed(t *testing.T) {
	cfg := sim.Config{Seed: 11, BatchDelay: time.Second}
	_, syncBase := start(t, sim.Config{Seed: 11})
	s, base, clock := startClocked(t, cfg)
	jobs := threeJobs()
	batches := make([]wireBatch, len(jobs))
	for i, j := range jobs {
		batches[i] = createBatch(t, base, uploadOK(t, base, j.file), j.endpoint)
	}
	step := func(d time.Duration) []wireBatch {
		clock.Advance(d)
		var out []wireBatch
		for _, b := range batches {
			out = append(out, decodeBatch(t, get(t, base+"/batches/"+b.ID)))
		}
		return out
	}
	for _, b := range step(50 * time.Millisecond) {
		if b.Status != "validating" || b.RequestCounts.Total != 0 || b.InProgressAt != nil {
			t.Errorf("at 50ms: %s %+v", b.Status, *b.RequestCounts)
		}
	}
	for i, b := range step(450 * time.Millisecond) { // half way through processing
		rc := b.RequestCounts
		if b.Status != "in_progress" || b.InProgressAt == nil || rc.Total != len(jobs[i].ids) || rc.Completed == 0 || rc.Completed >= rc.Total || b.OutputFileID != nil {
			t.Errorf("at 500ms: %s %+v", b.Status, *rc)
		}
	}
	for _, b := range step(450 * time.Millisecond) {
		if b.Status != "finalizing" || b.FinalizingAt == nil || b.RequestCounts.Completed != b.RequestCounts.Total {
			t.Errorf("at 950ms: %s %+v", b.Status, *b.RequestCounts)
		}
	}
	var wantIn, wantOut int64
	for i, b := range step(50 * time.Millisecond) {
		j := jobs[i]
		if b.Status != "completed" || b.CompletedAt == nil || b.OutputFileID == nil || b.ErrorFileID != nil ||
			b.RequestCounts.Completed != len(j.ids) || b.RequestCounts.Failed != 0 {
			t.Fatalf("at 1s: %+v", b)
		}
		out := download(t, base, b.OutputFileID)
		var order []string
		for _, o := range out {
			order = append(order, o.CustomID)
			if o.Error != nil || o.Response == nil || o.Response.StatusCode != 200 || !strings.HasPrefix(o.Response.RequestID, "req_") {
				t.Fatalf("line %+v", o)
			}
			sync := post(t, syncBase+strings.TrimPrefix(j.endpoint, "/v1"), string(j.bodies[o.CustomID]))
			if sync.status != 200 {
				t.Fatalf("sync answer %d %s", sync.status, sync.body)
			}
			if got, want := stripTimes(t, o.Response.Body), stripTimes(t, sync.body); !reflect.DeepEqual(got, want) {
				t.Errorf("%s: batch answer\n%v\nwant the synchronous\n%v", o.CustomID, got, want)
			}
		}
		if slices.Equal(order, j.ids) {
			t.Errorf("%s output in input order, want shuffled", j.endpoint)
		}
		slices.Sort(order)
		if !slices.Equal(order, j.ids) {
			t.Errorf("%s output custom_ids = %v, want each input line once", j.endpoint, order)
		}
		wantIn += *b.Usage.InputTokens
		wantOut += *b.Usage.OutputTokens
	}
	syncStats := s.Stats() // the batch server's
	st := syncStats.Batches
	if st.Created != 3 || st.Completed != 3 || st.Lines != 200 || st.LinesFailed != 0 || st.InputTokens != wantIn || st.OutputTokens != wantOut || wantIn == 0 {
		t.Errorf("Stats.Batches = %+v, want 3 completed, 200 lines, tokens %d/%d", st, wantIn, wantOut)
	}
	if syncStats.Requests != 0 || syncStats.InputTokens != 0 || syncStats.Files != 3 {
		t.Errorf("Stats = %+v: batch lines are not requests; 3 uploads", syncStats)
	}
	billed := s.BatchBilled()
	if !reflect.DeepEqual(billed, syncStats.BatchBilled) || !reflect.DeepEqual(s.Uploads(), syncStats.Uploads) || !reflect.DeepEqual(s.BatchCreations(), syncStats.BatchCreations) {
		t.Errorf("Stats maps differ from the methods'")
	}
	if len(billed) != 200 {
		t.Errorf("BatchBilled() has %d ids, want 200", len(billed))
	}
	for id, n := range billed {
		if n != 1 {
			t.Errorf("custom_id %s billed %d times", id, n)
		}
	}
	for _, m := range []map[string]int{s.Uploads(), s.BatchCreations()} {
		if len(m) != 3 {
			t.Errorf("Uploads/BatchCreations = %v, want 3 once each", m)
		}
		for k, n := range m {
			if n != 1 {
				t.Errorf("%s counted %d", k, n)
			}
		}
	}
	// A completed batch cannot be cancelled.
	if e := decodeError(t, post(t, base+"/batches/"+batches[0].ID+"/cancel", ``), 409); !strings.Contains(e.Error.Message, "completed") {
		t.Errorf("cancel completed: %q", e.Error.Message)
	}
}

// TestBatch_RealClock runs a small batch to completion on the real clock,
// polled as a client polls.
func TestBatch_RealClock(t *testing.T) {
	s, base := start(t, sim.Config{BatchDelay: 100 * time.Millisecond})
	j := makeJob("/v1/chat/completions", 20, func(i int) any {
		return map[string]any{"model": "gpt-4o-mini", "messages": []map[string]string{{"role": "user", "content": fmt.Sprint(i)}}}
	})
	b := createBatch(t, base, uploadOK(t, base, j.file), j.endpoint)
	seen := map[string]bool{}
	for i := 0; b.Status != "completed"; i++ {
		if i > 500 {
			t.Fatalf("not completed after 500 polls: %+v", b)
		}
		time.Sleep(5 * time.Millisecond)
		b = decodeBatch(t, get(t, base+"/batches/"+b.ID))
		seen[b.Status] = true
	}
	if out := download(t, base, b.OutputFileID); len(out) != 20 {
		t.Errorf("output has %d lines, want 20", len(out))
	}
	// Files can be deleted, as a tidy client does once it has the output.
	for _, id := range []string{b.InputFileID, *b.OutputFileID} {
		req, _ := http.NewRequest(http.MethodDelete, base+"/files/"+id, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			ID      string `json:"id"`
			Deleted bool   `json:"deleted"`
		}
		err = json.NewDecoder(resp.Body).Decode(&d)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || d.ID != id || !d.Deleted {
			t.Errorf("DELETE %s = %d %+v %v", id, resp.StatusCode, d, err)
		}
		decodeError(t, get(t, base+"/files/"+id), 404)
	}
	if s.Stats().Batches.Lines != 20 {
		t.Errorf("lines = %d", s.Stats().Batches.Lines)
	}
}

func TestBatch_Validation(t *testing.T) {
	resp := func(id string, model string) []byte {
		return inputLine(id, "/v1/responses", map[string]any{"model": model, "input": "x " + id})
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	tests := []struct {
		name     string
		cfg      sim.Config
		file     []byte
		wantCode string
		wantLine int // 0: null
	}{
		{"InvalidJSON", sim.Config{}, cat(resp("a", "m"), []byte("{not json\n"), resp("c", "m")), "invalid_json_line", 2},
		{"NotAnObject", sim.Config{}, cat(resp("a", "m"), []byte("[1,2]\n")), "invalid_json_line", 2},
		{"DuplicateCustomID", sim.Config{}, cat(resp("a", "m"), resp("b", "m"), resp("a", "m")), "duplicate_custom_id", 3},
		{"URLMismatch", sim.Config{}, cat(resp("a", "m"), inputLine("b", "/v1/chat/completions", map[string]any{"model": "m"})), "url_mismatch", 2},
		{"ModelMismatch", sim.Config{}, cat(resp("a", "m"), resp("b", "m"), resp("c", "other")), "model_mismatch", 3},
		{"NoCustomID", sim.Config{}, []byte(`{"method":"POST","url":"/v1/responses","body":{"input":"x"}}` + "\n"), "missing_required_parameter", 1},
		{"TooManyLines", sim.Config{BatchMaxLines: 2}, cat(resp("a", "m"), resp("b", "m"), resp("c", "m")), "too_many_tasks", 0},
		{"Empty", sim.Config{}, []byte("\n\n"), "empty_file", 0},
		{"TokenLimit", sim.Config{BatchTokenLimit: 10}, cat(resp("a", "m"), resp("b", "m"), resp("c", "m")), "token_limit_exceeded", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.BatchDelay = 100 * time.Millisecond
			s, base, clock := startClocked(t, tt.cfg)
			b := createBatch(t, base, uploadOK(t, base, tt.file), "/v1/responses")
			clock.Advance(10 * time.Millisecond)
			b = decodeBatch(t, get(t, base+"/batches/"+b.ID))
			if b.Status != "failed" || b.FailedAt == nil || b.Errors == nil || b.Errors.Object != "list" || len(b.Errors.Data) == 0 {
				t.Fatalf("batch = %+v, want failed with errors", b)
			}
			e := b.Errors.Data[0]
			line := 0
			if e.Line != nil {
				line = *e.Line
			}
			if e.Code != tt.wantCode || line != tt.wantLine || e.Message == "" {
				t.Errorf("errors.data[0] = %s line %d %q, want %s line %d", e.Code, line, e.Message, tt.wantCode, tt.wantLine)
			}
			if b.RequestCounts.Total != 0 || b.OutputFileID != nil || b.ErrorFileID != nil {
				t.Errorf("failed batch has counts or files: %+v", b)
			}
			clock.Advance(time.Hour)
			if st := s.Stats().Batches; st.Failed != 1 || st.Lines != 0 || st.InputTokens != 0 || len(s.BatchBilled()) != 0 {
				t.Errorf("Stats.Batches = %+v, want 1 failed, nothing billed", st)
			}
			decodeError(t, post(t, base+"/batches/"+b.ID+"/cancel", ``), 409)
		})
	}

	t.Run("CreateErrors", func(t *testing.T) {
		s, base := start(t, sim.Config{BatchMaxBytes: 200})
		small := uploadOK(t, base, resp("a", "m"))
		big := uploadOK(t, base, bytes.Repeat(resp("a", "m"), 10))
		for _, c := range []struct {
			body   string
			status int
			param  string
		}{
			{`{"input_file_id":"` + small + `","endpoint":"/v1/completions","completion_window":"24h"}`, 400, "endpoint"},
			{`{"input_file_id":"` + small + `","endpoint":"/v1/responses","completion_window":"1h"}`, 400, "completion_window"},
			{`{"endpoint":"/v1/responses","completion_window":"24h"}`, 400, "input_file_id"},
			{`{"input_file_id":"file-nope","endpoint":"/v1/responses","completion_window":"24h"}`, 404, "input_file_id"},
			{`{"input_file_id":"` + big + `","endpoint":"/v1/responses","completion_window":"24h"}`, 400, "input_file_id"},
			{`{"input_file_id":`, 400, ""},
		} {
			e := decodeError(t, post(t, base+"/batches", c.body), c.status)
			if c.param != "" && (e.Error.Param == nil || *e.Error.Param != c.param) {
				t.Errorf("%s: param %v, want %s (%s)", c.body, e.Error.Param, c.param, e.Error.Message)
			}
		}
		if st := s.Stats().Batches; st.Created != 0 || len(s.BatchCreations()) != 0 {
			t.Errorf("refused creations counted: %+v", st)
		}
		decodeError(t, get(t, base+"/batches/batch_nope"), 404)
		decodeError(t, get(t, base+"/files/file-nope"), 404)
		decodeError(t, get(t, base+"/files/file-nope/content"), 404)
	})

	t.Run("UploadErrors", func(t *testing.T) {
		s, base := start(t, sim.Config{})
		decodeError(t, upload(t, base, "rows.txt", "batch", []byte("{}\n")), 400)
		decodeError(t, upload(t, base, "rows.jsonl", "", []byte("{}\n")), 400)
		decodeError(t, upload(t, base, "rows.jsonl", "nonsense", []byte("{}\n")), 400)
		decodeError(t, upload(t, base, "", "batch", nil), 400)
		decodeError(t, post(t, base+"/files", `{"purpose":"batch"}`), 400)
		if st := s.Stats(); st.Files != 0 || len(s.Uploads()) != 0 {
			t.Errorf("refused uploads counted: %d", st.Files)
		}
	})
}

// splitFiles checks that the output and error files of b hold every one
// of ids exactly once, and returns the custom_ids of each.
func splitFiles(t *testing.T, base string, b wireBatch, ids []string, code string) (done, undone []string) {
	t.Helper()
	for _, o := range download(t, base, b.OutputFileID) {
		if o.Response == nil || o.Response.StatusCode != 200 || o.Error != nil {
			t.Errorf("output line %+v", o)
		}
		done = append(done, o.CustomID)
	}
	for _, o := range download(t, base, b.ErrorFileID) {
		if o.Response != nil || o.Error == nil || o.Error.Code != code || o.Error.Message == "" {
			t.Errorf("error line %+v, want response null and error %s", o, code)
		}
		undone = append(undone, o.CustomID)
	}
	all := slices.Concat(done, undone)
	slices.Sort(all)
	if !slices.Equal(all, ids) {
		t.Errorf("output+error custom_ids = %d lines, want each of %d once", len(all), len(ids))
	}
	return done, undone
}

func TestBatch_Expired(t *testing.T) {
	s, base, clock := startClocked(t, sim.Config{Seed: 4, BatchDelay: time.Second, BatchExpireAfter: 500 * time.Millisecond})
	j := threeJobs()[0]
	b := createBatch(t, base, uploadOK(t, base, j.file), j.endpoint)
	clock.Advance(499 * time.Millisecond)
	if b = decodeBatch(t, get(t, base+"/batches/"+b.ID)); b.Status != "in_progress" {
		t.Fatalf("before expiry: %s", b.Status)
	}
	clock.Advance(time.Millisecond)
	b = decodeBatch(t, get(t, base+"/batches/"+b.ID))
	if b.Status != "expired" || b.ExpiredAt == nil || b.OutputFileID == nil || b.ErrorFileID == nil {
		t.Fatalf("after expiry: %+v", b)
	}
	done, undone := splitFiles(t, base, b, j.ids, "batch_expired")
	if len(done) == 0 || len(undone) == 0 || b.RequestCounts.Completed != len(done) || b.RequestCounts.Failed != 0 || b.RequestCounts.Total != 100 {
		t.Errorf("expired with %d done, %d undone, counts %+v", len(done), len(undone), *b.RequestCounts)
	}
	// Resubmitting exactly the unfinished lines, as a client does, until
	// (nearly) all are done: no line is ever billed twice. (Every batch on
	// this server expires half way, so a last single line never finishes.)
	finished := slices.Clone(done)
	rounds := 1
	for len(undone) > 1 && rounds < 10 {
		var again []byte
		for _, id := range undone {
			again = append(again, inputLine(id, j.endpoint, json.RawMessage(j.bodies[id]))...)
		}
		ids := slices.Clone(undone)
		slices.Sort(ids)
		b2 := createBatch(t, base, uploadOK(t, base, again), j.endpoint)
		clock.Advance(time.Second)
		b2 = decodeBatch(t, get(t, base+"/batches/"+b2.ID))
		var d []string
		d, undone = splitFiles(t, base, b2, ids, "batch_expired")
		finished = append(finished, d...)
		rounds++
	}
	billed := s.BatchBilled()
	for _, id := range j.ids {
		if want := 1 - countOf(undone, id); billed[id] != want {
			t.Errorf("%s billed %d times, want %d", id, billed[id], want)
		}
	}
	if len(finished)+len(undone) != 100 || len(undone) > 1 {
		t.Errorf("after %d rounds: %d finished, %d undone", rounds, len(finished), len(undone))
	}
	if st := s.Stats().Batches; st.Expired != rounds || st.Lines != len(finished) {
		t.Errorf("Stats.Batches = %+v, want %d expired, %d lines", st, rounds, len(finished))
	}

	// Expired while still validating: every line batch_expired.
	_, base2, clock2 := startClocked(t, sim.Config{BatchDelay: time.Second, BatchExpireAfter: 50 * time.Millisecond})
	b = createBatch(t, base2, uploadOK(t, base2, j.file), j.endpoint)
	clock2.Advance(60 * time.Millisecond)
	b = decodeBatch(t, get(t, base2+"/batches/"+b.ID))
	if done, _ := splitFiles(t, base2, b, j.ids, "batch_expired"); b.Status != "expired" || len(done) != 0 || b.InProgressAt != nil {
		t.Errorf("expired while validating: %+v", b)
	}
}

func TestBatch_Cancel(t *testing.T) {
	s, base, clock := startClocked(t, sim.Config{BatchDelay: time.Second})
	j := threeJobs()[1]
	b := createBatch(t, base, uploadOK(t, base, j.file), j.endpoint)
	clock.Advance(400 * time.Millisecond)
	for i := range 2 { // cancelling twice answers the same state
		c := decodeBatch(t, post(t, base+"/batches/"+b.ID+"/cancel", ``))
		if c.Status != "cancelling" || c.CancellingAt == nil || c.CancelledAt != nil {
			t.Fatalf("cancel #%d = %+v", i+1, c)
		}
	}
	clock.Advance(99 * time.Millisecond)
	if c := decodeBatch(t, get(t, base+"/batches/"+b.ID)); c.Status != "cancelling" {
		t.Fatalf("status %s, want cancelling", c.Status)
	}
	clock.Advance(time.Millisecond)
	b = decodeBatch(t, get(t, base+"/batches/"+b.ID))
	if b.Status != "cancelled" || b.CancelledAt == nil {
		t.Fatalf("after cancelling: %+v", b)
	}
	done, undone := splitFiles(t, base, b, j.ids, "batch_cancelled")
	if len(done) == 0 || len(undone) == 0 || b.RequestCounts.Completed != len(done) {
		t.Errorf("cancelled with %d done, %d undone, counts %+v", len(done), len(undone), *b.RequestCounts)
	}
	clock.Advance(time.Hour) // no line is answered after the cancel
	if st := s.Stats().Batches; st.Cancelled != 1 || st.Lines != len(done) || len(s.BatchBilled()) != len(done) {
		t.Errorf("Stats.Batches = %+v, want %d lines billed", st, len(done))
	}
	decodeError(t, post(t, base+"/batches/"+b.ID+"/cancel", ``), 409)

	// Cancelled while validating: every line batch_cancelled.
	b = createBatch(t, base, uploadOK(t, base, j.file), j.endpoint)
	decodeBatch(t, post(t, base+"/batches/"+b.ID+"/cancel", ``))
	clock.Advance(time.Second)
	b = decodeBatch(t, get(t, base+"/batches/"+b.ID))
	if done, _ := splitFiles(t, base, b, j.ids, "batch_cancelled"); b.Status != "cancelled" || len(done) != 0 || b.OutputFileID != nil {
		t.Errorf("cancelled while validating: %+v", b)
	}
}

func TestBatch_FailedLines(t *testing.T) {
	s, base := start(t, sim.Config{Seed: 2, BatchFail: 0.2})
	j := threeJobs()[0]
	// One more line whose body the endpoint rejects: a 400 in the error file.
	file := append(slices.Clone(j.file), inputLine("bad", "/v1/responses", map[string]any{"model": "gpt-5-mini"})...)
	b := createBatch(t, base, uploadOK(t, base, file), j.endpoint)
	b = decodeBatch(t, get(t, base+"/batches/"+b.ID))
	if b.Status != "completed" || b.ErrorFileID == nil {
		t.Fatalf("batch = %+v", b)
	}
	out, errs := download(t, base, b.OutputFileID), download(t, base, b.ErrorFileID)
	statuses := map[int]int{}
	for _, o := range errs {
		var e wireError
		if o.Response == nil || o.Error != nil || json.Unmarshal(o.Response.Body, &e) != nil || e.Error.Message == "" {
			t.Fatalf("error line %+v", o)
		}
		statuses[o.Response.StatusCode]++
		if o.CustomID == "bad" && o.Response.StatusCode != 400 {
			t.Errorf("bad line answered %d", o.Response.StatusCode)
		}
	}
	if statuses[400] != 1 || statuses[500] < 10 || statuses[500] > 30 || len(out)+len(errs) != 101 {
		t.Errorf("error statuses = %v, output %d lines", statuses, len(out))
	}
	if b.RequestCounts.Failed != len(errs) || b.RequestCounts.Completed != len(out) {
		t.Errorf("counts %+v, files %d/%d", *b.RequestCounts, len(out), len(errs))
	}
	if st := s.Stats().Batches; st.LinesFailed != len(errs) || len(s.BatchBilled()) != len(out) {
		t.Errorf("Stats.Batches = %+v", st)
	}
}

// countOf counts s in ss.
func countOf(ss []string, s string) int {
	n := 0
	for _, x := range ss {
		if x == s {
			n++
		}
	}
	return n
}

// BenchmarkBatch measures a 10,000-line /v1/responses batch from upload to
// the downloaded output, with no delay: the simulator's cost per line.
func BenchmarkBatch(b *testing.B) {
	j := makeJob("/v1/responses", 10_000, func(i int) any {
		return map[string]any{"model": "gpt-5-mini", "input": fmt.Sprintf("review %d: the soup was cold and the bread was stale", i)}
	})
	_, base := start(b, sim.Config{})
	b.ResetTimer()
	for range b.N {
		bt := createBatch(b, base, uploadOK(b, base, j.file), j.endpoint)
		bt = decodeBatch(b, get(b, base+"/batches/"+bt.ID))
		if out := download(b, base, bt.OutputFileID); len(out) != 10_000 {
			b.Fatalf("%d lines", len(out))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*10_000), "ns/line")
}

// GET /v1/batches lists the batches newest first, a page at a time, as
// OpenAI pages them (a client finds a batch whose create answer it lost).
func TestBatch_List(t *testing.T) {
	_, base, clock := startClocked(t, sim.Config{Seed: 3, BatchDelay: time.Second})
	jobs := threeJobs()
	var ids []string
	for _, j := range jobs {
		ids = append(ids, createBatch(t, base, uploadOK(t, base, j.file), j.endpoint).ID)
		clock.Advance(time.Millisecond)
	}
	type page struct {
		Object  string      `json:"object"`
		Data    []wireBatch `json:"data"`
		HasMore bool        `json:"has_more"`
		LastID  string      `json:"last_id"`
	}
	read := func(q string) page {
		r := get(t, base+"/batches"+q)
		var p page
		if r.status != 200 || json.Unmarshal(r.body, &p) != nil || p.Object != "list" {
			t.Fatalf("GET /batches%s = %d %s", q, r.status, r.body)
		}
		return p
	}
	p := read("?limit=2")
	if len(p.Data) != 2 || !p.HasMore || p.Data[0].ID != ids[2] || p.Data[1].ID != ids[1] || p.LastID != ids[1] {
		t.Fatalf("first page = %+v, want the two newest of %v and more", p, ids)
	}
	p = read("?limit=2&after=" + p.LastID)
	if len(p.Data) != 1 || p.HasMore || p.Data[0].ID != ids[0] || p.Data[0].InputFileID == "" {
		t.Fatalf("second page = %+v, want the oldest and no more", p)
	}
	if r := get(t, base+"/batches?limit=0"); r.status != 400 {
		t.Errorf("limit=0: %d, want 400", r.status)
	}
}
