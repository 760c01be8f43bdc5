package engine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMaskFile: every occurrence of a secret is masked, also across the
// reads of a large file, and nothing else changes.
func TestMaskFile(t *testing.T) {
	secrets := map[string]string{"HF_TOKEN": "hf_secretvalue0123456789", "PIN": "123", "B": "bbbbbbbb"}
	var want, in strings.Builder
	filler := strings.Repeat("x", (1<<20)-10) // puts a secret across the first read's end
	for i, part := range []string{filler, "hf_secretvalue0123456789", "\nexport HF_TOKEN=hf_secretvalue0123456789 123\n", "abbbbbbbbc", strings.Repeat("y", 3<<20)} {
		in.WriteString(part)
		switch i {
		case 1:
			want.WriteString("[secret HF_TOKEN]")
		case 2:
			want.WriteString("\nexport HF_TOKEN=[secret HF_TOKEN] 123\n") // 123 is too short to mask
		case 3:
			want.WriteString("a[secret B]c")
		default:
			want.WriteString(part)
		}
	}
	path := filepath.Join(t.TempDir(), "engine.log")
	if err := os.WriteFile(path, []byte(in.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := MaskFile(path, secrets); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want.String() {
		i := 0
		for i < len(got) && i < want.Len() && got[i] == want.String()[i] {
			i++
		}
		t.Fatalf("masked file differs from byte %d: got %q, want %q", i, got[i:min(i+60, len(got))], want.String()[i:min(i+60, want.Len())])
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %04o, want 0600", fi.Mode().Perm())
	}
	if err := MaskFile(filepath.Join(t.TempDir(), "none.log"), secrets); err != nil {
		t.Errorf("a missing log: %v", err)
	}
}
