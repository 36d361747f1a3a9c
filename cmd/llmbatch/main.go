// Command llmbatch runs bulk prompts through an OpenAI-compatible
// /v1/responses endpoint, with retries, pacing, a resumable results
// journal, and usage totals.
//
//	llmbatch run      [flags] INPUT    run or resume a job
//	llmbatch estimate [flags] INPUT    count tokens offline and price the job before running it
//	llmbatch report   RESULTS.jsonl    rows, errors, usage, cost, retries, latency of a journal
//	llmbatch export   RESULTS.jsonl -o FILE.parquet|FILE.csv
//	llmbatch status   RESULTS.jsonl    the batches of a --mode batch job
//	llmbatch cancel   RESULTS.jsonl    cancel a job's background responses or batches still running
//	llmbatch simulate [flags]          serve the simulated endpoint on loopback
//	llmbatch version                   the version and commit of this binary
//	llmbatch completion bash|zsh|fish  print a shell completion script
//
// Run "llmbatch COMMAND -h" for a command's flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"golang.org/x/term"

	"github.com/llmbatch/llmbatch/io/results"
	"github.com/llmbatch/llmbatch/pipeline"
)

// Exit statuses (README "Progress and exit status").
const (
	exitOK          = 0
	exitRowsFailed  = 1
	exitUsage       = 2
	exitStopped     = 3
	exitInterrupted = 130
)

func main() {
	// The first interrupt (Ctrl-C, SIGTERM, or SIGHUP: a job whose
	// terminal closes drains and writes its summary like an interrupted
	// one) cancels the context: "run" stops sending and drains, printing
	// what it does (runJob: interruptNotice). A second one quits at once,
	// with one line saying so, and exit status 130.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	ctx, cancel := context.WithCancel(context.Background())
	q := &quitter{w: os.Stderr, exit: os.Exit}
	go func() {
		<-sigs
		cancel()
		<-sigs
		q.quit()
	}()
	env := environ{getenv: os.Getenv, stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr,
		isTTY:     func() bool { return term.IsTerminal(int(os.Stderr.Fd())) },
		termWidth: func() int { w, _, _ := term.GetSize(int(os.Stderr.Fd())); return w },
		quit:      q}
	os.Exit(run(ctx, os.Args[1:], env))
}

// quitter ends the process on a second interrupt: it prints the line the
// running command set (else a plain one) and exits 130.
type quitter struct {
	mu   sync.Mutex
	line func() // prints the line; set by the command
	w    io.Writer
	exit func(int)
}

// setLine sets what quit prints.
func (q *quitter) setLine(f func()) {
	if q == nil {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.line = f
}

func (q *quitter) quit() {
	q.mu.Lock()
	line := q.line
	q.mu.Unlock()
	if line != nil {
		line()
	} else {
		fmt.Fprintln(q.w, "llmbatch: interrupted again: quitting now")
	}
	q.exit(exitInterrupted)
}

// environ is what a command may touch of the process: tests pass their own.
type environ struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	// isTTY reports whether stderr is a terminal; nil means it is not.
	isTTY func() bool
	// termWidth returns stderr's terminal width in columns, read anew at
	// each call (a terminal may be resized); nil or 0: unknown.
	termWidth func() int
	// quit, when set, is what a second interrupt does (main); a command
	// sets the line it prints.
	quit *quitter
	// log, when set (run --log-format json), is what exitCode writes the
	// final error through, as a record; nil: a plain line on stderr.
	log *slog.Logger
}

const usage = `llmbatch runs bulk prompts through an OpenAI-compatible endpoint:
/v1/responses (default), /v1/chat/completions or /v1/embeddings (--endpoint).

Usage:
  llmbatch run      [flags] INPUT     run or resume a job (INPUT: .jsonl, .ndjson, .csv, .tsv, .parquet, or - for JSONL on stdin)
  llmbatch estimate [flags] INPUT     count tokens offline and price the job before running it
  llmbatch report   RESULTS.jsonl...  rows, errors, usage, cost, retries, latency of journals
  llmbatch export   RESULTS.jsonl... -o FILE   write journals as Parquet or CSV (FILE: .parquet or .csv)
  llmbatch status   RESULTS.jsonl     the batches of a --mode batch job: states, counts, cost so far
  llmbatch cancel   RESULTS.jsonl     cancel what a --mode background or batch job left running
  llmbatch simulate [flags]           serve the simulated endpoint on loopback
  llmbatch prices   [--prices FILE]   print the price table in use
  llmbatch version                    the version and commit of this binary
  llmbatch completion bash|zsh|fish   print a shell completion script

Start here (no key, no server):
  llmbatch run --sim examples/reviews.jsonl -o results.jsonl

Run "llmbatch COMMAND -h" or "llmbatch help COMMAND" for a command's flags.
`

func run(ctx context.Context, args []string, env environ) int {
	if env.isTTY == nil {
		env.isTTY = func() bool { return false }
	}
	if len(args) == 0 {
		fmt.Fprint(env.stderr, usage)
		return exitUsage
	}
	var err error
	switch args[0] {
	case "run":
		return runJob(ctx, args[1:], env)
	case "simulate":
		err = simulate(ctx, args[1:], env)
	case "estimate":
		err = estimate(ctx, args[1:], env)
	case "report":
		err = report(ctx, args[1:], env)
	case "export":
		err = export(ctx, args[1:], env)
	case "cancel":
		err = cancelCmd(ctx, args[1:], env)
	case "prices":
		err = pricesCmd(ctx, args[1:], env)
	case "status":
		err = statusCmd(ctx, args[1:], env)
	case "completion":
		err = completion(ctx, args[1:], env)
	case "version", "-version", "--version":
		printVersion(env)
		return exitOK
	case "-h", "-help", "--help", "help":
		if len(args) > 1 && args[0] == "help" && args[1] != "help" {
			return run(ctx, []string{args[1], "-h"}, env) // "help run" is "run -h"
		}
		fmt.Fprint(env.stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(env.stderr, "llmbatch: unknown command %q\n\n%s", args[0], usage)
		return exitUsage
	}
	return exitCode(err, nil, env)
}

// exitCode maps an error (and a finished job's summary) to the exit status,
// printing the error. It is the one place that does so.
func exitCode(err error, sum *results.Summary, env environ) int {
	var (
		uerr *pipeline.UsageError
		serr *pipeline.StopError
	)
	switch {
	case err == nil:
		if sum != nil && (sum.Rows.Failed > 0 || sum.Rows.Retryable > 0) {
			return exitRowsFailed
		}
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.Is(err, pipeline.ErrBaseURL):
		return printExit(env, exitUsage, "", fmt.Sprintf("%v; set it with --base-url or OPENAI_BASE_URL", err))
	case errors.As(err, &uerr), errors.As(err, &usageErr{}):
		return printExit(env, exitUsage, "", err.Error())
	case errors.As(err, &serr):
		return printExit(env, exitStopped, "stopped", err.Error())
	case errors.Is(err, pipeline.ErrInterrupted), errors.Is(err, context.Canceled):
		return printExit(env, exitInterrupted, "interrupted", "finished rows are in the journal: re-run the same command to resume")
	default:
		// Not the user's mistake (that is a usage error) but something
		// that went wrong underway: a failed write, an internal error.
		return printExit(env, exitRowsFailed, "", err.Error())
	}
}

// printExit prints the line that ends a command with status code:
// "llmbatch: [what: ]detail", or with env.log an error record whose
// message is what (else "error"), with the detail and the exit status.
func printExit(env environ, code int, what, detail string) int {
	if env.log != nil {
		msg, level, key := what, slog.LevelError, "error"
		if msg == "" {
			msg = "error"
		}
		if code == exitInterrupted {
			level, key = slog.LevelWarn, "hint"
		}
		env.log.Log(context.Background(), level, msg, key, detail, "exit_status", code)
		return code
	}
	if what == "interrupted" {
		fmt.Fprintf(env.stderr, "llmbatch: %s; %s\n", what, detail)
	} else if what != "" {
		fmt.Fprintf(env.stderr, "llmbatch: %s: %s\n", what, detail)
	} else {
		fmt.Fprintf(env.stderr, "llmbatch: %s\n", detail)
	}
	return code
}

// usageErr is a command-line mistake (exit status 2).
type usageErr struct{ msg string }

func (e usageErr) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageErr{fmt.Sprintf(format, a...)} }
