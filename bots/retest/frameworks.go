package retest

import (
	_ "embed"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/goccy/go-yaml"
	yamlast "github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// DefaultFrameworks is the frameworks.yaml built into the binary;
// --frameworks FILE replaces it.
//
//go:embed frameworks.yaml
var DefaultFrameworks []byte

// Framework is one entry of frameworks.yaml.
type Framework struct {
	// Name is the submissions' framework.name, e.g. "vllm".
	Name string `yaml:"name"`
	// Repo is the GitHub repository whose releases are followed, owner/name.
	Repo string `yaml:"repo"`
	// Prereleases follows pre-releases too (ignored by default).
	Prereleases bool `yaml:"prereleases"`
	// VersionFromTag is how a tag becomes framework.version: VersionStripV
	// (the default) or VersionTag.
	VersionFromTag string `yaml:"version_from_tag"`
}

// How a release tag becomes a version.
const (
	VersionStripV = "strip-v" // a leading "v" is dropped: "v0.11.1" → "0.11.1"
	VersionTag    = "tag"     // the tag as it is
)

// Owner and RepoName split Repo.
func (f Framework) Owner() string    { o, _, _ := strings.Cut(f.Repo, "/"); return o }
func (f Framework) RepoName() string { _, n, _ := strings.Cut(f.Repo, "/"); return n }

var (
	// frameworkNameRe: a framework name is a KV key token and spec's
	// framework.name (lower-case).
	frameworkNameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)
	// repoRe: GitHub's owner and repository name rules.
	repoRe = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$`)
	// versionRe: what a release may become. The version ends up in an
	// image tag (at most 128 of [A-Za-z0-9_.-]), in a trigger and in the
	// spec, so nothing else passes: no '/', '@', ':', space or control.
	versionRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
)

// ErrFrameworks is the error of a frameworks file that is not valid.
var ErrFrameworks = errors.New("frameworks file")

// FileError is one problem of a frameworks file, at its line and column.
type FileError struct {
	File      string
	Line, Col int
	Msg       string
}

func (e *FileError) Error() string { return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg) }
func (e *FileError) Unwrap() error { return ErrFrameworks }

// maxFrameworksFile bounds a frameworks file (a few dozen entries are
// hundreds of bytes).
const maxFrameworksFile = 256 << 10

// ParseFrameworks reads frameworks.yaml: strictly (unknown fields,
// duplicate keys and wrong types refused), every entry checked. file only
// labels errors, which are *FileError with the line and column.
func ParseFrameworks(file string, data []byte) (fws []Framework, err error) {
	if len(data) > maxFrameworksFile {
		return nil, &FileError{File: file, Line: 1, Col: 1, Msg: fmt.Sprintf("%d bytes; the limit is %d", len(data), maxFrameworksFile)}
	}
	defer func() { // the YAML library must not take the daemon down on odd input
		if r := recover(); r != nil {
			fws, err = nil, &FileError{File: file, Line: 1, Col: 1, Msg: fmt.Sprintf("YAML parser failed on this input: %v", r)}
		}
	}()
	ast, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, yamlError(file, err)
	}
	if a := firstAlias(ast); a != nil { // no alias expansion: a short file cannot grow into a huge one
		p := a.GetToken().Position
		return nil, &FileError{File: file, Line: p.Line, Col: p.Column, Msg: "aliases (*name) are not allowed here"}
	}
	var doc struct {
		Frameworks []Framework `yaml:"frameworks"`
	}
	if err := yaml.UnmarshalWithOptions(data, &doc, yaml.Strict(), yaml.DisallowUnknownField()); err != nil {
		return nil, yamlError(file, err)
	}
	at := func(i int, field string) (int, int) {
		p, err := yaml.PathString(fmt.Sprintf("$.frameworks[%d].%s", i, field))
		if err == nil && ast != nil {
			if n, err := p.FilterFile(ast); err == nil && n != nil && n.GetToken() != nil {
				return n.GetToken().Position.Line, n.GetToken().Position.Column
			}
		}
		if p, err := yaml.PathString(fmt.Sprintf("$.frameworks[%d]", i)); err == nil && ast != nil {
			if n, err := p.FilterFile(ast); err == nil && n != nil && n.GetToken() != nil {
				return n.GetToken().Position.Line, n.GetToken().Position.Column
			}
		}
		return 1, 1
	}
	bad := func(i int, field, format string, args ...any) error {
		l, c := at(i, field)
		return &FileError{File: file, Line: l, Col: c, Msg: fmt.Sprintf("frameworks[%d].%s: ", i, field) + fmt.Sprintf(format, args...)}
	}
	if len(doc.Frameworks) == 0 {
		return nil, &FileError{File: file, Line: 1, Col: 1, Msg: "no frameworks: want a list under frameworks:"}
	}
	seen := map[string]bool{}
	for i := range doc.Frameworks {
		f := &doc.Frameworks[i]
		switch {
		case !frameworkNameRe.MatchString(f.Name):
			return nil, bad(i, "name", "%q: want a framework name as in a submission's framework.name (lower-case letters, digits, '.', '_', '-')", f.Name)
		case f.Name == "scheduled":
			return nil, bad(i, "name", "%q is reserved: scheduled retests use the trigger retest:scheduled@<date>", f.Name)
		case seen[f.Name]:
			return nil, bad(i, "name", "%q is listed twice", f.Name)
		case !repoRe.MatchString(f.Repo):
			return nil, bad(i, "repo", "%q: want a GitHub repository, owner/name", f.Repo)
		}
		seen[f.Name] = true
		switch f.VersionFromTag {
		case "":
			f.VersionFromTag = VersionStripV
		case VersionStripV, VersionTag:
		default:
			return nil, bad(i, "version_from_tag", "%q: want %s or %s", f.VersionFromTag, VersionStripV, VersionTag)
		}
	}
	return doc.Frameworks, nil
}

// firstAlias returns the first alias node of f, or nil.
func firstAlias(f *yamlast.File) yamlast.Node {
	var found yamlast.Node
	for _, d := range f.Docs {
		yamlast.Walk(visitor(func(n yamlast.Node) bool {
			if a, ok := n.(*yamlast.AliasNode); ok && found == nil && a.GetToken() != nil {
				found = a
			}
			return found == nil
		}), d)
	}
	return found
}

type visitor func(yamlast.Node) bool

func (v visitor) Visit(n yamlast.Node) yamlast.Visitor {
	if n == nil || !v(n) {
		return nil
	}
	return v
}

// yamlError places a YAML library error at its token.
func yamlError(file string, err error) error {
	var ye yaml.Error
	if errors.As(err, &ye) && ye.GetToken() != nil && ye.GetToken().Position != nil {
		p := ye.GetToken().Position
		return &FileError{File: file, Line: p.Line, Col: p.Column, Msg: ye.GetMessage()}
	}
	return &FileError{File: file, Line: 1, Col: 1, Msg: err.Error()}
}

// VersionOf turns a release tag into the framework version it names, or
// refuses it: the version is written into an image reference, a job
// trigger and the spec.
func (f Framework) VersionOf(tag string) (string, error) {
	v := tag
	if f.VersionFromTag != VersionTag {
		v = strings.TrimPrefix(tag, "v")
	}
	if !versionRe.MatchString(v) {
		return "", fmt.Errorf("release tag %q of %s: not a version (want up to 64 of letters, digits, '.', '_', '-')", printable(tag), f.Repo)
	}
	return v, nil
}

// printable quotes at most 80 bytes of s for a log line.
func printable(s string) string {
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return strings.Trim(fmt.Sprintf("%q", s), `"`)
}
