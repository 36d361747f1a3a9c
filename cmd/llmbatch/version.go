package main

import (
	"fmt"
	"runtime/debug"
	"strings"
)

// versionLine is what "llmbatch version" prints: the module version and
// the VCS commit the binary was built from, as the Go toolchain recorded
// them in the build info. "(devel)" stands for what is not known (a
// "go run", a build outside a module or without VCS stamping).
func versionLine(bi *debug.BuildInfo, ok bool) string {
	version, commit := "(devel)", "(devel)"
	goVersion := ""
	var modified bool
	var when string
	if ok && bi != nil {
		if v := bi.Main.Version; v != "" {
			version = v
		}
		goVersion = bi.GoVersion
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
			case "vcs.time":
				when = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "llmbatch %s commit %s", version, commit)
	if when != "" {
		fmt.Fprintf(&b, " (%s)", when)
	}
	if modified {
		b.WriteString(" with local changes")
	}
	if goVersion != "" {
		fmt.Fprintf(&b, " %s", goVersion)
	}
	return b.String()
}

func printVersion(env environ) {
	bi, ok := debug.ReadBuildInfo()
	fmt.Fprintln(env.stdout, versionLine(bi, ok))
}
