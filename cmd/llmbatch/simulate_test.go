package main

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/llmbatch/llmbatch/io/sim"
)

func TestSimulate_Help(t *testing.T) {
	env, stdout, stderr := testEnv(nil)
	if code := run(context.Background(), []string{"simulate", "-h"}, env); code != exitOK {
		t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitOK, stderr)
	}
	help := stdout.String() + stderr.String()
	for _, want := range []string{"/v1/chat/completions", "/v1/embeddings", "-no-responses", "-shuffle-embeddings", "deepseek"} {
		if !strings.Contains(help, want) {
			t.Errorf("simulate -h lacks %q:\n%s", want, help)
		}
	}
}

// TestSimulate_EndpointFlags runs `llmbatch simulate` with the endpoint
// switches and talks to it over loopback.
func TestSimulate_EndpointFlags(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout, stderr := new(syncBuffer), new(syncBuffer)
	env := environ{getenv: func(string) string { return "" }, stdin: strings.NewReader(""), stdout: stdout, stderr: stderr}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"simulate", "--addr", "127.0.0.1:0", "-seed", "3",
			"-no-responses", "-shuffle-embeddings", "-usage", "deepseek"}, env)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(stdout.String(), "\n") {
		if time.Now().After(deadline) {
			t.Fatalf("simulate printed no URL; stderr:\n%s", stderr)
		}
		time.Sleep(5 * time.Millisecond)
	}
	base := strings.TrimSpace(stdout.String())
	if !strings.Contains(stderr.String(), "/responses answers 404") {
		t.Errorf("stderr does not say /responses is off:\n%s", stderr)
	}
	postJSON := func(path, body string) (int, []byte) {
		t.Helper()
		resp, err := http.Post(base+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}

	if status, body := postJSON("/responses", `{"model":"gpt-4o","input":"x"}`); status != http.StatusNotFound {
		t.Errorf("POST /responses = %d %s, want 404", status, body)
	}
	status, body := postJSON("/chat/completions", `{"model":"deepseek-chat","messages":[{"role":"user","content":"hello there"}]}`)
	if status != http.StatusOK || !strings.Contains(string(body), `"prompt_cache_miss_tokens"`) || !strings.Contains(string(body), `"chat.completion"`) {
		t.Errorf("POST /chat/completions = %d %s, want 200 with DeepSeek usage", status, body)
	}

	texts := make([]string, 20)
	for i := range texts {
		texts[i] = fmt.Sprintf("row %d", i)
	}
	in, _ := json.Marshal(texts)
	status, body = postJSON("/embeddings", fmt.Sprintf(`{"model":"text-embedding-3-small","input":%s,"dimensions":4,"encoding_format":"base64"}`, in))
	var e struct {
		Data []struct {
			Index     int    `json:"index"`
			Embedding string `json:"embedding"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &e); err != nil || status != http.StatusOK || len(e.Data) != len(texts) {
		t.Fatalf("POST /embeddings = %d %s (%v)", status, body, err)
	}
	var order []int
	for _, d := range e.Data {
		order = append(order, d.Index)
		raw, _ := base64.StdEncoding.DecodeString(d.Embedding)
		var v []float32
		for i := 0; i+4 <= len(raw); i += 4 {
			v = append(v, math.Float32frombits(binary.LittleEndian.Uint32(raw[i:])))
		}
		if want := sim.Embedding("text-embedding-3-small", texts[d.Index], 4); !slices.Equal(v, want) {
			t.Errorf("index %d: vector %v, want %v", d.Index, v, want)
		}
	}
	if slices.IsSorted(order) {
		t.Errorf("-shuffle-embeddings: order %v is not shuffled", order)
	}

	cancel()
	if code := <-done; code != exitOK {
		t.Errorf("exit %d, want %d; stderr:\n%s", code, exitOK, stderr)
	}
}
