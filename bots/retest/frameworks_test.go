package retest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDefaultFrameworks(t *testing.T) {
	fws, err := ParseFrameworks("frameworks.yaml", DefaultFrameworks)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"vllm": "vllm-project/vllm", "sglang": "sgl-project/sglang", "dynamo": "ai-dynamo/dynamo", "trtllm": "NVIDIA/TensorRT-LLM"}
	if len(fws) != len(want) {
		t.Fatalf("%d frameworks, want %d", len(fws), len(want))
	}
	for _, f := range fws {
		if want[f.Name] != f.Repo || f.Prereleases || f.VersionFromTag != VersionStripV {
			t.Errorf("%+v", f)
		}
	}
}

func TestParseFrameworksErrors(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown field", "frameworks:\n  - name: vllm\n    repo: a/b\n    prerelease: true\n", "x.yaml:4:"},
		{"duplicate key", "frameworks:\n  - name: vllm\n    name: sglang\n    repo: a/b\n", "x.yaml:3:"},
		{"wrong type", "frameworks:\n  - name: vllm\n    repo: a/b\n    prereleases: maybe\n", "x.yaml:4:"},
		{"bad repo", "frameworks:\n  - name: vllm\n    repo: a/b/c\n", "x.yaml:3:11: frameworks[0].repo"},
		{"bad name", "frameworks:\n  - name: vllm\n    repo: a/b\n  - name: \"VLLM x\"\n    repo: a/c\n", "x.yaml:4:11: frameworks[1].name"},
		{"twice", "frameworks:\n  - name: vllm\n    repo: a/b\n  - name: vllm\n    repo: a/c\n", "x.yaml:4:11: frameworks[1].name: \"vllm\" is listed twice"},
		{"reserved", "frameworks:\n  - name: scheduled\n    repo: a/b\n", "x.yaml:2:11: frameworks[0].name: \"scheduled\" is reserved"},
		{"version_from_tag", "frameworks:\n  - name: vllm\n    repo: a/b\n    version_from_tag: semver\n", "x.yaml:4:23: frameworks[0].version_from_tag"},
		{"empty", "frameworks: []\n", "x.yaml:1:1: no frameworks"},
		{"alias", "base: &b {repo: a/b}\nframeworks:\n  - <<: *b\n    name: vllm\n", "x.yaml:3:9: aliases"},
		{"syntax", "frameworks:\n  - name: [\n", "x.yaml:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseFrameworks("x.yaml", []byte(tt.yaml))
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) || !errors.Is(err, ErrFrameworks) {
				t.Errorf("got %v, want an ErrFrameworks starting %q", err, tt.want)
			}
		})
	}
}

func TestVersionOf(t *testing.T) {
	strip := Framework{Repo: "a/b", VersionFromTag: VersionStripV}
	tag := Framework{Repo: "a/b", VersionFromTag: VersionTag}
	tests := []struct {
		f         Framework
		tag, want string
	}{
		{strip, "v0.11.1", "0.11.1"},
		{strip, "0.5.4.post1", "0.5.4.post1"},
		{tag, "v1.0.0rc3", "v1.0.0rc3"},
		{strip, "v1/2", ""},
		{strip, "v1@sha256:00", ""},
		{strip, "v1 2", ""},
		{strip, "v1\x00", ""},
		{strip, "v1:x", ""},
		{strip, "v1+cu128", ""},
		{strip, "v", ""},
		{strip, "v" + strings.Repeat("1", 300), ""},
	}
	for _, tt := range tests {
		got, err := tt.f.VersionOf(tt.tag)
		if got != tt.want || (err != nil) != (tt.want == "") {
			t.Errorf("VersionOf(%q) = %q, %v; want %q", tt.tag, got, err, tt.want)
		}
	}
}

// FuzzParseFrameworks: any input is parsed or refused with a positioned
// error, never a panic; what parses holds only valid entries.
func FuzzParseFrameworks(f *testing.F) {
	f.Add(DefaultFrameworks)
	seeds, _ := filepath.Glob("testdata/*.yaml")
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fws, err := ParseFrameworks("f.yaml", data)
		if err != nil {
			var fe *FileError
			if !errors.As(err, &fe) || fe.Line < 1 || fe.Col < 1 {
				t.Fatalf("error without a position: %v", err)
			}
			return
		}
		for _, fw := range fws {
			if !frameworkNameRe.MatchString(fw.Name) || !repoRe.MatchString(fw.Repo) {
				t.Fatalf("accepted %+v", fw)
			}
		}
	})
}
