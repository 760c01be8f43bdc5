package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/spf13/cobra"
)

// buildInfo is what this binary knows of how it was built, from
// runtime/debug.ReadBuildInfo: the one source of the version that runners
// record in bundles and that `agentwatt version` prints.
type buildInfo struct {
	Module  string `json:"module"`
	Version string `json:"version"` // the module version, "dev" for a build from a checkout
	Commit  string `json:"commit,omitempty"`
	Time    string `json:"commit_time,omitempty"`
	Dirty   bool   `json:"dirty,omitempty"` // built from a work tree with uncommitted changes
	Go      string `json:"go"`
	OS      string `json:"os"`
	Arch    string `json:"arch"`
	// Flags are the build settings that change the binary: -tags, -ldflags,
	// -trimpath, CGO_ENABLED, GOAMD64 and the like.
	Flags map[string]string `json:"flags,omitempty"`
}

// readBuildInfo reads this binary's build information.
func readBuildInfo() buildInfo {
	b := buildInfo{Module: "github.com/agentwatt/agentwatt", Version: "dev", Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	if bi.Main.Path != "" {
		b.Module = bi.Main.Path
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		b.Version = v
	}
	if bi.GoVersion != "" {
		b.Go = bi.GoVersion
	}
	for _, s := range bi.Settings {
		switch {
		case s.Key == "vcs.revision":
			b.Commit = s.Value
		case s.Key == "vcs.time":
			b.Time = s.Value
		case s.Key == "vcs.modified":
			b.Dirty = s.Value == "true"
		case s.Key == "vcs", s.Key == "GOOS", s.Key == "GOARCH":
		case s.Value != "" && (strings.HasPrefix(s.Key, "-") || strings.HasPrefix(s.Key, "CGO_") || strings.HasPrefix(s.Key, "GO")):
			if b.Flags == nil {
				b.Flags = map[string]string{}
			}
			b.Flags[s.Key] = s.Value
		}
	}
	return b
}

// agentwattVersion is the version this binary reports to the queue and
// records in bundles: the module version, or for a build from a checkout
// "dev" with the commit (and "+dirty" when the tree had changes).
func agentwattVersion() string { return readBuildInfo().String() }

// String is the one-word version: v1.2.3, dev+0123abcd4567 or dev+0123abcd4567.dirty.
func (b buildInfo) String() string {
	v := b.Version
	if b.Version == "dev" && b.Commit != "" {
		v += "+" + shortCommit(b.Commit)
		if b.Dirty {
			v += ".dirty"
		}
	}
	return v
}

func shortCommit(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	return c
}

func newVersionCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit, Go version and build flags of this binary",
		Long: `Print what this binary knows of how it was built: the module version (or
"dev" for a build from a checkout), the VCS commit and whether the tree had
uncommitted changes, the Go version, and the build flags. The same version is
what a runner records in every bundle. 'agentwatt --version' prints the first
line only; -o json prints everything as one object.`,
		Example: `  agentwatt version
  agentwatt version -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b := readBuildInfo()
			if a.json() {
				enc := json.NewEncoder(a.out)
				enc.SetIndent("", "  ")
				return enc.Encode(b)
			}
			return b.write(a.out)
		},
	}
}

// write prints b for people, one setting a line.
func (b buildInfo) write(w io.Writer) error {
	commit := "unknown (not built from a git checkout)"
	if b.Commit != "" {
		commit = b.Commit
		if b.Dirty {
			commit += " (dirty: uncommitted changes)"
		}
		if b.Time != "" {
			commit += " " + b.Time
		}
	}
	fmt.Fprintf(w, "agentwatt %s\n", b)
	fmt.Fprintf(w, "module:  %s %s\n", b.Module, b.Version)
	fmt.Fprintf(w, "commit:  %s\n", commit)
	fmt.Fprintf(w, "go:      %s %s/%s\n", b.Go, b.OS, b.Arch)
	for _, k := range slices.Sorted(maps.Keys(b.Flags)) {
		fmt.Fprintf(w, "build:   %s=%s\n", k, b.Flags[k])
	}
	return nil
}
