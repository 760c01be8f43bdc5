package loadgen

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentwatt/agentwatt/metrics"
)

func TestTickLateness(t *testing.T) {
	tests := []struct {
		name          string
		next, now, iv int64
		want          []int64
		wantNext      int64
	}{
		{"on time", 100, 100, 10, []int64{0}, 110},
		{"slightly late", 100, 103, 10, []int64{3}, 110},
		{"early wake-up records nothing", 100, 99, 10, nil, 100},
		{"stall: every missed tick counts", 100, 135, 10, []int64{35, 25, 15, 5}, 140},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, next := tickLateness(nil, tc.next, tc.now, tc.iv)
			if !slices.Equal(got, tc.want) || next != tc.wantNext {
				t.Fatalf("tickLateness = %v, %d; want %v, %d", got, next, tc.want, tc.wantNext)
			}
		})
	}
}

func TestHealthMonitorReport(t *testing.T) {
	checkLeaks(t)
	h := NewHealthMonitor(time.Millisecond)
	h.Start(context.Background())
	defer h.Stop()
	h.Begin()
	for i := range 100 {
		h.ObserveRequest(time.Duration(i)*time.Microsecond, time.Duration(100+i)*time.Millisecond, i%2 == 0)
	}
	burnCPU(50 * time.Millisecond)
	time.Sleep(50 * time.Millisecond)
	r := h.End()
	if r.Requests != 100 || r.KernelStamped != 50 || r.ConnWaitP99Ns != int64(98*time.Microsecond) || r.ServerTTFBP50Ns != int64(149*time.Millisecond) {
		t.Fatalf("connection figures %+v", r)
	}
	if r.SchedLagSamples < 20 || r.WallNs < int64(90*time.Millisecond) {
		t.Fatalf("lag samples %d over %v", r.SchedLagSamples, time.Duration(r.WallNs))
	}
	if r.CPUSeconds <= 0 || r.CPUShare <= 0 || r.CPUShare > 1.5 || len(r.CPUSet) == 0 {
		t.Fatalf("cpu %v s share %v set %v", r.CPUSeconds, r.CPUShare, r.CPUSet)
	}
	h.Begin()
	if r := h.End(); r.Requests != 0 || r.KernelStamped != 0 {
		t.Fatalf("Begin did not reset: %+v", r)
	}
}

func TestCPUSet(t *testing.T) {
	cpus := CPUSet()
	if len(cpus) == 0 || len(cpus) > runtime.NumCPU() && runtime.NumCPU() > 0 {
		t.Fatalf("CPUSet = %v with NumCPU %d", cpus, runtime.NumCPU())
	}
}

const starveEnv = "LOADGEN_STARVED_CLIENT_HELPER"

// TestHealthFlagsStarvedClient runs a client process with one P and no
// asynchronous preemption, whose only P spins in bursts: the lag detector
// must flag it, and report it far worse than the same process idle.
func TestHealthFlagsStarvedClient(t *testing.T) {
	if os.Getenv(starveEnv) != "" {
		t.Skip("inside the helper process")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestStarvedClientHelper$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), starveEnv+"=1", "GOMAXPROCS=1", "GODEBUG=asyncpreemptoff=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	var rep struct{ Idle, Starved metrics.ClientHealth }
	for _, line := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(line, "HEALTH "); ok {
			if err := json.Unmarshal([]byte(rest), &rep); err != nil {
				t.Fatal(err)
			}
		}
	}
	if rep.Starved.SchedLagSamples == 0 {
		t.Fatalf("no report from the helper:\n%s", out)
	}
	lim := metrics.HealthLimits{MaxSchedLagP99: 5 * time.Millisecond}
	if reasons := metrics.CheckClientHealth(rep.Starved, lim); len(reasons) == 0 {
		t.Fatalf("starved client not flagged: lag p99 %v", time.Duration(rep.Starved.SchedLagP99Ns))
	}
	// On a loaded CI machine the idle lag is noisy too; the starved one must
	// still be worse and far beyond any limit.
	if rep.Starved.SchedLagP99Ns < 20*int64(time.Millisecond) || rep.Starved.SchedLagP99Ns <= rep.Idle.SchedLagP99Ns {
		t.Fatalf("starved lag p99 %v, idle %v", time.Duration(rep.Starved.SchedLagP99Ns), time.Duration(rep.Idle.SchedLagP99Ns))
	}
	t.Logf("idle lag p99 %v, starved %v (max %v)", time.Duration(rep.Idle.SchedLagP99Ns),
		time.Duration(rep.Starved.SchedLagP99Ns), time.Duration(rep.Starved.SchedLagMaxNs))
}

// TestStarvedClientHelper is the starved process of
// TestHealthFlagsStarvedClient; it does nothing in a normal run.
func TestStarvedClientHelper(t *testing.T) {
	if os.Getenv(starveEnv) == "" {
		t.Skip("helper for TestHealthFlagsStarvedClient")
	}
	h := NewHealthMonitor(2 * time.Millisecond)
	h.Start(context.Background())
	defer h.Stop()
	time.Sleep(20 * time.Millisecond)
	h.Begin()
	time.Sleep(200 * time.Millisecond)
	idle := h.End()
	h.Begin()
	for range 4 {
		burnCPU(100 * time.Millisecond)
		time.Sleep(10 * time.Millisecond)
	}
	starved := h.End()
	b, _ := json.Marshal(map[string]metrics.ClientHealth{"idle": idle, "starved": starved})
	os.Stdout.WriteString("HEALTH " + string(b) + "\n")
}

var burnSink uint64

// burnCPU spins for about d in a loop without calls, which a goroutine
// cannot be preempted out of when asynchronous preemption is off.
func burnCPU(d time.Duration) {
	const probe = 1 << 22
	start := time.Now()
	spin(probe)
	perIter := float64(time.Since(start)) / probe
	spin(uint64(float64(d) / max(perIter, 0.05)))
}

func spin(n uint64) {
	x := burnSink | 1
	for i := uint64(0); i < n; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	burnSink = x
}
