package spec

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"
)

// Every string of a submission ends up on someone's terminal: `agentwatt
// status`, the demo, logs, the site. A control character there is an
// instruction to the terminal (ESC starts an escape sequence that can
// rewrite the screen, set the window title or, on some terminals, answer
// back; BEL rings; CR overwrites a line), so none is accepted: no C0
// character, DEL or C1 character in any string or map key. The one
// exception is free text written as a block: newline and tab in
// optimizations.notes.

// multiLine are the fields whose text may hold newlines and tabs.
var multiLine = []string{"optimizations.notes"}

// controlRune reports a C0 control, DEL or a C1 control.
func controlRune(r rune) bool {
	return r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f)
}

// firstControl returns the first control character of s that the field
// does not allow, and its byte offset; ok is false when there is none.
func firstControl(s string, multi bool) (r rune, at int, ok bool) {
	for i, c := range s {
		if !controlRune(c) || (multi && (c == '\n' || c == '\t')) {
			continue
		}
		return c, i, true
	}
	return 0, 0, false
}

// controlName names a control character for a message.
func controlName(r rune) string {
	names := map[rune]string{0: "NUL", 7: "BEL", 8: "BS", 9: "TAB", 10: "LF", 13: "CR", 0x1b: "ESC", 0x7f: "DEL", 0x9b: "CSI"}
	if n, ok := names[r]; ok {
		return fmt.Sprintf("%U (%s)", r, n)
	}
	return fmt.Sprintf("%U", r)
}

// controls reports every string of the submission that holds a control
// character, at the position of its value.
func (c *checker) controls() {
	c.walkStrings(reflect.ValueOf(c.s).Elem(), "")
}

func (c *checker) walkStrings(v reflect.Value, path string) {
	switch v.Kind() {
	case reflect.String:
		c.controlIn(path, v.String())
	case reflect.Pointer:
		if !v.IsNil() {
			c.walkStrings(v.Elem(), path)
		}
	case reflect.Struct:
		if v.Type() == durationType {
			return
		}
		for _, f := range structFields(v.Type()) {
			c.walkStrings(v.Field(f.index), joinPath(path, f.name))
		}
	case reflect.Slice:
		for i := range v.Len() {
			c.walkStrings(v.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
	case reflect.Map:
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
		for _, k := range keys {
			epath := joinPath(path, k.String())
			if r, _, ok := firstControl(k.String(), false); ok {
				c.bad(epath, "the name holds the control character %s; names are printable text", controlName(r))
				continue
			}
			c.walkStrings(v.MapIndex(k), epath)
		}
	}
}

func (c *checker) controlIn(path, s string) {
	r, at, ok := firstControl(s, slices.Contains(multiLine, path))
	if !ok {
		return
	}
	c.bad(path, "holds the control character %s at character %d; a spec's text must be printable (control characters would reach terminals that show it)",
		controlName(r), utf8.RuneCountInString(s[:at])+1)
}

// printable replaces the control characters of s with Go escapes (\x1b,
// \u009b), so that a message quoting a hostile name cannot drive a
// terminal.
func printable(s string) string {
	if !strings.ContainsFunc(s, controlRune) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if controlRune(r) {
			if r < 0x80 {
				fmt.Fprintf(&b, `\x%02x`, r)
			} else {
				fmt.Fprintf(&b, `\u%04x`, r)
			}
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
