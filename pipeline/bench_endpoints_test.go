package pipeline_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/llmbatch/llmbatch/pipeline"
)

// benchKey is an API key of a realistic length (a project key's 164
// characters): the redactor looks for it in every journal line.
var benchKey = "sk-proj-" + strings.Repeat("Ab3x", 39)

// instantServer answers every request at once with a canned answer of
// the endpoint's shape (for embeddings, one vector of 256 dimensions per
// input): an independent endpoint that costs next to nothing, so that
// what is measured is the client.
func instantServer(tb testing.TB) string {
	tb.Helper()
	resp := []byte(`{"id":"resp_1","object":"response","status":"completed","model":"gpt-4.1-mini","output":[{"type":"message","role":"assistant","content":[{"type":"output_text","text":"positive","annotations":[]}]}],"usage":{"input_tokens":84,"input_tokens_details":{"cached_tokens":0},"output_tokens":2,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":86}}`)
	chat := []byte(`{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4.1-mini","choices":[{"index":0,"message":{"role":"assistant","content":"positive","refusal":null},"finish_reason":"stop"}],"usage":{"prompt_tokens":84,"completion_tokens":2,"total_tokens":86}}`)
	vec := `"` + strings.Repeat("A", 1024) + `"` // 192 float32s in base64
	var mu sync.Mutex
	embed := map[int][]byte{}
	embedAnswer := func(n int) []byte {
		mu.Lock()
		defer mu.Unlock()
		if b, ok := embed[n]; ok {
			return b
		}
		var b bytes.Buffer
		b.WriteString(`{"object":"list","data":[`)
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"object":"embedding","index":%d,"embedding":%s}`, i, vec)
		}
		fmt.Fprintf(&b, `],"model":"text-embedding-3-small","usage":{"prompt_tokens":%d,"total_tokens":%d}}`, 80*n, 80*n)
		embed[n] = b.Bytes()
		return embed[n]
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.HasSuffix(r.URL.Path, "/responses"):
			w.Write(resp)
		case strings.HasSuffix(r.URL.Path, "/chat/completions"):
			w.Write(chat)
		case strings.HasSuffix(r.URL.Path, "/embeddings"):
			var in struct {
				Input json.RawMessage `json:"input"`
			}
			json.Unmarshal(body, &in)
			n := 1
			if bytes.HasPrefix(in.Input, []byte("[")) {
				n = bytes.Count(in.Input, []byte(`","`)) + 1
			}
			w.Write(embedAnswer(n))
		default:
			http.NotFound(w, r)
		}
	}))
	tb.Cleanup(srv.Close)
	return srv.URL + "/v1"
}

// BenchmarkEndpoints runs 20,000 rows per endpoint at --concurrency 64
// against instantServer, side by side with a bare loop that sends the
// same requests (for embeddings, the same packs of 128) with net/http from
// 64 goroutines and discards the answers. "bare" is llmbatch's rows/s
// over the loop's: what reading, building, pacing, decoding, journalling
// and the summary cost per row.
//
//	go test -run '^$' -bench BenchmarkEndpoints -benchtime 1x -count 3 ./pipeline/
//
// "bare-cpu" is the same ratio in the process's CPU time (both sides
// share the server's), "tool-cpu-us/row" llmbatch's CPU time a row.
// LLMBATCH_BENCH_ONLY=tool (or bare) runs one side alone, for a profile.
func BenchmarkEndpoints(b *testing.B) {
	const conc, rows = 64, 20_000
	for _, name := range pipeline.APINames() {
		b.Run(name, func(b *testing.B) {
			base := instantServer(b)
			input := writeBenchInput(b, b.TempDir(), rows)
			a, _ := pipeline.LookupAPI(name)
			model, pack := "gpt-4.1-mini", 1
			if name == "embeddings" {
				model, pack = "text-embedding-3-small", pipeline.DefaultPackSize
			}
			var bodies [][]byte
			for i := 0; i < rows; i += pack {
				var body []byte
				switch name {
				case "responses":
					body, _ = json.Marshal(map[string]any{"model": model, "input": benchText(i), "max_output_tokens": benchMaxOut})
				case "chat":
					body, _ = json.Marshal(map[string]any{"model": model, "messages": []any{map[string]any{"role": "user", "content": benchText(i)}}, "max_completion_tokens": benchMaxOut})
				case "embeddings":
					var in []string
					for j := i; j < min(i+pack, rows); j++ {
						in = append(in, benchText(j))
					}
					body, _ = json.Marshal(map[string]any{"model": model, "input": in, "encoding_format": "base64"})
				}
				bodies = append(bodies, body)
			}
			var tool, bare, toolCPU, bareCPU time.Duration
			for b.Loop() {
				// Each side starts from a collected heap: else the one that
				// runs second inherits the heap goal the first one grew.
				runtime.GC()
				c0 := cpuTime()
				if os.Getenv("LLMBATCH_BENCH_ONLY") != "tool" {
					bare += bareSend(b, base+a.Path(), benchKey, bodies, conc)
				}
				c1 := cpuTime()
				bareCPU += c1 - c0
				if os.Getenv("LLMBATCH_BENCH_ONLY") == "bare" {
					continue
				}
				cfg := pipeline.Config{Source: pipeline.Source{Input: input}, Template: pipeline.Template{API: a, Model: model, Prompt: "{{.text}}"}, Concurrency: conc, APIKey: benchKey,
					Output: b.TempDir() + "/out.jsonl", BaseURL: base}
				if name != "embeddings" {
					cfg.Body = fmt.Appendf(nil, `{"%s":%d}`, a.OutputCap(), benchMaxOut)
				}
				runtime.GC()
				c2 := cpuTime()
				start := time.Now()
				sum, err := pipeline.Run(b.Context(), cfg)
				tool += time.Since(start)
				toolCPU += cpuTime() - c2
				if err != nil || sum.Rows.OK != rows {
					b.Fatalf("Run: %v, rows %+v", err, sum.Rows)
				}
			}
			b.ReportMetric(bare.Seconds()/tool.Seconds(), "bare")
			b.ReportMetric(toolCPU.Seconds()*1e6/float64(rows)/float64(b.N), "tool-cpu-us/row")
			b.ReportMetric(bareCPU.Seconds()/toolCPU.Seconds(), "bare-cpu")
			b.ReportMetric(float64(rows)*float64(b.N)/tool.Seconds(), "rows/s")
			b.ReportMetric(float64(rows)*float64(b.N)/bare.Seconds(), "bare-rows/s")
		})
	}
}

// bareSend posts every body once to url from conc goroutines, with key as
// a bearer token when not empty, and returns the wall time.
func bareSend(b *testing.B, url, key string, bodies [][]byte, conc int) time.Duration {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = conc
	hc := &http.Client{Transport: t}
	defer t.CloseIdleConnections()
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range conc {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(len(bodies)) {
					return
				}
				req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(bodies[i]))
				req.Header.Set("Content-Type", "application/json")
				if key != "" {
					req.Header.Set("Authorization", "Bearer "+key)
				}
				resp, err := hc.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		b.Fatalf("bare loop: %d requests failed", n)
	}
	return time.Since(start)
}

// cpuTime is the process's CPU time so far (user and system).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
