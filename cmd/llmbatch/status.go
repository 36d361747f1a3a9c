package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"text/tabwriter"
	"time"

	"github.com/llmbatch/llmbatch/io/api"
	"github.com/llmbatch/llmbatch/io/httpapi"
	"github.com/llmbatch/llmbatch/io/prices"
	"github.com/llmbatch/llmbatch/io/results"
	"github.com/llmbatch/llmbatch/io/secret"
	"github.com/llmbatch/llmbatch/pipeline"
	"github.com/llmbatch/llmbatch/pipeline/batchapi"
)

const statusUsage = `Usage: llmbatch status [flags] RESULTS.jsonl...

Lists the batches of a --mode batch job: each batch's id, input file,
rows, state and request counts (read from the endpoint, unless --offline:
then as last journalled), and the cost of the rows journalled so far.
Several journals, a quoted glob of a job's shards
('results.shard-*.jsonl', checked to be one job's, missing and
unfinished shards named) or journals on object storage are shown one
after the other.

Flags:
`

// endpointOptions are the flags that reach the endpoint outside "run".
type endpointOptions struct {
	BaseURL, APIKeyEnv, AuthScheme string
	Header                         headerFlag
}

func (o *endpointOptions) register(fs *flag.FlagSet, env environ) {
	fs.StringVar(&o.BaseURL, "base-url", or(env.getenv("OPENAI_BASE_URL"), pipeline.DefaultBaseURL), "API root (env OPENAI_BASE_URL)")
	fs.StringVar(&o.APIKeyEnv, "api-key-env", "OPENAI_API_KEY", "name of the environment variable holding the API key")
	fs.StringVar(&o.AuthScheme, "auth-scheme", "bearer", "how to send the key: bearer or raw")
	fs.Var(&o.Header, "H", "extra request header 'Name: value' (repeatable)")
}

// client returns the endpoint's client, and env with its stderr redacted.
func (o *endpointOptions) client(cmd string, env environ) (*httpapi.Client, environ, error) {
	key := env.getenv(o.APIKeyEnv)
	if key == "" {
		return nil, env, usagef("%s: no API key: set %s", cmd, o.APIKeyEnv)
	}
	if red := secret.NewRedactor(key); red != nil {
		env.stderr = &secret.Writer{W: env.stderr, R: red}
	}
	return &httpapi.Client{BaseURL: o.BaseURL, APIKey: key, RawAuth: o.AuthScheme == "raw",
		Header: withSDKHeaders(o.Header.h, env.getenv), UserAgent: "llmbatch"}, env, nil
}

// batchesOf reads a journal's batches, its records' totals with them.
func batchesOf(path string) (*batchapi.State, *results.Totals, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, nil, usagef("%v", err)
	}
	st := batchapi.NewState()
	tot := results.NewTotals()
	_, err := results.ScanMarks(path, func(rec *results.Record) {
		tot.Add(rec)
		st.Add(rec, nil)
	}, func(m *results.Mark) { st.Add(nil, m) })
	if err != nil {
		return nil, nil, err
	}
	return st, tot, nil
}

// getBatch reads a batch's object.
func getBatch(ctx context.Context, c *httpapi.Client, method, path string) (*batchapi.Batch, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	ans, err := c.Do(ctx, method, path, nil, anyObject{})
	if err != nil {
		return nil, err
	}
	var b batchapi.Batch
	if err := json.Unmarshal(ans.Body, &b); err != nil {
		return nil, err
	}
	return &b, nil
}

// anyObject accepts any JSON object as a 2xx answer.
type anyObject struct{}

func (anyObject) Decode(body []byte) (api.Result, error) {
	var o map[string]json.RawMessage
	return api.Result{}, json.Unmarshal(body, &o)
}

func statusCmd(ctx context.Context, args []string, env environ) error {
	var eo endpointOptions
	fs := newFlagSet("status", env.stderr, statusUsage)
	eo.register(fs, env)
	offline := fs.Bool("offline", false, "do not ask the endpoint: show the states last journalled")
	pricesFile := fs.String("prices", "", "price table JSON merged over the embedded one")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("status: give a journal (usage: llmbatch status [flags] RESULTS.jsonl...)")
	}
	table, err := loadPrices(*pricesFile, "status")
	if err != nil {
		return err
	}
	// Several journals, a glob, shards (checked to be one job's, in shard
	// order), journals on object storage: as report reads them.
	paths, set, cleanup, err := journalArgs(ctx, "status", pos, env)
	if err != nil {
		return err
	}
	defer cleanup()
	var c *httpapi.Client
	for i, p := range paths {
		name := p
		if set != nil {
			name = set.Paths[i]
		}
		if len(paths) > 1 {
			if i > 0 {
				fmt.Fprintln(env.stdout)
			}
			fmt.Fprintf(env.stdout, "== %s\n", name)
		}
		st, tot, err := batchesOf(p)
		if err != nil {
			return err
		}
		if c == nil && !*offline && len(st.Batches) > 0 {
			if c, env, err = eo.client("status", env); err != nil {
				return err
			}
		}
		statusOf(ctx, env, c, st, tot, table)
	}
	return nil
}

// statusOf prints one journal's batches, read from the endpoint through c
// (nil: as journalled), and the cost of its rows so far.
func statusOf(ctx context.Context, env environ, c *httpapi.Client, st *batchapi.State, tot *results.Totals, table *prices.Table) {
	c0 := results.PriceTiers(table, tot.Usage, tot.Tiers)
	rows := fmt.Sprintf("rows journalled: %d ok, %d failed, %d to retry", tot.Count(results.OK), tot.Count(results.Failed), tot.Count(results.Retryable))
	cost := fmt.Sprintf("%s (list prices as of %s%s)", c0.Total, c0.AsOf, tierNote(&c0))
	if len(st.Batches) == 0 && len(st.Files) == 0 {
		fmt.Fprintf(env.stdout, "no batch: this job did not run with --mode batch (report shows its rows)\n%s; cost so far: %s\n", rows, cost)
		return
	}
	w := tabwriter.NewWriter(env.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "batch\tfile\trows\theld\tstatus\ttotal\tcompleted\tfailed\t")
	running := 0
	for _, b := range st.Batches {
		obj, note := b.Last, ""
		if c != nil && !b.Done() {
			got, err := getBatch(ctx, c, http.MethodGet, "/batches/"+b.ID)
			if err != nil {
				note = " (cannot read: " + err.Error() + ")"
			} else {
				obj = got
			}
		}
		status, rc := "unknown", batchapi.RequestCounts{}
		if obj != nil {
			status, rc = obj.Status, obj.RequestCounts
		}
		if !batchapi.Terminal(status) || b.File.Owned > 0 {
			running++
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%s%s\t%d\t%d\t%d\t\n", b.ID, b.File.ID, b.File.Lines, b.File.Owned, status, note, rc.Total, rc.Completed, rc.Failed)
	}
	for _, f := range st.Files {
		if f.Batch == nil && f.Owned > 0 {
			fmt.Fprintf(w, "(none)\t%s\t%d\t%d\tnot created\t\t\t\t\n", f.ID, f.Lines, f.Owned)
		}
	}
	w.Flush()
	fmt.Fprintf(env.stdout, "\n%d batch(es), %d not collected yet; %s\ncost so far (journalled rows): %s\n", len(st.Batches), running, rows, cost)
}

// cancelBatches cancels the journal's batches still running (cancel).
func cancelBatches(ctx context.Context, journal string, eo *endpointOptions, env environ) error {
	st := batchapi.NewState()
	j, _, err := results.Resume(journal, func(rec *results.Record) { st.Add(rec, nil) }, func(m *results.Mark) { st.Add(nil, m) }, nil)
	if errors.Is(err, results.ErrLocked) {
		return usagef("cancel: %v: a run is using the journal; interrupt it first (its batches keep running), then cancel", err)
	}
	if err != nil {
		return err
	}
	closed := false
	defer func() {
		if !closed {
			j.Close()
		}
	}()
	var todo []*batchapi.BatchInfo
	for _, b := range st.Batches {
		if !b.Done() {
			todo = append(todo, b)
		}
	}
	if len(todo) == 0 {
		fmt.Fprintln(env.stdout, "no batch of this journal is running")
		return nil
	}
	c, env, err := eo.client("cancel", env)
	if err != nil {
		return err
	}
	failed := 0
	for _, b := range todo {
		obj, err := getBatch(ctx, c, http.MethodPost, "/batches/"+b.ID+"/cancel")
		var he *httpapi.Error
		if errors.As(err, &he) && he.StatusCode == http.StatusConflict {
			// Ended already: journal its state as it is.
			obj, err = getBatch(ctx, c, http.MethodGet, "/batches/"+b.ID)
		}
		if err != nil {
			failed++
			fmt.Fprintf(env.stdout, "%s: cannot cancel: %v\n", b.ID, err)
			continue
		}
		data, _ := json.Marshal(obj)
		if err := j.AddMark(&results.Mark{Kind: batchapi.KindState, ID: b.ID, Data: data, Time: time.Now().UTC()}); err != nil {
			return err
		}
		if _, err := j.Flush(); err != nil {
			return err
		}
		if err := j.Sync(); err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "%s: %s (%d of %d lines completed, %d failed)\n", b.ID, obj.Status, obj.RequestCounts.Completed, obj.RequestCounts.Total, obj.RequestCounts.Failed)
	}
	fmt.Fprintf(env.stdout, "run the same command again to collect what the cancelled batches answered (billed) and to send the rest\n")
	if failed > 0 {
		return fmt.Errorf("cancel: %d batch(es) could not be cancelled", failed)
	}
	closed = true
	return j.Close()
}
