package agentrunner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckKeyOwner: a key another user owns (the engine user, say) is
// refused, whatever its mode.
func TestCheckKeyOwner(t *testing.T) {
	key := filepath.Join(t.TempDir(), "runner.key")
	if err := os.WriteFile(key, []byte("k"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := CheckKeyOwner(key); err != nil {
		t.Fatalf("own key: %v", err)
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to give the key to another user")
	}
	if err := os.Chown(key, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if err := CheckKeyOwner(key); err == nil || !strings.Contains(err.Error(), "owned by uid 65534") {
		t.Errorf("a key nobody owns: err = %v", err)
	}
}
