package bots

import (
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/agentwatt/agentwatt/queue"
)

// FuzzParseCursor: a cursor comes from the client; whatever it sends either
// is refused or names a position that encodes back to itself.
func FuzzParseCursor(f *testing.F) {
	at := time.Date(2026, 12, 7, 19, 0, 0, 123456789, time.UTC)
	f.Add(cursorOf(&queue.Job{ID: strings.Repeat("ab", 16), CreatedAt: at}).String())
	f.Add("")
	f.Add("bogus")
	f.Add("djF8fHg")      // v1||x
	f.Add("djF8MjAyNnx4") // v1|2026|x
	f.Add(strings.Repeat("A", 400))
	f.Fuzz(func(t *testing.T, s string) {
		c, err := parseCursor(s)
		if err != nil {
			return
		}
		again, err := parseCursor(c.String())
		if err != nil || !again.created.Equal(c.created) || again.id != c.id {
			t.Errorf("cursor %q: parsed %+v, re-encoded and parsed %+v, %v", s, c, again, err)
		}
	})
}

// FuzzTrigger: an accepted trigger is short, printable ASCII without spaces.
func FuzzTrigger(f *testing.F) {
	for _, s := range []string{"", "api", "nightly-1", "pr-12@0123abc", "gh:acme/repo#12", "a b", "\u202e", strings.Repeat("n", 200), " x "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) || strings.ContainsAny(s, "\r\n\x00") {
			return // net/http refuses these before the handler
		}
		r := &http.Request{Header: http.Header{TriggerHeader: {s}}}
		got, err := triggerOf(r)
		if err != nil {
			return
		}
		if len(got) == 0 || len(got) > MaxTriggerLen {
			t.Errorf("trigger %q accepted as %q: length %d", s, got, len(got))
		}
		for _, b := range []byte(got) {
			if b <= ' ' || b >= 0x7f || b == '"' || b == '\\' {
				t.Errorf("trigger %q accepted as %q with byte %#x", s, got, b)
			}
		}
	})
}
