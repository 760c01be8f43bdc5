package examples

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExamplesListEveryFile: every file of submissions/ is listed, by name,
// with a summary, and reads back byte for byte.
func TestExamplesListEveryFile(t *testing.T) {
	files, err := filepath.Glob("submissions/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no example files: %v", err)
	}
	list, err := List()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != len(files) {
		t.Fatalf("List has %d examples, the directory %d", len(list), len(files))
	}
	for i, e := range list {
		if i > 0 && list[i-1].Name >= e.Name {
			t.Errorf("not sorted: %q before %q", list[i-1].Name, e.Name)
		}
		want, err := os.ReadFile(filepath.Join("submissions", e.Name+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{e.Name, e.Name + ".yaml"} {
			got, err := Read(name)
			if err != nil || string(got) != string(want) {
				t.Errorf("Read(%q) = %d bytes, %v; want the file's %d bytes", name, len(got), err, len(want))
			}
		}
		if e.Summary == "" || strings.Contains(e.Summary, "yaml-language-server") || !strings.HasSuffix(e.Summary, ".") {
			t.Errorf("%s: summary %q", e.Name, e.Summary)
		}
	}
}

func TestExamplesReadUnknown(t *testing.T) {
	for _, name := range []string{"nope", "../embed.go", "submissions/sim", "*", ""} {
		_, err := Read(name)
		if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "sim") {
			t.Errorf("Read(%q) = %v, want ErrNotFound listing the examples", name, err)
		}
	}
}
