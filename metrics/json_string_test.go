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
		{"controls", "a\nb\rc\td\x00e\x1ff\x7f"},
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
