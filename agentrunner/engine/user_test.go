package engine

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

func TestLookupUser(t *testing.T) {
	self, err := LookupUser(strconv.Itoa(os.Geteuid()))
	if err != nil || self != nil {
		t.Errorf("LookupUser(own uid) = %v, %v; want nil: nothing to switch to", self, err)
	}
	if _, err := LookupUser("no-such-user-agentwatt"); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("unknown user: err = %v, want ErrInvalidConfig", err)
	}
	if _, err := LookupUser("1:x"); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("bad uid:gid: err = %v", err)
	}
	if os.Geteuid() != 0 {
		if _, err := LookupUser("65534:65534"); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("switching without root: err = %v, want ErrInvalidConfig", err)
		}
		return
	}
	u, err := LookupUser("65534:65534")
	if err != nil || u == nil || u.UID != 65534 || u.GID != 65534 {
		t.Errorf("LookupUser(65534:65534) = %v, %v", u, err)
	}
	if _, err := LookupUser("0:0"); err != nil {
		t.Errorf("root as root: %v (want nil: no switch)", err)
	}
}

// TestExecutableFor: a binary in a directory the engine user cannot search
// is made reachable without opening that directory.
func TestExecutableFor(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to have another user")
	}
	u := &User{Name: "nobody", UID: 65534, GID: 65534}
	closed := filepath.Join(t.TempDir(), "closed")
	if err := os.Mkdir(closed, 0o700); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(closed, "agentwatt")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if ExecutableBy(bin, u) {
		t.Fatal("ExecutableBy: nobody can search a root 0700 directory")
	}
	path, cleanup, err := ExecutableFor(bin, u)
	if err != nil {
		t.Fatal(err)
	}
	if path == bin || !ExecutableBy(path, u) {
		t.Errorf("ExecutableFor = %s, want a path nobody can execute", path)
	}
	if fi, _ := os.Stat(closed); fi.Mode().Perm() != 0o700 {
		t.Errorf("the closed directory was opened: %v", fi.Mode())
	}
	cleanup()
	if _, err := os.Stat(filepath.Dir(path)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("cleanup left %s", filepath.Dir(path))
	}
}

func TestSecretDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "HF_TOKEN"), []byte("hf_value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(dir), "runner.key"), []byte("KEY"), 0o600); err != nil {
		t.Fatal(err)
	}
	if v, err := SecretDir(dir).Secret("HF_TOKEN"); err != nil || v != "hf_value" {
		t.Errorf("Secret(HF_TOKEN) = %q, %v", v, err)
	}
	if _, err := SecretDir(dir).Secret("NGC_API_KEY"); !errors.Is(err, ErrSecretMissing) {
		t.Errorf("missing secret: err = %v, want ErrSecretMissing", err)
	}
	if _, err := SecretDir("").Secret("HF_TOKEN"); !errors.Is(err, ErrSecretMissing) {
		t.Errorf("no store: err = %v, want ErrSecretMissing", err)
	}
	for _, name := range []string{"../runner.key", "/etc/passwd", ""} {
		if v, err := SecretDir(dir).Secret(name); err == nil {
			t.Errorf("Secret(%q) = %q: a name that is not a variable read a file", name, v)
		}
	}
}
