package ghbot

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentwatt/agentwatt/spec"
)

// The submissions-repository template is what the bot expects: its policy
// files parse, and every submission is valid and in its vendor's folder.
func TestSubmissionsRepoTemplate(t *testing.T) {
	root := filepath.Join("..", "..", "examples", "submissions-repo")
	data, err := os.ReadFile(filepath.Join(root, VendorsFile))
	if err != nil {
		t.Fatal(err)
	}
	vendors, err := ParseVendors(data)
	if err != nil {
		t.Fatal(err)
	}
	data, err = os.ReadFile(filepath.Join(root, MaintainersFile))
	if err != nil {
		t.Fatal(err)
	}
	if m, err := ParseMaintainers(data); err != nil || len(m.Users)+len(m.Teams) == 0 {
		t.Fatalf("MAINTAINERS: %+v, %v", m, err)
	}
	files, err := filepath.Glob(filepath.Join(root, SubmissionsDir, "*", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no submissions in the template: %v", err)
	}
	for _, f := range files {
		sub, err := spec.ParseFile(f)
		if err != nil {
			t.Fatal(err)
		}
		folder := filepath.Base(filepath.Dir(f))
		if _, listed := vendors[folder]; !listed || sub.Metadata.Vendor != folder {
			t.Errorf("%s: vendor %q in folder %q (listed: %v)", f, sub.Metadata.Vendor, folder, listed)
		}
		if !strings.HasSuffix(f, sub.Metadata.Name+".yaml") {
			t.Errorf("%s: named %q", f, sub.Metadata.Name)
		}
	}
}
