package main

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/agentwatt/agentwatt/examples"
	"github.com/agentwatt/agentwatt/spec"
)

func runApp(t *testing.T, format string, build func(*app) func() error) (string, error) {
	t.Helper()
	var out bytes.Buffer
	a := &app{out: &out, errOut: &out, format: format}
	err := build(a)()
	return out.String(), err
}

func execCmd(a *app, newCmd func(*app) *cobra.Command, args ...string) func() error {
	return func() error {
		c := newCmd(a)
		c.SetArgs(append([]string{}, args...))
		c.SetOut(a.out)
		return c.Execute()
	}
}

// TestExamplesPrintsAValidSubmission: what `agentwatt examples sim` prints is
// the repository's file, and it validates, so `submit` works without a
// checkout.
func TestExamplesPrintsAValidSubmission(t *testing.T) {
	got, err := runApp(t, "text", func(a *app) func() error { return execCmd(a, newExamplesCmd, "sim") })
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("../../examples/submissions/sim.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("examples sim printed %d bytes, the file has %d", len(got), len(want))
	}
	if _, err := spec.Parse("sim.yaml", []byte(got)); err != nil {
		t.Errorf("printed example does not validate: %v", err)
	}
}

func TestExamplesList(t *testing.T) {
	list, err := examples.List()
	if err != nil {
		t.Fatal(err)
	}
	text, err := runApp(t, "text", func(a *app) func() error { return execCmd(a, newExamplesCmd) })
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(text), "\n")
	if len(lines) != len(list) {
		t.Fatalf("%d lines for %d examples:\n%s", len(lines), len(list), text)
	}
	for i, e := range list {
		if !strings.HasPrefix(lines[i], e.Name+" ") || !strings.HasSuffix(lines[i], e.Summary) {
			t.Errorf("line %q, want %s and its summary", lines[i], e.Name)
		}
	}
	raw, err := runApp(t, "json", func(a *app) func() error { return execCmd(a, newExamplesCmd) })
	if err != nil {
		t.Fatal(err)
	}
	var got []examples.Example
	if err := json.Unmarshal([]byte(raw), &got); err != nil || len(got) != len(list) {
		t.Errorf("-o json: %v, %s", err, raw)
	}
	if _, err := runApp(t, "text", func(a *app) func() error { return execCmd(a, newExamplesCmd, "nope") }); err == nil || !strings.Contains(err.Error(), "sim") {
		t.Errorf("examples nope: %v, want an error listing the examples", err)
	}
}
