package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/llmbatch/llmbatch/io/httpapi"
	"github.com/llmbatch/llmbatch/io/results"
	"github.com/llmbatch/llmbatch/io/sim"
	"github.com/llmbatch/llmbatch/pipeline"
)

// markingExecutor is a run mode built, as any mode outside package
// pipeline is, from Exec's parts only: it journals a mark for each row
// before sending it (with its own Call), then journals the row's record.
type markingExecutor struct {
	emitted atomic.Int64
	after   int64 // cancel once this many records were emitted; 0: never
	cancel  context.CancelFunc

	mu      sync.Mutex
	marks   map[string]string // key -> mark id, from the journal
	records map[string]bool   // keys with a record in the journal
	sent    []string          // keys taken from the plan
}

func (e *markingExecutor) Resume(rec *results.Record, m *results.Mark) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if m != nil {
		e.marks[m.Key] = m.ID
		return
	}
	e.records[rec.CustomID] = true
}

func (e *markingExecutor) Execute(x *pipeline.Exec) error {
	var wg sync.WaitGroup
	for range x.Concurrency() {
		wg.Go(func() {
			for req := range x.Plan() {
				e.mu.Lock()
				e.sent = append(e.sent, req.Key())
				e.mu.Unlock()
				settle, err := x.Reserve(req)
				if err != nil {
					x.Stop(err)
					continue
				}
				if err := x.Mark(&results.Mark{Kind: "test", Key: req.Key(), ID: "id-" + req.Key()}); err != nil {
					settle(nil)
					continue
				}
				o := x.Try(req, func(ctx context.Context, req *pipeline.Request) (*httpapi.Answer, error) {
					return x.Endpoint().Send(ctx, req.API().Path(), req.Body(), req.API())
				})
				rec := x.Record(req, o)
				settle(rec)
				if rec != nil {
					x.Emit(req, rec)
					if e.emitted.Add(1) == e.after {
						e.cancel()
					}
				}
			}
		})
	}
	wg.Wait()
	return nil
}

func newMarking() *markingExecutor {
	return &markingExecutor{marks: map[string]string{}, records: map[string]bool{}}
}

// A mode outside the package journals marks that survive an interrupt,
// gets them back on resume in journal order with the records, and is
// handed only the rows not finished; marks never count as rows.
func TestExecutor_ModeFromExecParts(t *testing.T) {
	dir := t.TempDir()
	const n = 200
	s, base := startSim(t, sim.Config{Seed: 3, RateLimit: 0.1, ServerError: 0.05, RetryAfter: 2 * time.Millisecond})
	cfg := baseConfig(dir, writeInput(t, dir, n), base)
	cfg.Concurrency = 8

	ctx, cancel := context.WithCancel(context.Background())
	first := newMarking()
	first.after, first.cancel = 50, cancel
	cfg.Executor = first
	if _, err := pipeline.Run(ctx, cfg); !errors.Is(err, pipeline.ErrInterrupted) {
		t.Fatalf("first Run() error = %v, want interrupted", err)
	}

	second := newMarking()
	cfg.Executor = second
	sum, err := pipeline.Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("second Run() error = %v", err)
	}
	if len(second.records) < 50 || len(second.marks) < len(second.records) {
		t.Errorf("resume saw %d records and %d marks; want >= 50 records, a mark for each", len(second.records), len(second.marks))
	}
	for k := range second.records {
		if second.marks[k] != "id-"+k {
			t.Errorf("row %s: journalled without its mark (mark %q)", k, second.marks[k])
		}
	}
	for _, k := range second.sent {
		if second.records[k] {
			t.Errorf("row %s finished in the first run was planned again", k)
		}
	}
	if got := len(second.records) + len(second.sent); got != n {
		t.Errorf("finished first (%d) + planned second (%d) = %d, want %d", len(second.records), len(second.sent), got, n)
	}
	if sum.Rows.OK != n || sum.Rows.Failed != 0 {
		t.Errorf("summary rows = %+v, want %d ok", sum.Rows, n)
	}
	// The journal's marks are not rows: every reader sees n keys, and
	// the usage is the simulator's.
	info, err := results.ReadAll([]string{cfg.Output}, 0, func(*results.Record, bool) error { return nil })
	if err != nil || info.Keys != n {
		t.Fatalf("ReadAll: %d keys, %v; want %d", info.Keys, err, n)
	}
	st := s.Stats()
	if sum.Usage.Total.InputTokens != int64(st.InputTokens) || sum.Usage.Total.OutputTokens != int64(st.OutputTokens) {
		t.Errorf("summary usage = %+v, sim billed %d in, %d out", sum.Usage.Total, st.InputTokens, st.OutputTokens)
	}
}

type failingExecutor struct{ took atomic.Int64 }

func (e *failingExecutor) Execute(x *pipeline.Exec) error {
	for range x.Plan() {
		if e.took.Add(1) == 3 {
			return errors.New("the mode gave up")
		}
	}
	return nil
}

// An executor's error stops the job and is Run's error; the producer,
// waiting to hand over the next row, does not hang.
func TestExecutor_ErrorStopsTheJob(t *testing.T) {
	dir := t.TempDir()
	_, base := startSim(t, simDefault())
	cfg := baseConfig(dir, writeInput(t, dir, 100), base)
	e := &failingExecutor{}
	cfg.Executor = e
	_, err := pipeline.Run(context.Background(), cfg)
	if err == nil || err.Error() != "the mode gave up" {
		t.Fatalf("Run() error = %v, want the executor's", err)
	}
	if e.took.Load() > 3+1 {
		t.Errorf("the plan handed out %d requests after the executor stopped taking them", e.took.Load())
	}
}

// A caller that is not the command reads rows from an io.Reader and takes
// each record as it is journalled (OnRecord): the same records, in the
// journal's order.
func TestRun_ReaderAndOnRecord(t *testing.T) {
	dir := t.TempDir()
	_, base := startSim(t, simDefault())
	var in strings.Builder
	for i := range 50 {
		fmt.Fprintf(&in, `{"id":"r%02d","text":"row %d"}`+"\n", i, i)
	}
	cfg := baseConfig(dir, "-", base)
	cfg.Reader = strings.NewReader(in.String())
	var got []string
	cfg.OnRecord = func(rec *results.Record) { got = append(got, rec.CustomID) }
	sum, err := pipeline.Run(context.Background(), cfg)
	if err != nil || sum.Rows.OK != 50 {
		t.Fatalf("Run() = %+v, %v; want 50 ok", sum, err)
	}
	var journal []string
	for _, r := range readJournal(t, cfg.Output) {
		journal = append(journal, r.CustomID)
	}
	if strings.Join(got, ",") != strings.Join(journal, ",") {
		t.Errorf("OnRecord saw %v,\njournal holds %v", got, journal)
	}
}
