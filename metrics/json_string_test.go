package metrics

import (
	"bytes"
	"encoding/json"
	"testing"
)

// encodingJSON is what encoding/json writes for s, without the quotes.
func encodingJSON(t testing.TB, s string, htmlSafe bool) string {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(htmlSafe)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	out := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	return string(out[1 : len(out)-1])
}

func TestAppendJSONString(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{"plain", "hello, world"},
		{"empty", ""},
		{"quotes and backslashes", `say "hi" \ bye`},
		{"controls", "a\nb\rc\td\x00e\x1ff\x7fg\bh\fi"},
		{"html", "<a href='x'>&amp;</a>"},
		{"line separators", "x\u2028y\u2029z"},
		{"multibyte", "é😀中文"},
		{"invalid utf-8", "bad \xff\xfe end \xe2\x82"},
		{"truncated rune at the end", "ok \xf0\x9f\x98"},
	}
	for _, tt := range tests {
		for _, html := range []bool{false, true} {
			want := encodingJSON(t, tt.in, html)
			if got := string(AppendJSONString(nil, tt.in, html)); got != want {
				t.Errorf("%s (html %v), string: got %q, want %q", tt.name, html, got, want)
			}
			if got := string(AppendJSONString([]byte("prefix:"), []byte(tt.in), html)); got != "prefix:"+want {
				t.Errorf("%s (html %v), bytes: got %q, want %q", tt.name, html, got, "prefix:"+want)
			}
		}
	}
}

func TestAppendJSONStringNoAllocs(t *testing.T) {
	in := []byte("tool output: <b>\u2028 é😀 \xff \"quoted\"\n")
	dst := make([]byte, 0, 256)
	if n := testing.AllocsPerRun(100, func() { _ = AppendJSONString(dst[:0], in, false) }); n != 0 {
		t.Errorf("%v allocations per call from []byte, want 0", n)
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "a\"b", "\xff", "\u2028<&>", "é😀\x00"} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, s string, html bool) {
		if got, want := string(AppendJSONString(nil, []byte(s), html)), encodingJSON(t, s, html); got != want {
			t.Fatalf("%q (html %v): got %q, want %q", s, html, got, want)
		}
	})
}
func TestAppendJSONStringText(t *testing.T) {
	tests := []struct {
		name, raw, want string
	}{
		{"plain", `hello world`, "hello world"},
		{"simple escapes", `a\"b\\c\/d\be\ff\ng\rh\ti`, "a\"b\\c/d\be\ff\ng\rh\ti"},
		{"unicode escape", `caf\u00e9 \u4e2d`, "café 中"},
		{"surrogate pair", `\ud83d\ude00!`, "😀!"},
		{"lone high surrogate", `\ud83dx`, "\uFFFDx"},
		{"high surrogate then a non-surrogate escape", `\ud83d\u0041`, "\uFFFDA"},
		{"lone low surrogate", `\ude00`, "\uFFFD"},
		{"raw UTF-8", "né 😀", "né 😀"},
		{"invalid UTF-8 byte", "a\xffb", "a\uFFFDb"},
		{"empty", ``, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, ok := AppendJSONStringText([]byte(">"), []byte(tc.raw))
			got := string(out)
			if !ok {
				t.Errorf("%q: not ok", tc.raw)
			}
			if got != ">"+tc.want {
				t.Errorf("got %q, want %q", got, ">"+tc.want)
			}
			var ref string
			if err := json.Unmarshal([]byte(`"`+tc.raw+`"`), &ref); err != nil || ref != tc.want {
				t.Errorf("encoding/json reads %q (%v), the table says %q", ref, err, tc.want)
			}
		})
	}
}

// FuzzJSONStringText: for every string body encoding/json accepts,
// AppendJSONStringText decodes the same text.
func FuzzJSONStringText(f *testing.F) {
	for _, s := range []string{`a\"b`, `\ud83d\ude00`, `\ud83d`, `\udc00\ud800`, "\xff\xfe", `\u0000`, `x\\u0041`, "é"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var ref string
		if json.Unmarshal(append(append([]byte(`"`), raw...), '"'), &ref) != nil {
			return
		}
		if out, ok := AppendJSONStringText(nil, raw); !ok || string(out) != ref {
			got := string(out)
			t.Fatalf("AppendJSONStringText(%q) = %q, encoding/json %q", raw, got, ref)
		}
	})
}
