package metrics

import (
	"fmt"
	"time"
)

// ClientHealth is the load generator's self-check over one measurement
// window, recorded per probe in probes.json. Durations are nanoseconds.
type ClientHealth struct {
	WallNs          int64   `json:"wall_ns"`            // length of the observed span
	SchedLagP99Ns   int64   `json:"sched_lag_p99_ns"`   // nearest-rank p99 of a ticker's lateness
	SchedLagMaxNs   int64   `json:"sched_lag_max_ns"`   // worst lateness
	SchedLagSamples int     `json:"sched_lag_samples"`  // scheduled ticks observed (late ones included)
	CPUSeconds      float64 `json:"cpu_seconds"`        // process user+system CPU time over the span
	CPUShare        float64 `json:"cpu_share"`          // CPUSeconds / (wall seconds × len(CPUSet))
	CPUSet          []int   `json:"cpu_set"`            // CPUs the process may run on
	Requests        int     `json:"requests"`           // requests whose connection timing was observed
	ConnWaitP99Ns   int64   `json:"conn_wait_p99_ns"`   // p99 time from asking for a connection to having one
	ServerTTFBP50Ns int64   `json:"server_ttfb_p50_ns"` // p50 time from request written to first response byte
	ServerTTFBP99Ns int64   `json:"server_ttfb_p99_ns"`
	// KernelStamped counts the Requests whose event times are the kernel's
	// receive times of their bytes; the others carry the client's read
	// times, which a busy client delays.
	KernelStamped int `json:"kernel_stamped"`
}

// HealthLimits are the profile's limits on the client. A zero limit is not
// checked.
type HealthLimits struct {
	MaxSchedLagP99 time.Duration
	MaxCPUShare    float64
	MaxConnWaitP99 time.Duration
}

// CheckClientHealth returns why the client was unhealthy, one reason per
// exceeded limit; none means healthy. An unhealthy client invalidates its
// probe.
func CheckClientHealth(h ClientHealth, lim HealthLimits) []string {
	var reasons []string
	if lim.MaxSchedLagP99 > 0 && time.Duration(h.SchedLagP99Ns) > lim.MaxSchedLagP99 {
		reasons = append(reasons, fmt.Sprintf("client scheduling lag p99 %v exceeds %v",
			time.Duration(h.SchedLagP99Ns), lim.MaxSchedLagP99))
	}
	if lim.MaxCPUShare > 0 && h.CPUShare > lim.MaxCPUShare {
		reasons = append(reasons, fmt.Sprintf("client CPU share %.3f exceeds %.3f", h.CPUShare, lim.MaxCPUShare))
	}
	if lim.MaxConnWaitP99 > 0 && time.Duration(h.ConnWaitP99Ns) > lim.MaxConnWaitP99 {
		reasons = append(reasons, fmt.Sprintf("client connection wait p99 %v exceeds %v",
			time.Duration(h.ConnWaitP99Ns), lim.MaxConnWaitP99))
	}
	return reasons
}
