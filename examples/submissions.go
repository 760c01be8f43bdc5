package examples

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// Example is one embedded example submission.
type Example struct {
	// Name is the file's name without .yaml: "sim", "h200x8-vllm".
	Name string `json:"name"`
	// Summary is the first sentence of the file's leading comment.
	Summary string `json:"summary"`
	// Path is where the file is in the repository.
	Path string `json:"path"`
}

// ErrNotFound: no example has the name asked for.
var ErrNotFound = errors.New("no such example")

// List returns the embedded example submissions, sorted by name.
func List() ([]Example, error) {
	files, err := fs.Glob(Submissions, "submissions/*.yaml")
	if err != nil {
		return nil, err
	}
	out := make([]Example, 0, len(files))
	for _, f := range files {
		data, err := Submissions.ReadFile(f)
		if err != nil {
			return nil, err
		}
		out = append(out, Example{
			Name:    strings.TrimSuffix(path.Base(f), ".yaml"),
			Summary: summary(data),
			Path:    "examples/" + f,
		})
	}
	slices.SortFunc(out, func(a, b Example) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Read returns the example submission called name ("sim" or "sim.yaml").
func Read(name string) ([]byte, error) {
	base := strings.TrimSuffix(name, ".yaml")
	list, err := List()
	if err != nil {
		return nil, err
	}
	names := make([]string, len(list))
	for i, e := range list {
		names[i] = e.Name
		if e.Name == base {
			return Submissions.ReadFile("submissions/" + base + ".yaml")
		}
	}
	return nil, fmt.Errorf("%w %q; the examples are %s", ErrNotFound, name, strings.Join(names, ", "))
}

// summary is the first sentence of the comment that opens data, after the
// editor's schema line.
func summary(data []byte) string {
	var text []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "#")
		if !ok {
			break
		}
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "yaml-language-server:") {
			continue
		}
		text = append(text, line)
	}
	s := strings.Join(text, " ")
	if i := strings.Index(s, ". "); i >= 0 {
		s = s[:i+1]
	}
	return s
}
