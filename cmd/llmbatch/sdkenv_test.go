package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/llmbatch/llmbatch/io/sim"
)

// TestRun_SDKEnvHeaders runs the CLI against the simulator behind a
// gateway that records the OpenAI-Organization and OpenAI-Project headers
// of every request: the environment variables send them, -H overrides
// them, and without the variables none are sent.
func TestRun_SDKEnvHeaders(t *testing.T) {
	s := sim.New(sim.Config{Seed: 1, APIKey: "sk-test"})
	if _, err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var (
		mu   sync.Mutex
		seen []http.Header
	)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, http.Header{
			"Openai-Organization": r.Header.Values("OpenAI-Organization"),
			"Openai-Project":      r.Header.Values("OpenAI-Project"),
		})
		mu.Unlock()
		s.ServeHTTP(w, r)
	}))
	defer front.Close()
	in := filepath.Join(examplesDir(t), "reviews.jsonl")
	for _, tc := range []struct {
		name              string
		vars              map[string]string
		extra             []string
		wantOrg, wantProj []string
	}{
		{"env", map[string]string{"OPENAI_ORG_ID": "org-abc", "OPENAI_PROJECT_ID": "proj_xyz"}, nil,
			[]string{"org-abc"}, []string{"proj_xyz"}},
		{"org only", map[string]string{"OPENAI_ORG_ID": "org-abc"}, nil, []string{"org-abc"}, nil},
		{"-H wins", map[string]string{"OPENAI_ORG_ID": "org-abc", "OPENAI_PROJECT_ID": "proj_xyz"},
			[]string{"-H", "openai-organization: org-flag"}, []string{"org-flag"}, []string{"proj_xyz"}},
		{"none", nil, nil, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			seen = nil
			mu.Unlock()
			vars := map[string]string{"OPENAI_API_KEY": "sk-test"}
			for k, v := range tc.vars {
				vars[k] = v
			}
			env, _, stderr := testEnv(vars)
			args := append([]string{"run", "--base-url", front.URL + "/v1", "--model", "gpt-5-mini", "--max-attempts", "1",
				"-o", filepath.Join(t.TempDir(), "out.jsonl")}, tc.extra...)
			if code := run(context.Background(), append(args, in), env); code != exitOK {
				t.Fatalf("exit %d\n%s", code, stderr)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(seen) == 0 {
				t.Fatal("no request reached the gateway")
			}
			for _, h := range seen {
				if !slices.Equal(h["Openai-Organization"], tc.wantOrg) || !slices.Equal(h["Openai-Project"], tc.wantProj) {
					t.Fatalf("request headers: organization %q project %q; want %q %q",
						h["Openai-Organization"], h["Openai-Project"], tc.wantOrg, tc.wantProj)
				}
			}
		})
	}
}

// TestWithSDKHeaders_DoesNotModifyHeader: the -H header set is the
// caller's; the variables' headers go into a copy.
func TestWithSDKHeaders_DoesNotModifyHeader(t *testing.T) {
	if h := withSDKHeaders(nil, func(string) string { return "" }); h != nil {
		t.Errorf("no variables: headers %v, want none", h)
	}
	mine := http.Header{"X-Gateway": {"1"}}
	h := withSDKHeaders(mine, func(k string) string { return k + "-value" })
	if len(mine) != 1 || h.Get("OpenAI-Project") != "OPENAI_PROJECT_ID-value" || h.Get("X-Gateway") != "1" {
		t.Errorf("got %v from %v", h, mine)
	}
}
