package termtext

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestEscape(t *testing.T) {
	for _, c := range []struct{ name, in, want, lines string }{
		{"plain", "vllm 0.9.1 — tier t20 ≥ 20 tok/s", "vllm 0.9.1 — tier t20 ≥ 20 tok/s", ""},
		{"empty", "", "", ""},
		{"clear screen", "engine died\x1b[2J\x1b[H", `engine died\x1b[2J\x1b[H`, ""},
		{"bell and title", "\x1b]0;pwned\x07name", `\x1b]0;pwned\x07name`, ""},
		{"osc 8 link", "\x1b]8;;http://evil\x1b\\click\x1b]8;;\x1b\\", `\x1b]8;;http://evil\x1b\click\x1b]8;;\x1b\`, ""},
		{"newline forges a line", "oom\nverified by maintainer", `oom\nverified by maintainer`, "oom\nverified by maintainer"},
		{"cr and tab", "a\rb\tc", `a\rb\tc`, ""},
		{"nul and del", "a\x00b\x7f", `a\x00b\x7f`, ""},
		{"c1 csi", "a\u009b2Jb", `a\u009b2Jb`, ""},
		{"raw c1 byte", "a\x9b2J", `a\x9b2J`, ""},
		{"bidi override", "acme\u202egnp.exe", `acme\u202egnp.exe`, ""},
		{"bidi isolate", "\u2066x\u2069", `\u2066x\u2069`, ""},
		{"invalid utf-8", "ok\xff\xfe", `ok\xff\xfe`, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := Escape(c.in); got != c.want {
				t.Errorf("Escape(%q): got %q, want %q", c.in, got, c.want)
			}
			want := c.lines
			if want == "" {
				want = c.want
			}
			if got := Lines(c.in); got != want {
				t.Errorf("Lines(%q): got %q, want %q", c.in, got, want)
			}
		})
	}
}

// FuzzEscape: whatever the input, the output is UTF-8 with no control
// character, C1 or bidi formatting rune (Lines keeps newlines), and text
// without any of them comes back unchanged; JSON keeps encoded JSON the
// same value without those runes raw.
func FuzzEscape(f *testing.F) {
	for _, s := range []string{"", "plain", "\x1b[31mred\x1b[0m", "\x1b]0;t\x07", "a\nb", "\u202e\u2066", "\x9b", "\xc2\x9b", "\xff", "tab\there", "\r\n", "é—≥✓"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, keep := range []bool{false, true} {
			got := escape(s, keep)
			if !utf8.ValidString(got) {
				t.Fatalf("escape(%q, %v) = %q: not UTF-8", s, keep, got)
			}
			for _, r := range got {
				if (r < 0x20 && !(keep && r == '\n')) || r == 0x7f || unsafeRune(r) {
					t.Fatalf("escape(%q, %v) = %q: holds %U", s, keep, got, r)
				}
			}
			if firstUnsafe(s, keep) < 0 && got != s {
				t.Fatalf("escape(%q, %v) = %q: changed safe text", s, keep, got)
			}
			if keep && strings.Count(got, "\n") != strings.Count(s, "\n") {
				t.Fatalf("Lines(%q) = %q: newlines changed", s, got)
			}
		}
		enc, _ := json.Marshal(map[string]string{"reason": s})
		got := JSON(enc)
		for _, r := range string(got) {
			if r < 0x20 || r == 0x7f || unsafeRune(r) {
				t.Fatalf("JSON(%s) = %s: holds %U", enc, got, r)
			}
		}
		var back, want map[string]string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("JSON(%s) = %s: %v", enc, got, err)
		}
		_ = json.Unmarshal(enc, &want)
		if back["reason"] != want["reason"] {
			t.Fatalf("JSON(%s) = %s decodes to %q, want %q", enc, got, back["reason"], want["reason"])
		}
	})
}
