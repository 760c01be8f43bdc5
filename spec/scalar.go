package spec

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml/ast"
)

// Scalars and type errors: what the decoder accepts for each Go kind, and
// how it names what it wanted and what it found.

func (d *decoder) decodeScalar(n ast.Node, tag string, v reflect.Value, path string) {
	switch v.Kind() {
	case reflect.String:
		s, ok := d.scalarString(n, tag)
		if !ok {
			d.typeError(n, path, v.Type())
			return
		}
		v.SetString(s)
	case reflect.Bool:
		b, ok := n.(*ast.BoolNode)
		if !ok {
			d.typeError(n, path, v.Type())
			return
		}
		v.SetBool(b.Value)
	case reflect.Int, reflect.Int64:
		i, ok := n.(*ast.IntegerNode)
		if !ok {
			d.typeError(n, path, v.Type())
			return
		}
		switch x := i.Value.(type) {
		case int64:
			v.SetInt(x)
		case uint64:
			if x > uint64(1<<63-1) {
				d.addAt(posOf(n), path, fmt.Sprintf("%d is too large", x))
				return
			}
			v.SetInt(int64(x))
		default:
			d.typeError(n, path, v.Type())
		}
	case reflect.Float64:
		switch x := n.(type) {
		case *ast.FloatNode:
			v.SetFloat(x.Value)
		case *ast.IntegerNode:
			f, err := strconv.ParseFloat(fmt.Sprint(x.Value), 64)
			if err != nil {
				d.typeError(n, path, v.Type())
				return
			}
			v.SetFloat(f)
		default:
			d.typeError(n, path, v.Type())
		}
	default:
		// The spec's types use no other kinds; a new one needs a case here.
		d.addAt(posOf(n), path, fmt.Sprintf("internal: cannot decode into %s", v.Type()))
	}
}

// scalarString returns a string node's text. Under the !!str tag any scalar
// counts, as written.
func (d *decoder) scalarString(n ast.Node, tag string) (string, bool) {
	switch x := n.(type) {
	case *ast.StringNode:
		return x.Value, true
	case *ast.LiteralNode:
		if x.Value == nil {
			return "", true
		}
		return x.Value.Value, true
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		if tag == "!!str" {
			return x.GetToken().Value, true
		}
	}
	return "", false
}

// typeError reports that n is not what t wants.
func (d *decoder) typeError(n ast.Node, path string, t reflect.Type) {
	d.bad[path] = true
	msg := fmt.Sprintf("want %s, got %s", typeName(t), nodeKind(n))
	if path == "" {
		msg = fmt.Sprintf("a %s is a YAML mapping of fields, not %s", d.kind, nodeKind(n))
	}
	if t.Kind() == reflect.String || t == durationType {
		switch n.(type) {
		case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode:
			msg += fmt.Sprintf(" (quote it: %q)", n.GetToken().Value)
		}
	}
	d.addAt(posOf(n), path, msg)
}

func typeName(t reflect.Type) string {
	if t == durationType {
		return `a duration such as "90s" or "10m"`
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64:
		return "an integer"
	case reflect.Float64:
		return "a number"
	case reflect.Struct:
		fs := structFields(t)
		names := make([]string, len(fs))
		for i, f := range fs {
			names[i] = f.name
		}
		sort.Strings(names)
		return "a mapping (" + strings.Join(names, ", ") + ")"
	case reflect.Pointer:
		return typeName(t.Elem())
	case reflect.Slice:
		switch t.Elem().Kind() {
		case reflect.String:
			return "a list of strings"
		case reflect.Struct:
			return "a list of mappings"
		}
		return "a list"
	case reflect.Map:
		return "a mapping of names to strings"
	}
	return t.String()
}

func nodeKind(n ast.Node) string {
	switch n.(type) {
	case *ast.StringNode, *ast.LiteralNode:
		return "a string"
	case *ast.IntegerNode:
		return "an integer"
	case *ast.FloatNode, *ast.InfinityNode, *ast.NanNode:
		return "a number"
	case *ast.BoolNode:
		return "a boolean"
	case *ast.NullNode:
		return "nothing"
	case *ast.MappingNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	}
	return strings.ToLower(n.Type().String())
}
