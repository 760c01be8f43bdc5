//go:build linux

package cpuset

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/agentwatt/agentwatt/agentrunner/engine"
)

// The process has one set of threads: one Pinning owns them at a time.
var (
	pinMu  sync.Mutex
	pinned bool
)

// taskDir lists the threads of this process.
const taskDir = "/proc/self/task"

// maxRounds bounds how often Pin lists the threads again because new ones
// appeared while it set the others.
const maxRounds = 10

// Pinning is the process restricted to a CPU set, until Restore.
type Pinning struct {
	requested  string
	want, prev unix.CPUSet
	prevProcs  int // GOMAXPROCS before the pin

	mu       sync.Mutex
	restored bool
}

// Allowed is the CPU list this process may run on now (the calling
// thread's affinity, which every thread shares unless something pinned
// them).
func Allowed() (string, error) {
	set, err := allowed()
	if err != nil {
		return "", err
	}
	return engine.FormatCPUSet(set), nil
}

func allowed() (unix.CPUSet, error) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return set, fmt.Errorf("read cpu affinity: %w", err)
	}
	return set, nil
}

// Validate checks that client is a CPU list within the CPUs this process
// may run on and, when engine is not empty, that the two share no CPU.
func Validate(client, engineCPUs string) error {
	want, err := engine.ParseCPUList(client)
	if err != nil {
		return fmt.Errorf("client cpus: %w", err)
	}
	if err := within(client, want); err != nil {
		return err
	}
	if engineCPUs == "" {
		return nil
	}
	eng, err := engine.ParseCPUList(engineCPUs)
	if err != nil {
		return fmt.Errorf("engine cpus: %w", err)
	}
	if both := and(want, eng); both.Count() > 0 {
		return fmt.Errorf("%w: client cpus %s and engine cpus %s share %s", ErrOverlap, client, engineCPUs, engine.FormatCPUSet(both))
	}
	return nil
}

// within checks want against the CPUs this process may run on.
func within(list string, want unix.CPUSet) error {
	have, err := allowed()
	if err != nil {
		return err
	}
	if extra := andNot(want, have); extra.Count() > 0 {
		return fmt.Errorf("client cpus %s: %w: %s not in %s", list, ErrNotAllowed, engine.FormatCPUSet(extra), engine.FormatCPUSet(have))
	}
	return nil
}

// Pin restricts every thread of this process, and so every thread it
// creates later, to the CPUs of list, which must lie within the CPUs it may
// run on. Call Restore to undo it.
func Pin(list string) (*Pinning, error) {
	want, err := engine.ParseCPUList(list)
	if err != nil {
		return nil, fmt.Errorf("client cpus: %w", err)
	}
	pinMu.Lock()
	defer pinMu.Unlock()
	if pinned {
		return nil, ErrPinned
	}
	prev, err := allowed()
	if err != nil {
		return nil, err
	}
	if err := within(list, want); err != nil {
		return nil, err
	}
	if err := setAll(&want); err != nil {
		if rerr := setAll(&prev); rerr != nil {
			err = errors.Join(err, fmt.Errorf("restore: %w", rerr))
		}
		return nil, fmt.Errorf("pin to cpus %s: %w", list, err)
	}
	pinned = true
	// As many Ps as pinned CPUs: more would only time-slice the load
	// generator's threads on them.
	prevProcs := runtime.GOMAXPROCS(want.Count())
	return &Pinning{requested: list, want: want, prev: prev, prevProcs: prevProcs}, nil
}

// Applied is the pinned CPU set as a canonical CPU list.
func (p *Pinning) Applied() string { return engine.FormatCPUSet(p.want) }

// Check reads every thread's CPUs back and compares them with the pinned
// set.
func (p *Pinning) Check() (Report, error) {
	r := Report{Requested: p.requested, Applied: engine.FormatCPUSet(p.want), Previous: engine.FormatCPUSet(p.prev),
		GOMAXPROCS: runtime.GOMAXPROCS(0)}
	tids, err := threadIDs()
	if err != nil {
		return r, err
	}
	for _, tid := range tids {
		var set unix.CPUSet
		if err := unix.SchedGetaffinity(tid, &set); err != nil {
			if errors.Is(err, unix.ESRCH) {
				continue // the thread ended
			}
			return r, fmt.Errorf("read thread %d's cpus: %w", tid, err)
		}
		r.Threads++
		if set == p.want {
			r.Matching++
		} else if len(r.Mismatched) < maxMismatched {
			r.Mismatched = append(r.Mismatched, ThreadCPUs{TID: tid, CPUs: engine.FormatCPUSet(set)})
		}
	}
	return r, nil
}

// Restore puts every thread back on the CPUs the process had before Pin.
// It releases the process for another Pin even when it fails; a second call
// does nothing.
func (p *Pinning) Restore() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.restored {
		return nil
	}
	p.restored = true
	err := setAll(&p.prev)
	restoreGOMAXPROCS(p.prevProcs)
	pinMu.Lock()
	pinned = false
	pinMu.Unlock()
	if err != nil {
		return fmt.Errorf("restore cpus %s: %w", engine.FormatCPUSet(p.prev), err)
	}
	return nil
}

// restoreGOMAXPROCS puts GOMAXPROCS back: the runtime's default (which
// follows the CPUs and cgroup limits again) unless the GOMAXPROCS
// environment variable fixed it, then the value it had.
func restoreGOMAXPROCS(prev int) {
	if os.Getenv("GOMAXPROCS") != "" {
		runtime.GOMAXPROCS(prev)
		return
	}
	runtime.SetDefaultGOMAXPROCS()
}

// setAll sets the affinity of every thread of the process. A thread created
// while it runs inherits its creator's mask, old or new; listing again until
// no thread is new leaves none behind: a thread created after the last
// listing was created by one that was already set.
func setAll(set *unix.CPUSet) error {
	done := map[int]bool{}
	for range maxRounds {
		tids, err := threadIDs()
		if err != nil {
			return err
		}
		fresh := 0
		for _, tid := range tids {
			if done[tid] {
				continue
			}
			done[tid] = true
			fresh++
			if err := unix.SchedSetaffinity(tid, set); err != nil && !errors.Is(err, unix.ESRCH) {
				return fmt.Errorf("thread %d: %w", tid, err)
			}
		}
		if fresh == 0 {
			return nil
		}
	}
	return fmt.Errorf("new threads kept appearing after %d rounds", maxRounds)
}

// threadIDs lists the process's threads.
func threadIDs() ([]int, error) {
	ents, err := os.ReadDir(taskDir)
	if err != nil {
		return nil, fmt.Errorf("list threads: %w", err)
	}
	tids := make([]int, 0, len(ents))
	for _, e := range ents {
		if tid, err := strconv.Atoi(e.Name()); err == nil {
			tids = append(tids, tid)
		}
	}
	return tids, nil
}

// and is a ∩ b.
func and(a, b unix.CPUSet) unix.CPUSet {
	for i := range a {
		a[i] &= b[i]
	}
	return a
}

// andNot is a \ b.
func andNot(a, b unix.CPUSet) unix.CPUSet {
	for i := range a {
		a[i] &^= b[i]
	}
	return a
}
