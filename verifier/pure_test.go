package verifier_test

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/agentwatt/agentwatt/"

// TestVerifierIsPure: the verifier takes its inputs as values (a
// bundle.Source, the workload, the keys, the job's record) and reaches no
// queue, object store or network itself. Neither it nor any package of
// ours it builds on imports the queue, the store, the daemon or a network
// client; the services that do (verifyd, publish) hand it what it needs.
func TestVerifierIsPure(t *testing.T) {
	forbidden := []string{module + "queue", module + "blob", module + "verifyd", module + "publish",
		"net/http", "os/exec", "github.com/nats-io/", "github.com/aws/"}
	seen := map[string]bool{}
	var walk func(pkg, dir string, path []string)
	walk = func(pkg, dir string, path []string) {
		if seen[pkg] {
			return
		}
		seen[pkg] = true
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			src, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, im := range src.Imports {
				p, _ := strconv.Unquote(im.Path.Value)
				for _, bad := range forbidden {
					if p == bad || strings.HasPrefix(p, bad) && strings.HasSuffix(bad, "/") {
						t.Errorf("%s imports %s (via %s)", f, p, strings.Join(append(path, pkg), " → "))
					}
				}
				if rest, ok := strings.CutPrefix(p, module); ok {
					walk(p, filepath.Join("..", filepath.FromSlash(rest)), append(slices.Clone(path), pkg))
				}
			}
		}
	}
	if _, err := os.Stat("verify.go"); err != nil {
		t.Fatal(err)
	}
	walk(module+"verifier", ".", nil)
	if len(seen) < 4 {
		t.Fatalf("walked only %v", seen)
	}
}
