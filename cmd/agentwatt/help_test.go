package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

var updateHelp = flag.Bool("update-help", false, "rewrite testdata/help/*.golden from the current command tree")

// TestHelpGolden pins the command tree: every command's --help output, and the
// set of commands itself, must equal testdata/help. The goldens were captured
// from the tree as it was before commands.go listed it, so a change here is a
// change of the CLI, made on purpose with -update-help.
func TestHelpGolden(t *testing.T) {
	dir := filepath.Join("testdata", "help")
	host, _ := os.Hostname()
	var paths []string
	var walk func(path []string, c *cobra.Command)
	walk = func(path []string, c *cobra.Command) {
		paths = append(paths, strings.Join(path, " "))
		for _, sub := range c.Commands() {
			if sub.Hidden || sub.Name() == "help" || sub.Name() == "completion" {
				continue
			}
			walk(append(append([]string{}, path...), sub.Name()), sub)
		}
	}
	walk(nil, newRootCmd())
	want := map[string]bool{}
	goldens, _ := filepath.Glob(filepath.Join(dir, "*.golden"))
	for _, g := range goldens {
		want[filepath.Base(g)] = true
	}
	got := map[string]bool{}
	for _, p := range paths {
		name := "agentwatt"
		if p != "" {
			name += "_" + strings.ReplaceAll(p, " ", "_")
		}
		name += ".golden"
		got[name] = true
		t.Run(name, func(t *testing.T) {
			root := newRootCmd()
			var out bytes.Buffer
			root.SetOut(&out)
			root.SetErr(&out)
			args := append(strings.Fields(p), "--help")
			root.SetArgs(args)
			if err := root.Execute(); err != nil {
				t.Fatalf("agentwatt %s: %v", strings.Join(args, " "), err)
			}
			// Defaults that depend on the machine.
			text := out.String()
			if host != "" {
				text = strings.ReplaceAll(text, `(default "`+host+`")`, `(default "HOSTNAME")`)
			}
			text = strings.ReplaceAll(text, os.TempDir(), "TMPDIR")
			path := filepath.Join(dir, name)
			if *updateHelp {
				if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			golden, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("no golden for 'agentwatt %s' (a new command? run with -update-help): %v", p, err)
			}
			if text != string(golden) {
				t.Errorf("agentwatt %s --help differs from %s:\n got:\n%s\nwant:\n%s", p, path, text, golden)
			}
		})
	}
	if *updateHelp {
		return
	}
	var gone []string
	for name := range want {
		if !got[name] {
			gone = append(gone, name)
		}
	}
	sort.Strings(gone)
	if len(gone) > 0 {
		t.Errorf("commands gone from the tree (goldens without a command): %v", gone)
	}
}
