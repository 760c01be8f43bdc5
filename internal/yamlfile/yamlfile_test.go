package yamlfile

import (
	"errors"
	"strings"
	"testing"
)

var errKind = errors.New("test file")

type testDoc struct {
	Pools []struct {
		Name string `yaml:"name"`
		Max  int    `yaml:"max"`
	} `yaml:"pools"`
}

// Every refusal is an *Error at a line and column wrapping the file kind's
// sentinel; a problem found after decoding is placed at its path, or at
// the nearest node that exists.
func TestDecode(t *testing.T) {
	tests := []struct {
		name, data, want string
	}{
		{"unknown field", "pools:\n  - name: a\n    mx: 3\n", "f.yaml:3:"},
		{"duplicate key", "pools:\n  - name: a\n    name: b\n", "f.yaml:3:"},
		{"wrong type", "pools:\n  - name: a\n    max: many\n", "f.yaml:3:"},
		{"alias", "x: &a [1]\npools:\n  - name: *a\n", "f.yaml:3:11: aliases (*name) are not allowed here"},
		{"too large", strings.Repeat("#", 65), "f.yaml:1:1: 65 bytes; the limit is 64"},
	}
	for _, tt := range tests {
		var d testDoc
		_, err := Decode("f.yaml", []byte(tt.data), 64, errKind, &d)
		var e *Error
		if !errors.As(err, &e) || !errors.Is(err, errKind) || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an *Error starting %q wrapping the kind", tt.name, err, tt.want)
		}
	}
	var d testDoc
	doc, err := Decode("f.yaml", []byte("pools:\n  - name: a\n    max: 3\n"), 1<<10, errKind, &d)
	if err != nil || len(d.Pools) != 1 || d.Pools[0].Max != 3 {
		t.Fatalf("valid file: %+v, %v", d, err)
	}
	if got := doc.Errorf("$.pools[0].max", "too big").Error(); got != "f.yaml:3:10: too big" {
		t.Errorf("at a path: %q", got)
	}
	if got := doc.Errorf("$.pools[0].min", "missing").Error(); got != "f.yaml:2:9: missing" {
		t.Errorf("at a missing path's parent: %q", got)
	}
}
