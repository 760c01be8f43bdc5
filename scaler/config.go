package scaler

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"time"

	"github.com/goccy/go-yaml"
	yamlast "github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

	"github.com/agentwatt/agentwatt/queue"
)

// File is the scaler's config file (agentwatt scaler --config FILE):
//
//	interval: 15s          # how often every pool is looked at
//	cooldown: 10m          # demand below capacity this long before a scale-in
//	aws:
//	  region: us-east-1    # default: the credential chain's
//	pools:
//	  - name: h200x8
//	    min: 0
//	    max: 4
//	    backend: aws       # aws, or none (observed only; the default)
//	    group: agentwatt-h200x8
type File struct {
	Interval time.Duration
	Cooldown time.Duration
	AWS      AWSFile
	Pools    []PoolFile
}

// AWSFile is the file's aws section.
type AWSFile struct {
	Region   string `yaml:"region"`
	Endpoint string `yaml:"endpoint"` // a VPC endpoint or a stand-in; empty: AWS's
}

// PoolFile is one pool of the file.
type PoolFile struct {
	Name    string `yaml:"name"`
	Min     int    `yaml:"min"`
	Max     int    `yaml:"max"`
	Backend string `yaml:"backend"`
	Group   string `yaml:"group"`
}

// Back-ends a pool of the file may name.
const (
	BackendNone = "none"
	BackendAWS  = "aws"
)

// rawFile is File as written: durations as strings, so that a bad one is
// placed at its line.
type rawFile struct {
	Interval string     `yaml:"interval"`
	Cooldown string     `yaml:"cooldown"`
	AWS      AWSFile    `yaml:"aws"`
	Pools    []PoolFile `yaml:"pools"`
}

// ErrFile is the error of a config file that is not valid.
var ErrFile = errors.New("scaler config file")

// FileError is one problem of a config file, at its line and column.
type FileError struct {
	File      string
	Line, Col int
	Msg       string
}

func (e *FileError) Error() string { return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg) }
func (e *FileError) Unwrap() error { return ErrFile }

// maxFile bounds a config file (a pool is a few lines).
const maxFile = 256 << 10

var (
	// groupRe: an Auto Scaling group name (1-255 characters, no control
	// characters; we also refuse spaces and quotes, never needed).
	groupRe    = regexp.MustCompile(`^[A-Za-z0-9._:/@+=-]{1,255}$`)
	regionRe   = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
	maxPoolCap = 10000
)

// ParseFile reads a config file strictly (unknown fields, duplicate keys,
// wrong types and aliases refused) and checks every pool. file only labels
// errors, which are *FileError with the line and column.
func ParseFile(file string, data []byte) (f *File, err error) {
	if len(data) > maxFile {
		return nil, &FileError{File: file, Line: 1, Col: 1, Msg: fmt.Sprintf("%d bytes; the limit is %d", len(data), maxFile)}
	}
	defer func() { // odd input must not take the scaler down
		if r := recover(); r != nil {
			f, err = nil, &FileError{File: file, Line: 1, Col: 1, Msg: fmt.Sprintf("YAML parser failed on this input: %v", r)}
		}
	}()
	ast, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, yamlError(file, err)
	}
	if a := firstAlias(ast); a != nil {
		p := a.GetToken().Position
		return nil, &FileError{File: file, Line: p.Line, Col: p.Column, Msg: "aliases (*name) are not allowed here"}
	}
	var raw rawFile
	if err := yaml.UnmarshalWithOptions(data, &raw, yaml.Strict(), yaml.DisallowUnknownField()); err != nil {
		return nil, yamlError(file, err)
	}
	bad := func(path, format string, args ...any) error {
		l, c := position(ast, path)
		return &FileError{File: file, Line: l, Col: c, Msg: path[2:] + ": " + fmt.Sprintf(format, args...)}
	}
	f = &File{AWS: raw.AWS, Pools: raw.Pools}
	for _, d := range []struct {
		path string
		s    string
		to   *time.Duration
	}{{"$.interval", raw.Interval, &f.Interval}, {"$.cooldown", raw.Cooldown, &f.Cooldown}} {
		if d.s == "" {
			continue
		}
		v, err := time.ParseDuration(d.s)
		if err != nil || v <= 0 {
			return nil, bad(d.path, "%q: want a positive duration such as 15s or 10m", d.s)
		}
		*d.to = v
	}
	if f.Interval != 0 && f.Interval < time.Second {
		return nil, bad("$.interval", "%s: want at least 1s (the scaler reads JetStream and the back-end every interval)", f.Interval)
	}
	if f.AWS.Region != "" && !regionRe.MatchString(f.AWS.Region) {
		return nil, bad("$.aws.region", "%q: want an AWS region such as us-east-1", f.AWS.Region)
	}
	if e := f.AWS.Endpoint; e != "" {
		if u, err := url.Parse(e); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
			return nil, bad("$.aws.endpoint", "%q: want an https:// URL (a VPC endpoint)", e)
		}
	}
	if len(f.Pools) == 0 {
		return nil, &FileError{File: file, Line: 1, Col: 1, Msg: "no pools: want a list under pools:"}
	}
	seen := map[string]bool{}
	for i := range f.Pools {
		p := &f.Pools[i]
		at := func(field string) string { return fmt.Sprintf("$.pools[%d].%s", i, field) }
		switch {
		case !queue.ValidPool(p.Name):
			return nil, bad(at("name"), "%q: want a pool name (lower-case letters, digits, '-', '_')", p.Name)
		case seen[p.Name]:
			return nil, bad(at("name"), "%q is listed twice", p.Name)
		case p.Min < 0 || p.Min > maxPoolCap:
			return nil, bad(at("min"), "%d: want 0 to %d", p.Min, maxPoolCap)
		case p.Max < 1 || p.Max > maxPoolCap:
			return nil, bad(at("max"), "%d: want 1 to %d", p.Max, maxPoolCap)
		case p.Min > p.Max:
			return nil, bad(at("min"), "%d is above max %d", p.Min, p.Max)
		}
		seen[p.Name] = true
		switch p.Backend {
		case "", BackendNone:
			p.Backend = BackendNone
			if p.Group != "" {
				return nil, bad(at("group"), "a group needs backend: aws")
			}
		case BackendAWS:
			if !groupRe.MatchString(p.Group) {
				return nil, bad(at("group"), "%q: want the Auto Scaling group's name", p.Group)
			}
		default:
			return nil, bad(at("backend"), "%q: want aws or none", p.Backend)
		}
	}
	return f, nil
}

// position is the line and column of path in ast, or of the nearest
// enclosing node that exists, or 1:1.
func position(ast *yamlast.File, path string) (int, int) {
	for p := path; p != "$" && p != ""; {
		if yp, err := yaml.PathString(p); err == nil && ast != nil {
			if n, err := yp.FilterFile(ast); err == nil && n != nil && n.GetToken() != nil {
				return n.GetToken().Position.Line, n.GetToken().Position.Column
			}
		}
		cut := len(p) - 1
		for cut > 0 && p[cut] != '.' && p[cut] != '[' {
			cut--
		}
		p = p[:cut]
	}
	return 1, 1
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
