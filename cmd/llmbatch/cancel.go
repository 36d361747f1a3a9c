package main

import (
	"context"
	"fmt"
	"net/http"

	"github.com/llmbatch/llmbatch/io/httpapi"
	"github.com/llmbatch/llmbatch/io/secret"
	"github.com/llmbatch/llmbatch/pipeline"
	"github.com/llmbatch/llmbatch/pipeline/background"
)

const cancelUsage = `Usage: llmbatch cancel [flags] RESULTS.jsonl

Cancels the background responses (run --mode background) that the journal
holds ids of and no result for: those still running server-side, billed,
after an interrupted or killed run. Each outcome is journalled: a cancelled
response fails its row with code "cancelled" (--retry-failed sends it
again); one that had already ended is journalled as its row's result. A
response no longer stored leaves its row pending. The journal must not be
in use by a running job.

Exit status: 0 every running response was cancelled or collected; 1 some
may still be running (re-run cancel); 2 bad usage; 3 a fatal endpoint
answer (bad key); 130 interrupted.

Flags:
`

// cancelCmd is "llmbatch cancel": the running background responses of a
// journal are cancelled (the Batch API mode may add its batches here).
func cancelCmd(ctx context.Context, args []string, env environ) error {
	var (
		baseURL, keyEnv, scheme string
		hdr                     headerFlag
	)
	fs := newFlagSet("cancel", env.stderr, cancelUsage)
	fs.StringVar(&baseURL, "base-url", or(env.getenv("OPENAI_BASE_URL"), pipeline.DefaultBaseURL), "API root the job ran against (env OPENAI_BASE_URL)")
	fs.StringVar(&keyEnv, "api-key-env", "OPENAI_API_KEY", "name of the environment variable holding the API key")
	fs.StringVar(&scheme, "auth-scheme", "bearer", "how to send the key: bearer or raw")
	fs.Var(&hdr, "H", "extra request header 'Name: value' (repeatable)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) != 1:
		return usagef("cancel: give one journal (usage: llmbatch cancel [flags] RESULTS.jsonl)")
	case scheme != "bearer" && scheme != "raw":
		return usagef("cancel: --auth-scheme must be bearer or raw, not %q", scheme)
	}
	key := env.getenv(keyEnv)
	if key == "" {
		return usagef("cancel: no API key: set %s", keyEnv)
	}
	red := secret.NewRedactor(key)
	if red != nil {
		env.stderr = &secret.Writer{W: env.stderr, R: red}
	}
	logger := newLogger(env, "text", false)
	client := &httpapi.Client{BaseURL: baseURL, APIKey: key, RawAuth: scheme == "raw", Header: withSDKHeaders(hdr.h, env.getenv),
		HTTPClient: &http.Client{CheckRedirect: httpapi.CheckRedirect}, UserAgent: "llmbatch"}
	res, err := background.Cancel(ctx, pos[0], client, red, logger)
	if res.Running == 0 && err == nil {
		fmt.Fprintf(env.stderr, "cancel: %s holds no background response still running\n", pos[0])
		return nil
	}
	fmt.Fprintf(env.stderr, "cancel: %d background responses were running: %d cancelled, %d had ended (their results journalled), %d no longer stored (rows pending), %d may still be running\n",
		res.Running, res.Cancelled, res.Finished, res.Gone, res.Left)
	if err != nil {
		return err
	}
	if res.Left > 0 {
		return fmt.Errorf("cancel: %d responses may still be running: run cancel again", res.Left)
	}
	return nil
}
