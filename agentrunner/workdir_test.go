package agentrunner

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestLockWorkDir(t *testing.T) {
	dir := t.TempDir()
	unlock, err := lockWorkDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := os.ReadFile(filepath.Join(dir, ".lock"))
	if got, want := strings.TrimSpace(string(pid)), strconv.Itoa(os.Getpid()); got != want {
		t.Errorf("lock file holds %q, want the pid %s", got, want)
	}
	_, err = lockWorkDir(dir)
	if !errors.Is(err, ErrWorkDirBusy) || !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) {
		t.Fatalf("second lock: %v; want ErrWorkDirBusy naming the holder's pid", err)
	}
	unlock()
	unlock2, err := lockWorkDir(dir)
	if err != nil {
		t.Fatalf("after unlock: %v", err)
	}
	unlock2()
}
