package termtext

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Escape returns s with every control character shown as a visible escape:
// C0 (newline and tab included, so that a value cannot start a line or a
// column of its own), DEL, C1, the bidi embeddings, overrides and isolates
// (U+202A–U+202E, U+2066–U+2069) and bytes that are not UTF-8. Text without
// any of them is returned as it is.
func Escape(s string) string { return escape(s, false) }

// Lines is Escape for multi-line text (an error message, a log tail): it
// keeps newlines and escapes everything else Escape does.
func Lines(s string) string { return escape(s, true) }

func escape(s string, keepNewline bool) string {
	i := firstUnsafe(s, keepNewline)
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	b.WriteString(s[:i])
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n' && keepNewline:
			b.WriteByte('\n')
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafeRune(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// firstUnsafe is the index of the first byte Escape changes, or -1.
func firstUnsafe(s string, keepNewline bool) int {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if (c < 0x20 && !(keepNewline && c == '\n')) || c == 0x7f {
				return i
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || unsafeRune(r) {
			return i
		}
		i += size
	}
	return -1
}

// unsafeRune reports the non-ASCII runes a terminal acts on or that reorder
// the text around them: C1 controls and the bidi formatting characters.
func unsafeRune(r rune) bool {
	return (r >= 0x80 && r <= 0x9f) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069)
}

// JSON rewrites, in text that encoding/json produced, the runes it leaves
// raw but a terminal acts on — DEL, C1 and the bidi formatting characters —
// as \u escapes. The result is the same JSON value: those runes can only
// stand inside strings, where \uXXXX means the rune itself.
func JSON(b []byte) []byte {
	s := string(b)
	if firstUnsafe(s, true) < 0 {
		return b
	}
	var out strings.Builder
	out.Grow(len(b) + 16)
	for _, r := range s {
		switch {
		case r == 0x7f || unsafeRune(r):
			fmt.Fprintf(&out, `\u%04x`, r)
		default:
			out.WriteRune(r)
		}
	}
	return []byte(out.String())
}
