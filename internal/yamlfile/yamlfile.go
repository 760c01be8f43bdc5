// Package yamlfile reads the small YAML files operators and maintainers
// write (the retest bot's frameworks.yaml, the scaler's config): bounded in
// size, strictly (unknown fields, duplicate keys and wrong types refused),
// without alias expansion (a short file cannot grow into a huge one), and
// with every problem placed at its line and column. Submissions have their
// own reader in package spec, which reports every problem at once.
package yamlfile

import (
	"errors"
	"fmt"

	"github.com/goccy/go-yaml"
	yamlast "github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// Error is one problem of a file, at its line and column. Kind is what
// errors.Is matches it against (each file kind's own sentinel).
type Error struct {
	File      string
	Line, Col int
	Msg       string
	Kind      error
}

func (e *Error) Error() string { return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg) }
func (e *Error) Unwrap() error { return e.Kind }

// Doc is a file decoded by Decode: its syntax tree places later problems.
type Doc struct {
	file string
	kind error
	ast  *yamlast.File
}

// Decode reads data (labelled file in errors) into v: at most limit bytes,
// no aliases, strictly. A panic of the YAML library on odd input is an
// *Error too. Errors are *Error wrapping kind.
func Decode(file string, data []byte, limit int, kind error, v any) (doc *Doc, err error) {
	doc = &Doc{file: file, kind: kind}
	if len(data) > limit {
		return nil, doc.At(1, 1, "%d bytes; the limit is %d", len(data), limit)
	}
	defer func() { // the YAML library must not take a daemon down on odd input
		if r := recover(); r != nil {
			doc, err = nil, &Error{File: file, Line: 1, Col: 1, Msg: fmt.Sprintf("YAML parser failed on this input: %v", r), Kind: kind}
		}
	}()
	ast, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, doc.libraryError(err)
	}
	doc.ast = ast
	if a := firstAlias(ast); a != nil {
		p := a.GetToken().Position
		return nil, doc.At(p.Line, p.Column, "aliases (*name) are not allowed here")
	}
	if err := yaml.UnmarshalWithOptions(data, v, yaml.Strict(), yaml.DisallowUnknownField()); err != nil {
		return nil, doc.libraryError(err)
	}
	return doc, nil
}

// At is a problem at line:col.
func (d *Doc) At(line, col int, format string, args ...any) *Error {
	return &Error{File: d.file, Line: line, Col: col, Msg: fmt.Sprintf(format, args...), Kind: d.kind}
}

// Errorf is a problem placed at path ("$.pools[0].max"), or at the nearest
// enclosing node that exists, or at 1:1.
func (d *Doc) Errorf(path, format string, args ...any) *Error {
	l, c := d.Position(path)
	return d.At(l, c, format, args...)
}

// Position is the line and column of path, or of the nearest enclosing node
// that exists, or 1:1.
func (d *Doc) Position(path string) (int, int) {
	for p := path; p != "$" && p != ""; {
		if yp, err := yaml.PathString(p); err == nil && d.ast != nil {
			if n, err := yp.FilterFile(d.ast); err == nil && n != nil && n.GetToken() != nil {
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

// libraryError places a YAML library error at its token.
func (d *Doc) libraryError(err error) *Error {
	var ye yaml.Error
	if errors.As(err, &ye) && ye.GetToken() != nil && ye.GetToken().Position != nil {
		p := ye.GetToken().Position
		return d.At(p.Line, p.Column, "%s", ye.GetMessage())
	}
	return d.At(1, 1, "%s", err.Error())
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
