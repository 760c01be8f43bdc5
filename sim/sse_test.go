package sim

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzSSEChunk(f *testing.F) {
	for _, s := range []string{"", "word", " two words", "quote \" and \\ slash", "line\nbreak\ttab\r", "\x00\x1f", "日本\u2028\u2029", "\xff bad"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		rec := httptest.NewRecorder()
		sw := newSSEWriter(rec, "chatcmpl-x", 1, "m\"odel", 3, true)
		sw.contentStart()
		sw.appendText(text)
		sw.contentEnd("length", 1)
		sw.usage(1, 0)
		sw.errorEvent(badRequest("p", "msg %q", text))
		sw.done()
		if err := sw.flush(); err != nil {
			t.Fatal(err)
		}
		events := strings.Split(strings.TrimSuffix(rec.Body.String(), "\n\n"), "\n\n")
		if len(events) != 4 || events[3] != "data: [DONE]" {
			t.Fatalf("events %q", events)
		}
		var ch testChunk
		if err := json.Unmarshal([]byte(strings.TrimPrefix(events[0], "data: ")), &ch); err != nil {
			t.Fatalf("chunk %q: %v", events[0], err)
		}
		got := *ch.Choices[0].Delta.Content
		if !utf8.ValidString(text) {
			// Each invalid byte becomes U+FFFD, as with encoding/json.
			if !strings.Contains(got, "\ufffd") {
				t.Fatalf("invalid UTF-8 not replaced: %q", got)
			}
		} else if got != text {
			t.Fatalf("content %q, want %q", got, text)
		}
		for _, ev := range events[1:3] {
			if !json.Valid([]byte(strings.TrimPrefix(ev, "data: "))) {
				t.Fatalf("invalid JSON event %q", ev)
			}
		}
	})
}
