package ghbot

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzParseVendors(f *testing.F) {
	f.Add([]byte(testVendors))
	f.Add([]byte("vendors:\n  acme: [alice, acme-corp/bench]\n"))
	f.Add([]byte("vendors: {acme: &a [x], b: *a}\n"))
	f.Add([]byte("vendors: [\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := ParseVendors(data)
		if err != nil {
			return
		}
		for name, m := range v {
			if !vendorRe.MatchString(name) {
				t.Fatalf("vendor %q accepted", name)
			}
			for _, u := range m.Users {
				if !loginRe.MatchString(u) || u != strings.ToLower(u) {
					t.Fatalf("login %q accepted", u)
				}
			}
			for _, team := range m.Teams {
				if !teamRe.MatchString(team) {
					t.Fatalf("team %q accepted", team)
				}
			}
		}
	})
}

func FuzzParseMaintainers(f *testing.F) {
	f.Add([]byte(testMaintainers))
	f.Add([]byte("@maia # lead\norg/team\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseMaintainers(data)
		if err != nil {
			return
		}
		for _, u := range m.Users {
			if !loginRe.MatchString(u) {
				t.Fatalf("login %q accepted", u)
			}
		}
	})
}

func FuzzParseCommands(f *testing.F) {
	f.Add("/approve\n/hold")
	f.Add("```\n/cancel\n```\n/RETEST")
	f.Add("/retract the reason\r\n/ok-to-test abc1234")
	f.Fuzz(func(t *testing.T, body string) {
		cmds := parseCommands(body)
		if len(cmds) > maxCommands {
			t.Fatalf("%d commands", len(cmds))
		}
		for _, c := range cmds {
			if _, ok := commandRole[c.name]; !ok {
				t.Fatalf("command %q has no role", c.name)
			}
			if strings.ContainsAny(c.arg, "\n") {
				t.Fatalf("argument %q spans lines", c.arg)
			}
			if utf8.ValidString(body) && !utf8.ValidString(c.arg) {
				t.Fatalf("argument %q is not UTF-8", c.arg)
			}
		}
	})
}

func FuzzSignature(f *testing.F) {
	f.Add([]byte(`{"a":1}`), "sha256=00")
	f.Fuzz(func(t *testing.T, body []byte, sig string) {
		secret := []byte(testSecret)
		if validSignature(secret, body, sig) && !strings.EqualFold(sig, Sign(secret, body)) {
			t.Fatalf("signature %q accepted for a body it does not sign", sig)
		}
		if !validSignature(secret, body, Sign(secret, body)) {
			t.Fatal("GitHub's own signature refused")
		}
	})
}
