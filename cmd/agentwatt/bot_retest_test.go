package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// bot retest refuses a frameworks file that is not valid (naming the line
// and column) and a token file others can read, before connecting anywhere.
func TestBotRetestRefusesBadSettings(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	fw := write("fw.yaml", "frameworks:\n  - name: vllm\n    repo: vllm-project/vllm\n    prerelease: true\n", 0o644)
	token := write("token", "ghp_x", 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--frameworks", fw}, fw + ":4:5: unknown field"},
		{[]string{"--github-token-file", token}, "others can read it"},
	} {
		root := newRootCmd()
		root.SetOut(io.Discard)
		root.SetErr(io.Discard)
		root.SetArgs(append([]string{"bot", "retest", "--once", "--nats", "nats://127.0.0.1:1"}, tc.args...))
		err := root.Execute()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want %q", tc.args, err, tc.want)
		}
	}
}
