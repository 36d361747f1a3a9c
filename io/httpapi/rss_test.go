package httpapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/llmbatch/llmbatch/io/httpapi"
	"github.com/llmbatch/llmbatch/io/responses"
)

// TestPeakRSSOversizedAnswers measures the peak RSS of the process while
// 16 answers of 200 MB, chunked (no Content-Length), are read at once
// with the default body limit. It runs only when asked:
//
//	LLMBATCH_MEASURE_RSS=1 go test -run PeakRSS -v ./io/httpapi/
func TestPeakRSSOversizedAnswers(t *testing.T) {
	if os.Getenv("LLMBATCH_MEASURE_RSS") == "" {
		t.Skip("set LLMBATCH_MEASURE_RSS=1 to measure")
	}
	const inFlight, size = 16, 200 << 20
	chunk := []byte(`{"pad":"` + strings.Repeat("x", 64<<10) + `"}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		for n := 0; n < size; n += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	c := &httpapi.Client{BaseURL: srv.URL}
	var wg sync.WaitGroup
	for range inFlight {
		wg.Go(func() {
			_, err := c.Send(context.Background(), "/responses", []byte(`{}`), responses.API{})
			if e, ok := err.(*httpapi.Error); !ok || e.Code != httpapi.CodeTooLarge {
				t.Errorf("Send() = %v, want %s", err, httpapi.CodeTooLarge)
			}
		})
	}
	wg.Wait()
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM") {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			t.Logf("%d oversized answers in flight (limit %d MiB): peak RSS %s, heap peak sys %d MiB", inFlight, httpapi.DefaultMaxBodyBytes>>20, strings.TrimSpace(strings.TrimPrefix(l, "VmHWM:")), ms.HeapSys>>20)
		}
	}
}
