package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// parseInterspersed parses args with fs, allowing flags after positional
// arguments ("run INPUT -o out.jsonl"), and returns the positional ones.
// Everything after "--" is positional.
//
// A mistake (an unknown flag, a bad value) is one line pointing to -h,
// not the whole usage: the flag package would print the usage on any
// error, so fs prints it here only for -h.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	printUsage := fs.Usage
	fs.Usage = func() {}
	defer func() { fs.Usage = printUsage }()
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if err == flag.ErrHelp {
				printUsage()
				return nil, err
			}
			return nil, usageErr{fmt.Sprintf("%s: %v; see llmbatch %s -h", fs.Name(), err, fs.Name())}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		// flag.Parse stops at the first non-flag, or after "--".
		consumed := len(args) - len(rest)
		if consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// headerFlag collects repeated -H 'Name: value' flags.
type headerFlag struct{ h http.Header }

func (f *headerFlag) String() string { return "" }

func (f *headerFlag) Set(s string) error {
	name, value, ok := strings.Cut(s, ":")
	name = strings.TrimSpace(name)
	if !ok || name == "" {
		return fmt.Errorf("header %q is not 'Name: value'", s)
	}
	if f.h == nil {
		f.h = make(http.Header)
	}
	f.h.Add(name, strings.TrimSpace(value))
	return nil
}

func newFlagSet(name string, stderr io.Writer, usageText string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	if c, ok := stderr.(*flagCollector); ok {
		c.sets = append(c.sets, fs) // "completion" lists the flags
	}
	// The flag package's own error lines are discarded: the caller
	// prints the error once (see parseInterspersed).
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprint(stderr, usageText)
		fs.SetOutput(stderr)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return fs
}
