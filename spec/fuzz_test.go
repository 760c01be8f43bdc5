package spec

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary bytes to Parse. Seeds: the examples and every
// test file, valid and broken. Parse must never panic; it returns either a
// submission that Validate accepts and whose canonical JSON (which is YAML)
// parses back to the same digest, or Problems that each have a place.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*.yaml")
	examples, _ := filepath.Glob("../examples/submissions/*.yaml")
	for _, file := range append(files, examples...) {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{"", "a", "[", "{", "- - -", "&a [*a]", "*a", "? ? ?", "!!binary x", "a: !!str", "<<: {}",
		baseDoc, imageDoc, strings.Repeat("[", 100), "a: &a b\nc: *a\n", "\xef\xbb\xbfa: 1\n", "a: \"\\u0000\"\n",
		// The checks of issue 10: a program named by the spec, escape codes,
		// credentials in env and args, secrets by name.
		edit(baseDoc, "  sim_profile: tiny", "  command: [sh, -c, \"cat runner.key; cat /proc/$PPID/environ\"]"),
		edit(baseDoc, "name: sim-tiny", `name: "sim\e[2J\e]0;x\a"`),
		edit(baseDoc, "revision: tiny", `revision: "tiny\u009b"`),
		edit(imageDoc, "  ready_timeout", "  env: {HF_TOKEN: hf_abcdefghijklmnopqrstuvwxyz0123}\n  ready_timeout"),
		edit(imageDoc, "  ready_timeout", "  args: [--api-key, sk-abcdefghijklmnopqrstuvwxyz]\n  secrets: [HF_TOKEN]\n  ready_timeout"),
		// Issue 16: per-role engines and external deployments.
		rolesDoc,
		edit(rolesDoc, "  ready_timeout: 20m", "  deployment: external\n  ready_timeout: 20m"),
		edit(rolesDoc, "replicas: 2, gpus_per_replica: 2", "replicas: 9223372036854775807, gpus_per_replica: 9223372036854775807"),
		edit(rolesDoc, "--node-rank={rank}", "--node-rank={rank}{x}{}"),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse("fuzz.yaml", data)
		if err != nil {
			var ps Problems
			if !errors.As(err, &ps) || len(ps) == 0 {
				t.Fatalf("error %T %v is not Problems", err, err)
			}
			for _, p := range ps {
				if p.File != "fuzz.yaml" || p.Line < 1 || p.Col < 1 || p.Message == "" {
					t.Fatalf("problem without a place or message: %#v", p)
				}
			}
			return
		}
		if s == nil {
			t.Fatal("nil submission without an error")
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("Parse accepted what Validate refuses: %v", err)
		}
		c, err := s.Canonical()
		if err != nil {
			t.Fatal(err)
		}
		back, err := Parse("canonical.json", c)
		if err != nil {
			t.Fatalf("canonical JSON does not parse back: %v\n%s", err, c)
		}
		if back.Digest() != s.Digest() {
			t.Fatalf("canonical JSON parses to another digest:\n%s", c)
		}
	})
}
