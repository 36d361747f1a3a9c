package pipeline_test

// Throughput and memory benchmarks against io/sim on loopback. Each
// reports ratios against an ideal computed in the same run, so the figures
// compare across machines. They take from seconds to minutes each; run
// them one at a time with -benchtime 1x and repeat with -count:
//
//	go test -run '^$' -bench . -benchtime 1x -count 3 ./pipeline/
//
// Each benchmark's doc comment says what its figures mean.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/llmbatch/llmbatch/io/sim"
	"github.com/llmbatch/llmbatch/pipeline"
)

// benchMaxOut is the max_output_tokens of every benchmark request.
const benchMaxOut = 16

// benchText is row i's text: exactly 320 bytes, so that the simulator
// charges every request ceil(320/4) + 4 (one message) + benchMaxOut = 100
// tokens.
func benchText(i int) string {
	s := fmt.Sprintf("row %07d: the parcel arrived on time and the staff were friendly, ", i)
	for len(s) < 320 {
		s += "more words about the delivery follow here. "
	}
	return s[:320]
}

// writeBenchInput writes n rows and returns the path.
func writeBenchInput(tb testing.TB, dir string, n int) string {
	tb.Helper()
	path := filepath.Join(dir, "in.jsonl")
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	for i := range n {
		fmt.Fprintf(w, "{\"id\":\"r%d\",\"text\":%q}\n", i, benchText(i))
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
	return path
}

// benchJob runs one job of the given input against base and returns its
// wall time and summary counters.
func benchJob(b *testing.B, input, base string, cfg pipeline.Config) (time.Duration, int64, int64) {
	b.Helper()
	cfg.Input = input
	cfg.Output = filepath.Join(b.TempDir(), "out.jsonl")
	cfg.BaseURL = base
	cfg.Model = "gpt-4.1-mini" // not a reasoning model: 16 output tokens suffice
	cfg.Body = []byte(fmt.Sprintf(`{"max_output_tokens":%d}`, benchMaxOut))
	start := time.Now()
	sum, err := pipeline.Run(context.Background(), cfg)
	wall := time.Since(start)
	if err != nil {
		b.Fatal(err)
	}
	if sum.Rows.OK != sum.Rows.Total {
		line, _, _ := bufio.NewReader(must(os.Open(cfg.Output))).ReadLine()
		b.Fatalf("rows %+v, run %+v; first record: %.500s", sum.Rows, sum.Run, line)
	}
	return wall, sum.Run.Requests, sum.Run.RateLimited
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// BenchmarkLimited runs a job sized to take about 30 s at RPM 600 / TPM
// 60,000 (every request costs the simulator 100 tokens, so both limits
// bind: 10 requests and 1,000 tokens a second) against a simulator with
// 50 ms latency whose buckets start empty. The ideal wall time is
// max(rows/RPM, tokens/TPM) minutes, tokens being what the simulator
// charged; "limit" is ideal/wall and "429/req" the share of attempts
// answered 429. "flags" gives the limits as --rpm/--tpm; "learned" gives
// none, so llmbatch must learn them from the x-ratelimit-* headers.
func BenchmarkLimited(b *testing.B) {
	const rpm, tpm, rows = 600, 60_000, 300
	for _, mode := range []string{"flags", "learned"} {
		b.Run(mode, func(b *testing.B) {
			input := writeBenchInput(b, b.TempDir(), rows)
			var ideal, wall time.Duration
			var requests, limited int64
			for b.Loop() {
				srv := sim.New(sim.Config{Latency: 50 * time.Millisecond, RPM: rpm, TPM: tpm, StartEmpty: true})
				base, err := srv.Start("")
				if err != nil {
					b.Fatal(err)
				}
				cfg := pipeline.Config{}
				if mode == "flags" {
					cfg.RPM, cfg.TPM = rpm, tpm
				}
				w, req, lim := benchJob(b, input, base, cfg)
				st := srv.Stats()
				srv.Close()
				tokens := st.InputTokens + int64(rows)*benchMaxOut
				ideal += time.Duration(max(float64(rows)/rpm, float64(tokens)/tpm) * float64(time.Minute))
				wall += w
				requests += req
				limited += lim
			}
			b.ReportMetric(ideal.Seconds()/wall.Seconds(), "limit")
			b.ReportMetric(float64(limited)/float64(requests), "429/req")
			b.ReportMetric(float64(rows)*float64(b.N)/wall.Seconds(), "rows/s")
		})
	}
}

// BenchmarkLatencyBound runs 4,800 rows with no limits at 200 ms latency
// and --concurrency 64: the ideal is 64 requests every 0.2 s, and "ideal"
// is achieved rows/s over that.
func BenchmarkLatencyBound(b *testing.B) {
	const conc, rows, latency = 64, 4800, 200 * time.Millisecond
	input := writeBenchInput(b, b.TempDir(), rows)
	var wall time.Duration
	for b.Loop() {
		srv := sim.New(sim.Config{Latency: latency})
		base, err := srv.Start("")
		if err != nil {
			b.Fatal(err)
		}
		w, _, _ := benchJob(b, input, base, pipeline.Config{Concurrency: conc})
		srv.Close()
		wall += w
	}
	achieved := float64(rows) * float64(b.N) / wall.Seconds()
	b.ReportMetric(achieved/(conc/latency.Seconds()), "ideal")
	b.ReportMetric(achieved, "rows/s")
}

// BenchmarkOverhead runs 20,000 rows with no limits at 0 latency and
// --concurrency 64, and a bare loop that sends the same request bodies
// with net/http from 64 goroutines and discards the answers. "bare" is
// llmbatch's rows/s over the loop's: what the journal, the request
// builder, retries, pacing and progress cost.
func BenchmarkOverhead(b *testing.B) {
	const conc, rows = 64, 20_000
	input := writeBenchInput(b, b.TempDir(), rows)
	bodies := make([][]byte, rows)
	for i := range bodies {
		bodies[i], _ = json.Marshal(map[string]any{"model": "gpt-4.1-mini", "input": benchText(i), "max_output_tokens": benchMaxOut})
	}
	var tool, bare time.Duration
	for b.Loop() {
		srv := sim.New(sim.Config{})
		base, err := srv.Start("")
		if err != nil {
			b.Fatal(err)
		}
		bare += bareLoop(b, base, bodies, conc)
		srv.Close()

		srv = sim.New(sim.Config{})
		if base, err = srv.Start(""); err != nil {
			b.Fatal(err)
		}
		w, _, _ := benchJob(b, input, base, pipeline.Config{Concurrency: conc})
		srv.Close()
		tool += w
	}
	b.ReportMetric(bare.Seconds()/tool.Seconds(), "bare")
	b.ReportMetric(float64(rows)*float64(b.N)/tool.Seconds(), "rows/s")
	b.ReportMetric(float64(rows)*float64(b.N)/bare.Seconds(), "bare-rows/s")
}

// bareLoop sends every body once from conc goroutines and returns the
// wall time.
func bareLoop(b *testing.B, base string, bodies [][]byte, conc int) time.Duration {
	return bareSend(b, base+"/responses", "", bodies, conc)
}

// BenchmarkMemory runs jobs of 10,000 and of benchMemoryRows rows at 0
// latency against a simulator in a child process (so that its memory does
// not count), sampling the heap every 20 ms; "heap-ratio" is the large
// job's peak heap over the small one's.
func BenchmarkMemory(b *testing.B) {
	const small, conc = 10_000, 64
	large := benchMemoryRows()
	base := startSimProcess(b)
	dir := b.TempDir()
	smallIn := filepath.Join(dir, "small")
	largeIn := filepath.Join(dir, "large")
	os.Mkdir(smallIn, 0o755)
	os.Mkdir(largeIn, 0o755)
	smallIn = writeBenchInput(b, smallIn, small)
	largeIn = writeBenchInput(b, largeIn, large)
	var peakSmall, peakLarge uint64
	var largeWall time.Duration
	for b.Loop() {
		p, _ := peakHeap(func() { benchJob(b, smallIn, base, pipeline.Config{Concurrency: conc}) })
		peakSmall = max(peakSmall, p)
		var w time.Duration
		p, w = peakHeap(func() { benchJob(b, largeIn, base, pipeline.Config{Concurrency: conc}) })
		peakLarge = max(peakLarge, p)
		largeWall += w
	}
	b.ReportMetric(float64(peakLarge)/float64(peakSmall), "heap-ratio")
	b.ReportMetric(float64(peakSmall)/(1<<20), "MiB-small")
	b.ReportMetric(float64(peakLarge)/(1<<20), "MiB-large")
	b.ReportMetric(float64(large), "rows-large")
	b.ReportMetric(float64(large)*float64(b.N)/largeWall.Seconds(), "rows/s")
}

// benchMemoryRows is the large job's size: 1,000,000 rows unless
// LLMBATCH_BENCH_MEMORY_ROWS says otherwise.
func benchMemoryRows() int {
	var n int
	if _, err := fmt.Sscan(os.Getenv("LLMBATCH_BENCH_MEMORY_ROWS"), &n); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}

// peakHeap runs f after a GC and returns the largest HeapAlloc sampled
// while it ran, and its wall time.
func peakHeap(f func()) (uint64, time.Duration) {
	runtime.GC()
	var peak atomic.Uint64
	sample := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		if ms.HeapAlloc > peak.Load() {
			peak.Store(ms.HeapAlloc)
		}
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				sample()
			case <-stop:
				return
			}
		}
	}()
	start := time.Now()
	f()
	wall := time.Since(start)
	close(stop)
	<-done
	sample()
	return peak.Load(), wall
}

// simProcessEnv makes the test binary serve a simulator instead of running
// tests (see TestMain).
const simProcessEnv = "LLMBATCH_BENCH_SIM_PROCESS"

// startSimProcess starts this test binary as a simulator in a child
// process and returns its base URL; the child ends when the benchmark does.
func startSimProcess(b *testing.B) string {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run", "^$")
	cmd.Env = append(os.Environ(), simProcessEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatalf("simulator process: %v", err)
	}
	return strings.TrimSpace(line)
}

// serveSimProcess serves a simulator, prints its base URL and returns when
// stdin closes.
func serveSimProcess() {
	srv := sim.New(sim.Config{})
	base, err := srv.Start("")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(base)
	io.Copy(io.Discard, os.Stdin)
	srv.Close()
}

func TestMain(m *testing.M) {
	if os.Getenv(simProcessEnv) != "" {
		serveSimProcess()
		return
	}
	os.Exit(m.Run())
}

// BenchmarkOpening measures how fast a job without flags opens its window:
// 4 x concurrency rows (four round trips at full concurrency) against a
// simulator with a fixed latency, without rate limits ("no-headers") and
// with limits far above what the job needs ("ample-headers", so that every
// answer carries x-ratelimit-* headers). "ideal" is rows/s over
// concurrency/latency; every round trip spent opening costs a quarter.
// "no-headers" also runs the bare net/http loop of BenchmarkOverhead over
// the same rows at the same concurrency: "bare-ideal" is its rows/s over
// concurrency/latency, what this machine allows any client (answers
// arrive in waves of concurrency, and each wave costs CPU).
// The 2 s case is the goal's (>= 0.93); the others are quicker to run:
//
//	go test -run '^$' -bench 'Opening/50ms' -benchtime 1x -count 3 ./pipeline/
func BenchmarkOpening(b *testing.B) {
	for _, c := range []struct {
		name    string
		conc    int
		latency time.Duration
	}{
		{"50ms-c64", 64, 50 * time.Millisecond},
		{"200ms-c1024", 1024, 200 * time.Millisecond},
		{"2s-c1024", 1024, 2 * time.Second},
	} {
		for _, headers := range []string{"no-headers", "ample-headers"} {
			b.Run(c.name+"/"+headers, func(b *testing.B) {
				rows := 4 * c.conc
				input := writeBenchInput(b, b.TempDir(), rows)
				var bodies [][]byte
				if headers == "no-headers" {
					for i := range rows {
						bodies = append(bodies, must(json.Marshal(map[string]any{"model": "gpt-4.1-mini", "input": benchText(i), "max_output_tokens": benchMaxOut})))
					}
				}
				var wall, bare time.Duration
				for b.Loop() {
					sc := sim.Config{Latency: c.latency}
					if headers == "ample-headers" {
						sc.RPM, sc.TPM = 100_000_000, 1_000_000_000
					}
					srv := sim.New(sc)
					base, err := srv.Start("")
					if err != nil {
						b.Fatal(err)
					}
					w, _, lim := benchJob(b, input, base, pipeline.Config{Concurrency: c.conc})
					srv.Close()
					if lim > 0 {
						b.Fatalf("%d rate-limited answers, want none", lim)
					}
					wall += w
					if bodies != nil {
						srv = sim.New(sc)
						if base, err = srv.Start(""); err != nil {
							b.Fatal(err)
						}
						bare += bareLoop(b, base, bodies, c.conc)
						srv.Close()
					}
				}
				ideal := float64(c.conc) / c.latency.Seconds()
				achieved := float64(rows) * float64(b.N) / wall.Seconds()
				b.ReportMetric(achieved/ideal, "ideal")
				b.ReportMetric(achieved, "rows/s")
				if bodies != nil {
					b.ReportMetric(float64(rows)*float64(b.N)/bare.Seconds()/ideal, "bare-ideal")
				}
			})
		}
	}
}
