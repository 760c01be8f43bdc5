package ghbot

import (
	"strings"
	"testing"
)

func TestParseVendors(t *testing.T) {
	v, err := ParseVendors([]byte(testVendors))
	if err != nil {
		t.Fatal(err)
	}
	if !v["acme"].hasUser("Alice") || len(v["acme"].Teams) != 1 || v["acme"].Teams[0] != "acme-corp/bench" || !v["globex"].hasUser("gus") {
		t.Errorf("vendors: %+v", v)
	}
	for _, tc := range []struct{ in, want string }{
		{"vendors:\n  acme: [alice]\n  acme: [bob]\n", "VENDORS.yaml:3:3"},
		{"vendors:\n  acme:\n    - al ice\n", `"al ice": want a GitHub login or org/team`},
		{"vendors:\n  Acme: [alice]\n", "want a DNS label"},
		{"vendors:\n  acme: alice\n", "want a list"},
		{"vendor:\n  acme: [alice]\n", "VENDORS.yaml:1:1"},
		{"vendors: [\n", "VENDORS.yaml:"},
		{strings.Repeat("#", maxPolicyFile+1), "at most"},
	} {
		_, err := ParseVendors([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want an error with %q", tc.in, err, tc.want)
		}
	}
}

func TestParseMaintainers(t *testing.T) {
	m, err := ParseMaintainers([]byte(testMaintainers + "@Maia2  # with an at\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !m.hasUser("MAIA") || !m.hasUser("maia2") || len(m.Teams) != 1 {
		t.Errorf("maintainers: %+v", m)
	}
	if _, err := ParseMaintainers([]byte("maia\n\nbad login!\n")); err == nil || !strings.HasPrefix(err.Error(), "MAINTAINERS:3: ") {
		t.Errorf("bad line: %v, want MAINTAINERS:3: …", err)
	}
}

func TestMDCode(t *testing.T) {
	for in, want := range map[string]string{
		"plain":            "`plain`",
		"a`b":              "``a`b``",
		"`x`":              "`` `x` ``",
		"@everyone\n<img>": "`@everyone <img>`",
		"":                 "``",
	} {
		if got := mdCode(in); got != want {
			t.Errorf("mdCode(%q) = %q, want %q", in, got, want)
		}
	}
}
