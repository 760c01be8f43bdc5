package spec

import (
	"fmt"
	"reflect"
	"strings"
	"sync"

	"github.com/goccy/go-yaml/ast"
)

// decoder turns a YAML document into a Go value of the spec's types, checking
// the document against the types as it goes: unknown fields, duplicate keys,
// wrong types and missing required fields, each with its position. It walks
// the whole document and records every problem rather than stopping at the
// first. It also remembers where each field was, so that the semantic checks
// that follow can point at the value they reject.
type decoder struct {
	file  string
	kind  string // what the document is, for messages ("Submission")
	probs Problems

	aliases map[*ast.AliasNode]ast.Node // resolved by checkAliases
	pos     map[string]position         // field path → where its value is
	bad     map[string]bool             // field paths already reported
	noPos   bool                        // no document: problems have no position
}

func newDecoder(file, kind string) *decoder {
	return &decoder{
		file:    file,
		kind:    kind,
		aliases: map[*ast.AliasNode]ast.Node{},
		pos:     map[string]position{},
		bad:     map[string]bool{},
	}
}

// decodeDocument reads data into v (a pointer to a struct). It reports
// whether v was decoded at all; the problems are in d.probs either way.
func (d *decoder) decodeDocument(data []byte, v any) bool {
	root := d.readDocument(data)
	if root == nil {
		return false
	}
	d.decode(root, reflect.ValueOf(v).Elem(), "", firstKeyPos(root))
	return true
}

// firstKeyPos is where problems about the root mapping as a whole go: its
// first key, which is where a reader looks.
func firstKeyPos(root ast.Node) position {
	if m, ok := root.(*ast.MappingNode); ok && len(m.Values) > 0 {
		return posOf(m.Values[0].Key)
	}
	return posOf(root)
}

// addAt records a problem. field is the dotted path ("" for the document)
// and becomes the message's prefix.
// Field and message are made printable: a key may be hostile text.
func (d *decoder) addAt(p position, field, msg string) {
	if field != "" {
		d.bad[field] = true
		field = printable(field)
		msg = field + ": " + msg
	}
	d.probs = append(d.probs, Problem{File: d.file, Line: p.line, Col: p.col, Field: field, Message: printable(msg)})
}

// at returns where the value of path is, or the nearest enclosing field's
// place when path was not written.
func (d *decoder) at(path string) position {
	if d.noPos {
		return position{}
	}
	for {
		if p, ok := d.pos[path]; ok {
			return p
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			if p, ok := d.pos[""]; ok {
				return p
			}
			return position{1, 1}
		}
		path = path[:i]
	}
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

var durationType = reflect.TypeFor[Duration]()

// decode decodes n into v. path names v; at is where v's key is, the place
// for problems about v as a whole.
func (d *decoder) decode(n ast.Node, v reflect.Value, path string, at position) {
	written := posOf(n) // where the value is written: an alias, not its anchor
	n, tag := d.resolve(n, path)
	if n == nil {
		d.bad[path] = true
		return
	}
	switch n.(type) {
	case *ast.MappingNode, *ast.NullNode:
		d.pos[path] = at
	default:
		d.pos[path] = written
	}
	t := v.Type()
	if _, null := n.(*ast.NullNode); null {
		if t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
			return // absent; a required one is reported by its struct
		}
		d.typeError(n, path, t)
		return
	}
	switch {
	case t == durationType:
		s, ok := d.scalarString(n, tag)
		if !ok {
			d.typeError(n, path, t)
			return
		}
		dur, err := parseDuration(s)
		if err != nil {
			d.addAt(posOf(n), path, err.Error())
			return
		}
		v.Set(reflect.ValueOf(Duration{dur}))
	case t.Kind() == reflect.Struct:
		d.decodeStruct(n, v, path, at)
	case t.Kind() == reflect.Pointer:
		nv := reflect.New(t.Elem())
		d.decode(n, nv.Elem(), path, at)
		v.Set(nv)
	case t.Kind() == reflect.Slice:
		d.decodeSlice(n, v, path)
	case t.Kind() == reflect.Map:
		d.decodeMap(n, v, path)
	default:
		d.decodeScalar(n, tag, v, path)
	}
}

// resolve looks through anchors, aliases and tags to the node that holds the
// value. It returns nil when an alias has no target (already reported) or the
// tag is not one this decoder understands.
func (d *decoder) resolve(n ast.Node, path string) (ast.Node, string) {
	tag := ""
	for {
		switch x := n.(type) {
		case nil:
			return &ast.NullNode{BaseNode: &ast.BaseNode{}}, tag
		case *ast.AnchorNode:
			n = x.Value
		case *ast.AliasNode:
			t, ok := d.aliases[x]
			if !ok {
				return nil, ""
			}
			n = t
		case *ast.TagNode:
			tag = x.Start.Value
			switch tag {
			case "!!str", "!!int", "!!float", "!!bool", "!!null", "!!map", "!!seq":
			default:
				d.addAt(posOf(x), path, fmt.Sprintf("tag %s is not supported", tag))
				return nil, ""
			}
			n = x.Value
		default:
			return n, tag
		}
	}
}

// fieldInfo is one field of a spec struct as the YAML sees it.
type fieldInfo struct {
	name     string
	index    int
	required bool
}

var structFieldsCache sync.Map // reflect.Type → []fieldInfo

// structFields lists t's fields by their json names; a field without
// omitempty is required.
func structFields(t reflect.Type) []fieldInfo {
	if fs, ok := structFieldsCache.Load(t); ok {
		return fs.([]fieldInfo)
	}
	var fs []fieldInfo
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() || f.Anonymous {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || name == "" {
			continue
		}
		fs = append(fs, fieldInfo{name: name, index: i, required: !strings.Contains(opts, "omitempty")})
	}
	structFieldsCache.Store(t, fs)
	return fs
}

func (d *decoder) decodeStruct(n ast.Node, v reflect.Value, path string, at position) {
	m, ok := n.(*ast.MappingNode)
	if !ok {
		d.typeError(n, path, v.Type())
		return
	}
	fields := structFields(v.Type())
	seen := map[string]position{}
	suggested := map[string]bool{} // a typo's likely field is not reported missing too
	for _, mv := range m.Values {
		key, kp, ok := d.key(mv, path)
		if !ok {
			continue
		}
		fpath := joinPath(path, key)
		if first, dup := seen[key]; dup {
			d.addAt(kp, fpath, fmt.Sprintf("duplicate key (first at line %d, column %d)", first.line, first.col))
			continue
		}
		seen[key] = kp
		fi, found := lookupField(fields, key)
		if why, ok := retiredFields[fpath]; ok && !found {
			d.addAt(kp, fpath, why)
			continue
		}
		if !found {
			where := path
			if where == "" {
				where = "a " + d.kind
			}
			msg, sug := unknownFieldMessage(key, where, fields)
			d.addAt(kp, fpath, msg)
			suggested[sug] = true
			continue
		}
		d.decode(mv.Value, v.Field(fi.index), fpath, kp)
	}
	for _, f := range fields {
		if _, ok := seen[f.name]; !ok && f.required {
			if suggested[f.name] {
				d.bad[joinPath(path, f.name)] = true
				continue
			}
			d.addAt(at, joinPath(path, f.name), "required field is missing")
		}
	}
}

// retiredFields are fields that a submission may no longer hold, with why
// and what to write instead.
var retiredFields = map[string]string{
	"engine.command": "a submission cannot choose a program for the runner to execute: use engine.image " +
		"(a container pinned by digest) or, for the simulated engine, engine.sim_profile (the runner launches " +
		"its own sim); outside a container the runner executes only its own sim, never a submission's program",
}

func lookupField(fields []fieldInfo, key string) (fieldInfo, bool) {
	for _, f := range fields {
		if f.name == key {
			return f, true
		}
	}
	return fieldInfo{}, false
}

// unknownFieldMessage says that key is not a field of the struct (called
// where), naming the likely field (returned too) or listing them all.
func unknownFieldMessage(key, where string, fields []fieldInfo) (string, string) {
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.name
	}
	if s := suggest(key, names); s != "" {
		return fmt.Sprintf("unknown field %q (did you mean %q?)", key, s), s
	}
	return fmt.Sprintf("unknown field %q; %s has %s", key, where, strings.Join(names, ", ")), ""
}

// key returns a mapping entry's key as a string, with its position.
func (d *decoder) key(mv *ast.MappingValueNode, path string) (string, position, bool) {
	kn := ast.Node(mv.Key)
	kp := posOf(kn)
	if _, merge := kn.(*ast.MergeKeyNode); merge {
		d.addAt(kp, path, "merge keys (<<) are not supported; write the fields out")
		return "", kp, false
	}
	if mk, ok := kn.(*ast.MappingKeyNode); ok {
		kn = mk.Value
	}
	kn, tag := d.resolve(kn, path)
	if kn == nil {
		return "", kp, false
	}
	s, ok := d.scalarString(kn, tag)
	if !ok {
		switch kn.(type) {
		case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.NullNode:
			s, ok = kn.GetToken().Value, true
		}
	}
	if !ok {
		d.addAt(kp, path, fmt.Sprintf("a key must be a name, not %s", nodeKind(kn)))
		return "", kp, false
	}
	return s, kp, true
}

func (d *decoder) decodeSlice(n ast.Node, v reflect.Value, path string) {
	seq, ok := n.(*ast.SequenceNode)
	if !ok {
		d.typeError(n, path, v.Type())
		return
	}
	out := reflect.MakeSlice(v.Type(), len(seq.Values), len(seq.Values))
	for i, e := range seq.Values {
		d.decode(e, out.Index(i), fmt.Sprintf("%s[%d]", path, i), posOf(e))
	}
	v.Set(out)
}

func (d *decoder) decodeMap(n ast.Node, v reflect.Value, path string) {
	m, ok := n.(*ast.MappingNode)
	if !ok || v.Type().Key().Kind() != reflect.String {
		d.typeError(n, path, v.Type())
		return
	}
	out := reflect.MakeMapWithSize(v.Type(), len(m.Values))
	seen := map[string]position{}
	for _, mv := range m.Values {
		key, kp, ok := d.key(mv, path)
		if !ok {
			continue
		}
		epath := joinPath(path, key)
		if first, dup := seen[key]; dup {
			d.addAt(kp, epath, fmt.Sprintf("duplicate key (first at line %d, column %d)", first.line, first.col))
			continue
		}
		seen[key] = kp
		ev := reflect.New(v.Type().Elem()).Elem()
		d.decode(mv.Value, ev, epath, kp)
		out.SetMapIndex(reflect.ValueOf(key).Convert(v.Type().Key()), ev)
	}
	v.Set(out)
}
