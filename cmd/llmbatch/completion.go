package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

const completionUsage = `Usage: llmbatch completion bash|zsh|fish

Prints a completion script for the shell: commands, their flags and
file names. Load it with
  bash:  source <(llmbatch completion bash)     (e.g. in ~/.bashrc)
  zsh:   source <(llmbatch completion zsh)      (after compinit, e.g. in ~/.zshrc)
  fish:  llmbatch completion fish > ~/.config/fish/completions/llmbatch.fish

Flags:
`

// completion prints the completion script of a shell. The script is
// generated from the commands' own flag sets (see collectCommands), so
// that it cannot drift from them.
func completion(ctx context.Context, args []string, env environ) error {
	fs := newFlagSet("completion", env.stderr, completionUsage)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("completion: name one shell: bash, zsh or fish (usage: llmbatch completion bash|zsh|fish)")
	}
	cmds := collectCommands(ctx)
	var script string
	switch pos[0] {
	case "bash":
		script = bashCompletion(cmds)
	case "zsh":
		script = zshCompletion(cmds)
	case "fish":
		script = fishCompletion(cmds)
	default:
		return usagef("completion: no completion for %q: bash, zsh or fish", pos[0])
	}
	if _, err := io.WriteString(env.stdout, script); err != nil {
		return fmt.Errorf("completion: write to stdout: %w", err)
	}
	return nil
}

// compCommand is a command as a completion script sees it.
type compCommand struct {
	name, desc string
	flags      []compFlag
}

type compFlag struct {
	name, desc string
	value      bool // takes a value (not a bool flag)
}

// dashed is the flag as completions offer it: -o, --concurrency.
func (f compFlag) dashed() string {
	if len(f.name) == 1 {
		return "-" + f.name
	}
	return "--" + f.name
}

// flagCollector is an io.Writer that newFlagSet recognizes as stderr: it
// keeps every flag set created with it and discards what is written. A
// command must therefore parse its flags (and so stop at -h) before it
// does anything else, as every command does.
type flagCollector struct{ sets []*flag.FlagSet }

func (c *flagCollector) Write(p []byte) (int, error) { return len(p), nil }

var usageCommand = regexp.MustCompile(`^  llmbatch ([a-z]+)\s+(.*)$`)

// collectCommands lists the commands of the overview usage, each with the
// flags its flag set defines: it runs "llmbatch COMMAND -h" with a
// flagCollector as stderr, which only parses the flags.
func collectCommands(ctx context.Context) []compCommand {
	var cmds []compCommand
	for line := range strings.SplitSeq(usage, "\n") {
		m := usageCommand.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		if slices.ContainsFunc(cmds, func(c compCommand) bool { return c.name == m[1] }) {
			continue // an example below the list
		}
		parts := regexp.MustCompile(`\s{2,}`).Split(m[2], -1)
		c := compCommand{name: m[1], desc: shortDesc(parts[len(parts)-1])}
		col := &flagCollector{}
		env := environ{getenv: func(string) string { return "" }, stdin: strings.NewReader(""), stdout: io.Discard, stderr: col}
		run(ctx, []string{c.name, "-h"}, env)
		for _, fs := range col.sets {
			fs.VisitAll(func(f *flag.Flag) {
				b, ok := f.Value.(interface{ IsBoolFlag() bool })
				c.flags = append(c.flags, compFlag{name: f.Name, desc: shortDesc(f.Usage), value: !ok || !b.IsBoolFlag()})
			})
		}
		cmds = append(cmds, c)
	}
	return append(cmds, compCommand{name: "help", desc: "the flags of a command"})
}

// shortDesc is the first clause of a flag's or command's help, at most
// 70 characters.
func shortDesc(s string) string {
	if i := strings.IndexAny(s, ";("); i > 0 {
		s = s[:i]
	}
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > 70 {
		r := []rune(s)
		s = strings.TrimSpace(string(r[:69])) + "…"
	}
	return s
}

func commandNames(cmds []compCommand) string {
	var names []string
	for _, c := range cmds {
		names = append(names, c.name)
	}
	return strings.Join(names, " ")
}

func bashCompletion(cmds []compCommand) string {
	var b strings.Builder
	fmt.Fprintf(&b, `# bash completion for llmbatch (llmbatch completion bash)
_llmbatch() {
    local cur prev cmd i
    cur="${COMP_WORDS[COMP_CWORD]}"
    prev="${COMP_WORDS[COMP_CWORD-1]}"
    cmd=""
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "${COMP_WORDS[i]}" in
        -*) ;;
        *) cmd="${COMP_WORDS[i]}"; break ;;
        esac
    done
    if [[ -z $cmd ]]; then
        COMPREPLY=($(compgen -W "%s --version --help" -- "$cur"))
        return
    fi
    case "$cmd" in
    help) COMPREPLY=($(compgen -W "%[1]s" -- "$cur")) ;;
`, commandNames(cmds))
	for _, c := range cmds {
		if len(c.flags) == 0 && c.name != "completion" {
			continue
		}
		var all, valued []string
		for _, f := range c.flags {
			all = append(all, f.dashed())
			if f.value {
				valued = append(valued, "-"+f.name, "--"+f.name)
			}
		}
		fmt.Fprintf(&b, "    %s)\n", c.name)
		if len(valued) > 0 {
			// A flag's value: file names (complete -o default).
			fmt.Fprintf(&b, "        case \"$prev\" in %s) return ;; esac\n", strings.Join(valued, "|"))
		}
		if c.name == "completion" {
			b.WriteString("        [[ $cur != -* ]] && COMPREPLY=($(compgen -W \"bash zsh fish\" -- \"$cur\")) && return\n")
		}
		fmt.Fprintf(&b, "        [[ $cur == -* ]] && COMPREPLY=($(compgen -W \"%s\" -- \"$cur\"))\n        ;;\n", strings.Join(append(all, "-h"), " "))
	}
	b.WriteString(`    esac
}
complete -o default -F _llmbatch llmbatch
`)
	return b.String()
}

// zshQuote escapes s for a zsh word inside single quotes.
func zshQuote(s string) string { return strings.ReplaceAll(s, `'`, `'\''`) }

// zshExplain escapes s for the [explanation] of an _arguments spec inside
// single quotes.
func zshExplain(s string) string {
	return zshQuote(strings.NewReplacer(`\`, `\\`, `[`, `\[`, `]`, `\]`).Replace(s))
}

func zshCompletion(cmds []compCommand) string {
	var b strings.Builder
	b.WriteString(`#compdef llmbatch
# zsh completion for llmbatch (llmbatch completion zsh)
compdef _llmbatch llmbatch

_llmbatch() {
    local -a commands
    commands=(
`)
	for _, c := range cmds {
		fmt.Fprintf(&b, "        '%s:%s'\n", c.name, zshQuote(c.desc))
	}
	b.WriteString(`    )
    if (( CURRENT == 2 )); then
        _describe -t commands 'llmbatch command' commands
        _arguments '--version[print the version]' '--help[print the usage]'
        return
    fi
    local cmd=$words[2]
    shift words
    (( CURRENT-- ))
    case $cmd in
    help) _describe -t commands 'llmbatch command' commands ;;
    completion) _arguments '1:shell:(bash zsh fish)' ;;
`)
	for _, c := range cmds {
		if len(c.flags) == 0 {
			continue
		}
		fmt.Fprintf(&b, "    %s)\n        _arguments \\\n", c.name)
		for _, f := range c.flags {
			arg := ""
			if f.value {
				arg = ":" + f.name + ":_files"
				if len(f.name) > 1 {
					f.name += "=" // --name=VALUE or --name VALUE
				}
			}
			name := f.dashed()
			fmt.Fprintf(&b, "            '%s[%s]%s' \\\n", name, zshExplain(f.desc), arg)
		}
		b.WriteString("            '-h[print the usage]' \\\n            '*:file:_files'\n        ;;\n")
	}
	b.WriteString(`    esac
}

if [ "$funcstack[1]" = "_llmbatch" ]; then
    _llmbatch "$@"
fi
`)
	return b.String()
}

// fishQuote quotes s as one fish word.
func fishQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

func fishCompletion(cmds []compCommand) string {
	var b strings.Builder
	b.WriteString("# fish completion for llmbatch (llmbatch completion fish)\n")
	b.WriteString("complete -c llmbatch -n __fish_use_subcommand -f -l version -d 'print the version'\n")
	for _, c := range cmds {
		fmt.Fprintf(&b, "complete -c llmbatch -n __fish_use_subcommand -f -a %s -d %s\n", c.name, fishQuote(c.desc))
	}
	fmt.Fprintf(&b, "complete -c llmbatch -n '__fish_seen_subcommand_from help' -f -a %s\n", fishQuote(commandNames(cmds)))
	b.WriteString("complete -c llmbatch -n '__fish_seen_subcommand_from completion' -f -a 'bash zsh fish'\n")
	for _, c := range cmds {
		for _, f := range c.flags {
			opt := "-l " + f.name
			if len(f.name) == 1 {
				opt = "-s " + f.name
			}
			if f.value {
				opt += " -r -F"
			}
			fmt.Fprintf(&b, "complete -c llmbatch -n '__fish_seen_subcommand_from %s' %s -d %s\n", c.name, opt, fishQuote(f.desc))
		}
	}
	return b.String()
}
