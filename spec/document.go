package spec

import (
	"fmt"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// position is a 1-based line and column in a document.
type position struct{ line, col int }

func posOf(n ast.Node) position {
	if n == nil {
		return position{1, 1}
	}
	tk := n.GetToken()
	if tk == nil || tk.Position == nil {
		return position{1, 1}
	}
	return position{tk.Position.Line, tk.Position.Column}
}

// readDocument runs everything up to the document's root node: the raw
// checks, the lexer with its limits, the parser, the one-document rule and
// the alias budget. It returns nil when the document cannot be decoded; the
// reasons are in d.probs.
func (d *decoder) readDocument(data []byte) ast.Node {
	src, p := checkRaw(d.file, data)
	if p != nil {
		d.probs = append(d.probs, *p)
		return nil
	}
	tks, p := tokenize(d.file, src)
	if p != nil {
		d.probs = append(d.probs, *p)
		return nil
	}
	f, err := parseTokens(tks)
	if err != nil {
		d.syntaxError(err)
		return nil
	}
	var root ast.Node
	for _, doc := range f.Docs {
		if doc == nil || doc.Body == nil {
			continue
		}
		if root != nil {
			d.addAt(posOf(doc), "", "a file holds one YAML document; a second one starts here")
			break
		}
		root = doc.Body
	}
	if root == nil {
		d.addAt(position{1, 1}, "", fmt.Sprintf("file is empty: want a %s document", d.kind))
		return nil
	}
	if !d.checkAliases(root) {
		return nil
	}
	return root
}

// parseTokens runs the YAML parser, turning a panic inside it into an error:
// hostile input must never take down the intake server.
func parseTokens(tks token.Tokens) (f *ast.File, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, fmt.Errorf("YAML parser failed on this input: %v", r)
		}
	}()
	return parser.Parse(tks, 0, parser.AllowDuplicateMapKey())
}

// syntaxError records a parser error at its position.
func (d *decoder) syntaxError(err error) {
	if ye, ok := err.(yaml.Error); ok && ye.GetToken() != nil && ye.GetToken().Position != nil {
		pos := ye.GetToken().Position
		d.addAt(position{pos.Line, pos.Column}, "", "syntax error: "+ye.GetMessage())
		return
	}
	d.addAt(position{1, 1}, "", "syntax error: "+err.Error())
}

// checkAliases resolves every alias to the node its anchor names, and refuses
// the document when aliases would expand it by more than MaxAliasExpansion
// nodes. It runs on the AST, before any decoding, in document order: an alias
// refers to the latest anchor of its name defined before it, so a
// self-referencing anchor finds no target.
func (d *decoder) checkAliases(root ast.Node) bool {
	type anchor struct {
		node ast.Node
		size int64 // nodes of the value, aliases inside it expanded
	}
	anchors := map[string]anchor{}
	var extra int64
	ok := true
	const limit = MaxAliasExpansion + 1
	var walk func(n ast.Node) int64
	walk = func(n ast.Node) int64 {
		if !ok || n == nil {
			return 0
		}
		switch x := n.(type) {
		case *ast.AnchorNode:
			s := walk(x.Value)
			if x.Name != nil {
				anchors[x.Name.GetToken().Value] = anchor{node: x.Value, size: s}
			}
			return s
		case *ast.AliasNode:
			name := ""
			if x.Value != nil {
				name = x.Value.GetToken().Value
			}
			a, found := anchors[name]
			if !found {
				d.addAt(posOf(x), "", fmt.Sprintf("alias *%s refers to no anchor &%s defined before it", name, name))
				return 1
			}
			d.aliases[x] = a.node
			extra = min(extra+a.size, limit)
			if extra > MaxAliasExpansion {
				d.addAt(posOf(x), "", fmt.Sprintf("aliases expand the document by more than %d nodes (an alias bomb?); refusing it", MaxAliasExpansion))
				ok = false
			}
			return a.size
		case *ast.MappingNode:
			s := int64(1)
			for _, mv := range x.Values {
				s = min(s+walk(mv.Key)+walk(mv.Value), limit)
			}
			return s
		case *ast.MappingValueNode:
			return min(1+walk(x.Key)+walk(x.Value), limit)
		case *ast.SequenceNode:
			s := int64(1)
			for _, v := range x.Values {
				s = min(s+walk(v), limit)
			}
			return s
		case *ast.TagNode:
			return min(1+walk(x.Value), limit)
		case *ast.MappingKeyNode:
			return min(1+walk(x.Value), limit)
		default:
			return 1
		}
	}
	walk(root)
	return ok
}
