package verifier

import (
	"strings"
	"testing"

	"github.com/agentwatt/agentwatt/bundle"
)

// A check reason quotes the bundle; a bundle that puts escape sequences or a
// forged line into a field it controls must not reach the terminal as it is.
func TestWriteTextEscapesBundleText(t *testing.T) {
	v := &bundle.Verdict{Status: "rejected", Job: "j", Attempt: 1, Runner: "r\x1b]0;t\x07", RulesVersion: "v1", Profile: "test",
		Checks: []bundle.Check{{Name: "model", Reason: "model \"x\x1b[2J\u202e\"\n  PASS integrity         forged"}}}
	var b strings.Builder
	if err := WriteText(&b, v); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, c := range []string{"\x1b", "\x07", "\u202e", "\n  PASS"} {
		if strings.Contains(out, c) {
			t.Errorf("WriteText prints %q raw:\n%s", c, out)
		}
	}
	if !strings.Contains(out, `x\x1b[2J\u202e`) {
		t.Errorf("the reason is not shown escaped:\n%s", out)
	}
}
