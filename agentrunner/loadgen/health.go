package loadgen

import (
	"context"
	"runtime"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/agentwatt/agentwatt/metrics"
)

// HealthMonitor is the load generator's self-check: it measures whether the
// client itself kept up, so that a probe whose client was saturated is
// invalidated rather than read as the server's fault. It measures
//
//   - scheduling lag: a goroutine asks to wake every interval; the lateness
//     of every scheduled tick (ticks missed during a stall included, each
//     with its own lateness) is recorded;
//   - CPU share: the process's user+system CPU time (getrusage) over the
//     wall time times the CPUs it can use (min(GOMAXPROCS, CPU set));
//   - the CPU set (sched_getaffinity);
//   - per request, the wait for a connection and the server's time to first
//     byte (it is the client's RequestObserver).
//
// Measurements cover one window at a time: Begin starts one, End reports it.
// Methods are safe for concurrent use.
type HealthMonitor struct {
	interval time.Duration

	mu        sync.Mutex
	lags      []int64
	connWait  []int64
	ttfb      []int64
	kernel    int // requests stamped with kernel receive times
	beginWall time.Time
	beginCPU  time.Duration

	cancel context.CancelFunc
	done   chan struct{}
}

// NewHealthMonitor makes a monitor whose lag ticker asks to wake every
// interval (default 10 ms).
func NewHealthMonitor(interval time.Duration) *HealthMonitor {
	if interval <= 0 {
		interval = 10 * time.Millisecond
	}
	h := &HealthMonitor{interval: interval}
	h.Begin()
	return h
}

// Start runs the lag ticker until ctx ends or Stop is called.
func (h *HealthMonitor) Start(ctx context.Context) {
	ctx, h.cancel = context.WithCancel(ctx)
	h.done = make(chan struct{})
	go h.tick(ctx)
}

// Stop ends the ticker and waits for it.
func (h *HealthMonitor) Stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	<-h.done
}

// Begin starts a measurement window, discarding what came before.
func (h *HealthMonitor) Begin() {
	cpu := processCPU()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lags, h.connWait, h.ttfb, h.kernel = h.lags[:0], h.connWait[:0], h.ttfb[:0], 0
	h.beginWall, h.beginCPU = time.Now(), cpu
}

// End reports the window started by the last Begin.
func (h *HealthMonitor) End() metrics.ClientHealth {
	cpu := processCPU()
	now := time.Now()
	cpus := CPUSet()
	h.mu.Lock()
	defer h.mu.Unlock()
	wall := now.Sub(h.beginWall)
	rep := metrics.ClientHealth{
		WallNs:          int64(wall),
		SchedLagP99Ns:   metrics.QuantileInt64Of(h.lags, 0.99),
		SchedLagSamples: len(h.lags),
		CPUSeconds:      (cpu - h.beginCPU).Seconds(),
		CPUSet:          cpus,
		Requests:        len(h.connWait),
		ConnWaitP99Ns:   metrics.QuantileInt64Of(h.connWait, 0.99),
		ServerTTFBP50Ns: metrics.QuantileInt64Of(h.ttfb, 0.5),
		ServerTTFBP99Ns: metrics.QuantileInt64Of(h.ttfb, 0.99),
		KernelStamped:   h.kernel,
	}
	for _, l := range h.lags {
		rep.SchedLagMaxNs = max(rep.SchedLagMaxNs, l)
	}
	usable := runtime.GOMAXPROCS(0)
	if len(cpus) > 0 {
		usable = min(usable, len(cpus))
	}
	if wall > 0 && usable > 0 {
		rep.CPUShare = rep.CPUSeconds / (wall.Seconds() * float64(usable))
	}
	return rep
}

// ObserveRequest records one request's connection wait and server time to
// first byte.
func (h *HealthMonitor) ObserveRequest(connWait, serverTTFB time.Duration, kernelStamps bool) {
	h.mu.Lock()
	h.connWait = append(h.connWait, int64(connWait))
	h.ttfb = append(h.ttfb, int64(serverTTFB))
	if kernelStamps {
		h.kernel++
	}
	h.mu.Unlock()
}

func (h *HealthMonitor) tick(ctx context.Context) {
	defer close(h.done)
	iv := int64(h.interval)
	base := time.Now()
	next := iv
	timer := time.NewTimer(h.interval)
	defer timer.Stop()
	var batch []int64
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		now := int64(time.Since(base))
		batch, next = tickLateness(batch[:0], next, now, iv)
		h.mu.Lock()
		h.lags = append(h.lags, batch...)
		h.mu.Unlock()
		timer.Reset(time.Duration(next - int64(time.Since(base))))
	}
}

// tickLateness appends the lateness of every tick scheduled at or before
// now, starting with the tick due at next, and returns the first tick due
// after now. A ticker woken 35 ms late with a 10 ms interval thus records
// 35, 25, 15 and 5 ms: the ticks a saturated client missed count, as a
// request due in that stall would have waited.
func tickLateness(dst []int64, next, now, interval int64) ([]int64, int64) {
	for next <= now {
		dst = append(dst, now-next)
		next += interval
	}
	return dst, next
}

// processCPU is the process's user+system CPU time so far.
func processCPU() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// CPUSet lists the CPUs this process may run on; nil when unknown.
func CPUSet() []int {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return nil
	}
	var cpus []int
	for i := 0; len(cpus) < set.Count() && i < 1<<14; i++ {
		if set.IsSet(i) {
			cpus = append(cpus, i)
		}
	}
	return cpus
}
