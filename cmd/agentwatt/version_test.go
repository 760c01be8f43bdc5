package main

import (
	"bytes"
	"encoding/json"
	"runtime"
	"strings"
	"testing"
)

func runRoot(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	// Commands print through app.out (stdout); send it here too.
	for _, c := range root.Commands() {
		c.SetOut(&out)
	}
	err := root.Execute()
	return out.String(), err
}

func TestVersionFlagAndCommandAgree(t *testing.T) {
	flag, err := runRoot(t, "--version")
	if err != nil {
		t.Fatal(err)
	}
	want := "agentwatt " + agentwattVersion() + "\n"
	if flag != want {
		t.Errorf("--version = %q, want %q", flag, want)
	}
	b := readBuildInfo()
	if b.Go != runtime.Version() {
		t.Errorf("go = %q, want %q", b.Go, runtime.Version())
	}
	if b.Module != "github.com/agentwatt/agentwatt" {
		t.Errorf("module = %q", b.Module)
	}
	var text bytes.Buffer
	if err := b.write(&text); err != nil {
		t.Fatal(err)
	}
	if first, _, _ := strings.Cut(text.String(), "\n"); first+"\n" != want {
		t.Errorf("version's first line %q, want %q", first, want)
	}
	for _, line := range []string{"module:  github.com/agentwatt/agentwatt", "commit:  ", "go:      " + runtime.Version()} {
		if !strings.Contains(text.String(), line) {
			t.Errorf("version output lacks %q:\n%s", line, text.String())
		}
	}
}

func TestVersionJSON(t *testing.T) {
	a := &app{format: "json"}
	var out bytes.Buffer
	a.out = &out
	cmd := newVersionCmd(a)
	cmd.SetArgs([]string{})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	var got buildInfo
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if got.Go != runtime.Version() || got.Version == "" || got.Module == "" {
		t.Errorf("version -o json = %+v", got)
	}
}

func TestVersionString(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    buildInfo
		want string
	}{
		{"release", buildInfo{Version: "v1.2.3", Commit: "0123456789abcdef"}, "v1.2.3"},
		{"checkout", buildInfo{Version: "dev", Commit: "0123456789abcdef"}, "dev+0123456789ab"},
		{"dirty", buildInfo{Version: "dev", Commit: "0123456789abcdef", Dirty: true}, "dev+0123456789ab.dirty"},
		{"no vcs", buildInfo{Version: "dev"}, "dev"},
	} {
		if got := tc.b.String(); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}
