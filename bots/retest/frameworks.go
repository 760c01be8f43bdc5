package retest

import (
	_ "embed"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/agentwatt/agentwatt/internal/yamlfile"
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

// FileError is one problem of a frameworks file, at its line and column;
// it wraps ErrFrameworks.
type FileError = yamlfile.Error

// maxFrameworksFile bounds a frameworks file (a few dozen entries are
// hundreds of bytes).
const maxFrameworksFile = 256 << 10

// ParseFrameworks reads frameworks.yaml: strictly (unknown fields,
// duplicate keys and wrong types refused), every entry checked. file only
// labels errors, which are *FileError with the line and column.
func ParseFrameworks(file string, data []byte) (fws []Framework, err error) {
	var doc struct {
		Frameworks []Framework `yaml:"frameworks"`
	}
	yf, err := yamlfile.Decode(file, data, maxFrameworksFile, ErrFrameworks, &doc)
	if err != nil {
		return nil, err
	}
	bad := func(i int, field, format string, args ...any) error {
		return yf.Errorf(fmt.Sprintf("$.frameworks[%d].%s", i, field), "frameworks[%d].%s: %s", i, field, fmt.Sprintf(format, args...))
	}
	if len(doc.Frameworks) == 0 {
		return nil, yf.At(1, 1, "no frameworks: want a list under frameworks:")
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
