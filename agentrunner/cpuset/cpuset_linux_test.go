//go:build linux

package cpuset

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/agentwatt/agentwatt/agentrunner/engine"
)

// allowedSet is the test process's CPUs; it skips a test that needs two.
func allowedSet(t *testing.T) unix.CPUSet {
	t.Helper()
	set, err := allowed()
	if err != nil {
		t.Fatal(err)
	}
	if set.Count() < 2 {
		t.Skipf("the process may run on CPUs %s only: pinning cannot be told from not pinning", engine.FormatCPUSet(set))
	}
	return set
}

// firstCPU is the lowest CPU of set; outside is the lowest CPU not in it.
func firstCPU(set unix.CPUSet) (first, outside int) {
	first, outside = -1, -1
	for c := 0; c < 1024 && (first < 0 || outside < 0); c++ {
		if set.IsSet(c) && first < 0 {
			first = c
		}
		if !set.IsSet(c) && outside < 0 {
			outside = c
		}
	}
	return first, outside
}

// statusCPUs reads every thread's Cpus_allowed_list from
// /proc/self/task/*/status, the kernel's own account, by thread id.
func statusCPUs(t *testing.T) map[int]string {
	t.Helper()
	paths, err := filepath.Glob("/proc/self/task/*/status")
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]string{}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) {
			continue // the thread ended
		}
		if err != nil {
			t.Fatal(err)
		}
		tid, err := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		for line := range strings.Lines(string(data)) {
			if v, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
				out[tid] = strings.TrimSpace(v)
			}
		}
		if _, ok := out[tid]; !ok {
			t.Fatalf("%s has no Cpus_allowed_list", p)
		}
	}
	if len(out) == 0 {
		t.Fatal("no threads under /proc/self/task")
	}
	return out
}

// lockedThread locks a fresh goroutine to an OS thread until release is
// closed and returns that thread's id. With the earlier ones still locked
// and blocked, each call needs a thread no other goroutine holds, which the
// runtime creates when it has none idle.
func lockedThread(release <-chan struct{}, done chan<- struct{}) int {
	tid := make(chan int)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		tid <- unix.Gettid()
		<-release
		done <- struct{}{}
	}()
	return <-tid
}

// TestPinEveryThread pins the process to one CPU and reads every thread's
// CPUs back from the kernel, a thread created after the pin included; then
// restores them.
func TestPinEveryThread(t *testing.T) {
	prev := allowedSet(t)
	cpu, _ := firstCPU(prev)
	want := strconv.Itoa(cpu)
	before := statusCPUs(t)
	procsBefore := runtime.GOMAXPROCS(0)

	p, err := Pin(want)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Restore() })

	// A thread created after the pin: lock goroutines to threads until one
	// runs on a thread that did not exist before.
	release, done := make(chan struct{}), make(chan struct{})
	locked, newTID := 0, -1
	for ; locked < 64 && newTID < 0; locked++ {
		if tid := lockedThread(release, done); before[tid] == "" {
			newTID = tid
		}
	}
	defer func() {
		close(release)
		for range locked {
			<-done
		}
	}()
	if newTID < 0 {
		t.Fatalf("no new thread after locking %d goroutines", locked)
	}

	got := statusCPUs(t)
	if got[newTID] != want {
		t.Errorf("thread %d, created after the pin: Cpus_allowed_list %q, want %q", newTID, got[newTID], want)
	}
	for tid, cpus := range got {
		if cpus != want {
			t.Errorf("thread %d: Cpus_allowed_list %q, want %q", tid, cpus, want)
		}
	}
	r, err := p.Check()
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK() || r.Threads < len(before)+1 || r.Applied != want || r.Requested != want || r.Previous != engine.FormatCPUSet(prev) || r.GOMAXPROCS != 1 {
		t.Errorf("Check() = %+v, want every thread (at least %d) on %s", r, len(before)+1, want)
	}

	if err := p.Restore(); err != nil {
		t.Fatal(err)
	}
	if got := runtime.GOMAXPROCS(0); got != procsBefore {
		t.Errorf("after Restore, GOMAXPROCS %d, want %d as before the pin", got, procsBefore)
	}
	wantBack := engine.FormatCPUSet(prev)
	for tid, cpus := range statusCPUs(t) {
		if cpus != wantBack {
			t.Errorf("after Restore, thread %d: Cpus_allowed_list %q, want %q", tid, cpus, wantBack)
		}
	}
	if err := p.Restore(); err != nil {
		t.Errorf("second Restore: %v", err)
	}
}

func TestPinOnce(t *testing.T) {
	set := allowedSet(t)
	cpu, _ := firstCPU(set)
	p, err := Pin(strconv.Itoa(cpu))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Pin(strconv.Itoa(cpu)); !errors.Is(err, ErrPinned) {
		t.Errorf("second Pin = %v, want ErrPinned", err)
	}
	if err := p.Restore(); err != nil {
		t.Fatal(err)
	}
	q, err := Pin(strconv.Itoa(cpu))
	if err != nil {
		t.Fatalf("Pin after Restore: %v", err)
	}
	if err := q.Restore(); err != nil {
		t.Fatal(err)
	}
}

func TestPinRefusesOutsideCPUs(t *testing.T) {
	set := allowedSet(t)
	_, outside := firstCPU(set)
	if outside < 0 {
		t.Skip("every CPU is allowed")
	}
	before := statusCPUs(t)
	if _, err := Pin(strconv.Itoa(outside)); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("Pin(%d) = %v, want ErrNotAllowed", outside, err)
	}
	for tid, cpus := range statusCPUs(t) {
		if b, ok := before[tid]; ok && cpus != b {
			t.Errorf("thread %d moved from %s to %s by a refused Pin", tid, b, cpus)
		}
	}
}

func TestValidate(t *testing.T) {
	set := allowedSet(t)
	first, outside := firstCPU(set)
	var second int
	for second = first + 1; !set.IsSet(second); second++ {
	}
	a, b := strconv.Itoa(first), strconv.Itoa(second)
	tests := []struct {
		name           string
		client, engine string
		want           error // nil: valid; errAny: some error
	}{
		{"client alone", a, "", nil},
		{"apart from the engine", a, b, nil},
		{"both allowed CPUs", engine.FormatCPUSet(set), "", nil},
		{"shares a CPU with the engine", a + "," + b, b, ErrOverlap},
		{"bad client list", "x", "", errAny},
		{"bad engine list", a, "1-", errAny},
		{"empty client list", "", b, errAny},
	}
	if outside >= 0 {
		tests = append(tests, struct {
			name           string
			client, engine string
			want           error
		}{"a CPU this process may not use", a + "," + strconv.Itoa(outside), "", ErrNotAllowed})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate(tt.client, tt.engine)
			switch {
			case tt.want == nil && err != nil:
				t.Errorf("Validate(%q, %q) = %v, want nil", tt.client, tt.engine, err)
			case tt.want == errAny && err == nil:
				t.Errorf("Validate(%q, %q) = nil, want an error", tt.client, tt.engine)
			case tt.want != nil && tt.want != errAny && !errors.Is(err, tt.want):
				t.Errorf("Validate(%q, %q) = %v, want %v", tt.client, tt.engine, err, tt.want)
			}
		})
	}
}

// errAny stands for any error in TestValidate.
var errAny = errors.New("any error")

func TestAllowed(t *testing.T) {
	got, err := Allowed()
	if err != nil {
		t.Fatal(err)
	}
	self := statusCPUs(t)[unix.Gettid()]
	if self != "" && got != self {
		t.Errorf("Allowed() = %q, this thread's Cpus_allowed_list %q", got, self)
	}
}
