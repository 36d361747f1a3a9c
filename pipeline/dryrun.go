package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/llmbatch/llmbatch/io/httpapi"
	"github.com/llmbatch/llmbatch/io/rows"
	"github.com/llmbatch/llmbatch/io/secret"
)

// DryRun writes to w the first requests the job cfg describes would send,
// as they would be sent: method and URL, the headers, a blank line and the
// body, each request after a "# " comment line naming its row. The API key
// is masked wherever it appears (see MaskKey). With cfg.Limit positive it
// prints the requests Run with that Limit would send (those of the first
// Limit rows, bad rows counted: Limit requests, or fewer packed ones for
// an API that packs rows); else the first request only. Bad rows met on
// the way are named in comment lines and skipped (with Strict, the first
// one is a *UsageError, as in Run). Duplicate keys are not looked for.
//
// DryRun sends nothing and creates, opens or changes no file but the input
// it reads: no journal, lock or summary. It does not read the journal
// either, so it shows the input's first rows even when a resumed run
// would skip them as finished. cfg.Endpoint, when set, is not used: the
// request shown is the one the built-in client makes.
func DryRun(ctx context.Context, cfg Config, w io.Writer) error {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return err
	}
	b, err := newBuilder(&cfg)
	if err != nil {
		return err
	}
	ropts := cfg.rowsOptions(b)
	reader, closer, err := rows.Open(cfg.Input, ropts)
	if err != nil {
		return &UsageError{Err: err}
	}
	defer closer.Close()
	pk, err := newPacker(&cfg, cfg.api())
	if err != nil {
		return err
	}
	client := cfg.newClient(nil)
	want := int64(1)
	if cfg.Limit > 0 {
		want = cfg.Limit // a request holds at least one row
	}
	var shown int64
	show := func(reqs ...*Request) error {
		for _, req := range reqs {
			if shown >= want {
				return nil
			}
			shown++
			if err := printRequest(ctx, w, client, &cfg, req, shown); err != nil {
				return err
			}
		}
		return nil
	}
	var read int64
	for shown < want {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("%w: %w", ErrInterrupted, err)
		}
		var err error
		var row rows.Row
		if cfg.Limit > 0 && read >= cfg.Limit {
			err = io.EOF // as Run: the input ends after Limit rows
		} else {
			row, err = reader.Next()
		}
		if err == io.EOF {
			if read == 0 {
				return &UsageError{Err: fmt.Errorf("%s: %w", cfg.Input, rows.ErrEmptyInput)}
			}
			if pk != nil {
				if err := show(pk.flush()...); err != nil {
					return err
				}
			}
			break
		}
		read++
		var rowErr *rows.RowError
		if err != nil && !errors.As(err, &rowErr) {
			return &UsageError{Err: fmt.Errorf("read input: %w", err)}
		}
		var req *Request
		if err == nil {
			req, err = b.build(&row)
			var uerr *UsageError
			if errors.As(err, &uerr) {
				return err
			}
			if err != nil {
				rowErr = &rows.RowError{File: cfg.Input, Line: row.Line, Index: row.Index, Err: err}
			}
		}
		if rowErr != nil && cfg.Strict {
			return &UsageError{Err: fmt.Errorf("%w (%s: stopped at the first bad row)", rowErr, cfg.name("Strict"))}
		}
		if rowErr != nil {
			fmt.Fprintf(w, "# bad row, skipped (a run journals it as failed): %s\n\n", secret.NewRedactor(cfg.APIKey).String(rowErr.Error()))
			continue
		}
		if pk == nil {
			err = show(req)
		} else {
			err = show(pk.add(req)...)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// printRequest writes req as client would send it, the key masked.
func printRequest(ctx context.Context, w io.Writer, client *httpapi.Client, cfg *Config, req *Request, n int64) error {
	hr, err := client.Request(ctx, req.api.Path(), req.body)
	if err != nil {
		return &UsageError{Err: fmt.Errorf("cannot build the request: %w", err)}
	}
	var b strings.Builder
	what := fmt.Sprintf("key %q", req.key)
	if req.pack != nil {
		what = fmt.Sprintf("%d rows, keys %q to %q", len(req.pack.rows), req.pack.rows[0].key, req.pack.rows[len(req.pack.rows)-1].key)
	}
	fmt.Fprintf(&b, "# request %d (%s): dry run, not sent\n", n, what)
	fmt.Fprintf(&b, "%s %s\n", hr.Method, hr.URL.Redacted())
	names := slices.Sorted(maps.Keys(hr.Header))
	for _, name := range names {
		for _, v := range hr.Header[name] {
			fmt.Fprintf(&b, "%s: %s\n", name, maskHeader(name, v, cfg.APIKey))
		}
	}
	red := secret.NewRedactor(cfg.APIKey)
	fmt.Fprintf(&b, "\n%s\n\n", red.JSON(req.body))
	_, err = io.WriteString(w, b.String())
	return err
}

// maskHeader masks the key in one header value: the Authorization value
// always (a short key too), others wherever a key of MinKeyLen bytes or
// more appears in them.
func maskHeader(name, v, key string) string {
	if key == "" {
		return v
	}
	if strings.EqualFold(name, "Authorization") {
		if rest, ok := strings.CutPrefix(v, "Bearer "); ok && rest == key {
			return "Bearer " + MaskKey(key)
		}
		if v == key {
			return MaskKey(key)
		}
	}
	if v == key {
		return MaskKey(key)
	}
	if len(key) >= secret.MinKeyLen {
		return strings.ReplaceAll(v, key, MaskKey(key))
	}
	return v
}

// MaskKey shows a key the way a person recognizes it without learning it:
// its last 4 characters after "..." ("sk-" kept in front when the key starts
// with it, as OpenAI's dashboard shows keys), or "***" for a key shorter
// than secret.MinKeyLen (8) bytes, whose last 4 would be half of it.
func MaskKey(key string) string {
	if len(key) < secret.MinKeyLen {
		return "***"
	}
	prefix := ""
	if strings.HasPrefix(key, "sk-") {
		prefix = "sk-"
	}
	return prefix + "..." + key[len(key)-4:]
}
