package engine

import (
	"encoding/json"
	"strconv"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

var syscallSetpgid = syscall.SysProcAttr{Setpgid: true}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// firstAllowedCPU is the lowest CPU this process may run on, as a CPU list.
func firstAllowedCPU(t *testing.T) string {
	t.Helper()
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		t.Fatal(err)
	}
	for c := 0; c < 1024; c++ {
		if set.IsSet(c) {
			return strconv.Itoa(c)
		}
	}
	t.Fatal("no CPU allowed")
	return ""
}
