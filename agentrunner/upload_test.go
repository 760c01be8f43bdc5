package agentrunner

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/agentwatt/agentwatt/bundle"
)

// TestBundleFilesNested: a group bundle's member power files, one folder
// deep, are uploaded with the rest; a link in the spool (to a file of the
// runner's, the key) or a stray folder is refused, never followed.
func TestBundleFilesNested(t *testing.T) {
	write := func(t *testing.T, dir, name string) {
		t.Helper()
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(name), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	base := func(t *testing.T) string {
		dir := t.TempDir()
		for _, n := range []string{bundle.MembersFile, bundle.MemberPowerFile("node-0"), bundle.MemberPowerFile("node-1"), bundle.ManifestFile, bundle.EnvelopeFile, ".tmp-partial"} {
			write(t, dir, n)
		}
		return dir
	}
	t.Run("nested power files", func(t *testing.T) {
		names, sizes, err := bundleFiles(base(t))
		if err != nil {
			t.Fatal(err)
		}
		want := []string{bundle.EnvelopeFile, bundle.ManifestFile, bundle.MembersFile, bundle.MemberPowerFile("node-0"), bundle.MemberPowerFile("node-1")}
		slices.Sort(names)
		slices.Sort(want)
		if !slices.Equal(names, want) {
			t.Fatalf("files %q, want %q", names, want)
		}
		if sizes[bundle.MemberPowerFile("node-1")] != int64(len(bundle.MemberPowerFile("node-1"))) {
			t.Errorf("sizes %v", sizes)
		}
	})
	attacks := []struct {
		name string
		add  func(t *testing.T, dir string)
	}{
		{"link to the key", func(t *testing.T, dir string) {
			key := filepath.Join(t.TempDir(), "runner.key")
			write(t, filepath.Dir(key), "runner.key")
			if err := os.Symlink(key, filepath.Join(dir, "power", "node-2.jsonl.zst")); err != nil {
				t.Fatal(err)
			}
		}},
		{"linked power folder", func(t *testing.T, dir string) {
			if err := os.RemoveAll(filepath.Join(dir, "power")); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(t.TempDir(), filepath.Join(dir, "power")); err != nil {
				t.Fatal(err)
			}
		}},
		{"another folder", func(t *testing.T, dir string) { write(t, dir, "logs/engine.log") }},
		{"a folder in power", func(t *testing.T, dir string) { write(t, dir, "power/x/y.jsonl.zst") }},
		{"a stray name in power", func(t *testing.T, dir string) { write(t, dir, "power/Node_1.jsonl.zst") }},
	}
	for _, tc := range attacks {
		t.Run(tc.name, func(t *testing.T) {
			dir := base(t)
			tc.add(t, dir)
			names, _, err := bundleFiles(dir)
			if err == nil {
				t.Fatalf("listed %q, want a refusal", names)
			}
			if tc.name == "a stray name in power" && !errors.Is(err, bundle.ErrInvalidName) {
				t.Errorf("err = %v, want ErrInvalidName", err)
			}
		})
	}
}
