package agentrunner

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// Phases, as progress events and the agentwatt_runner_phase metric name
// them.
const (
	PhasePreflight = "preflight"
	PhaseWorkload  = "workload"
	PhaseLaunch    = "engine_launch"
	PhaseBaseline  = "idle_baseline"
	PhaseAccuracy  = "accuracy"
	PhaseSearch    = "capacity_search"
	PhaseStop      = "engine_stop"
	PhaseBundle    = "bundle"
	PhaseUpload    = "upload"
	PhaseDone      = "done"
	PhaseIdle      = "idle" // no job
)

var phases = []string{PhaseIdle, PhasePreflight, PhaseWorkload, PhaseLaunch, PhaseBaseline, PhaseAccuracy,
	PhaseSearch, PhaseStop, PhaseBundle, PhaseUpload, PhaseDone}

// runnerMetrics are the daemon's Prometheus metrics (agentwatt_runner_*).
type runnerMetrics struct {
	phase         *prometheus.GaugeVec // 1 for the current phase
	agents        prometheus.Gauge
	inFlight      prometheus.Gauge
	requests      prometheus.Counter
	requestErrors prometheus.Counter
	jobs          *prometheus.CounterVec // by outcome
	power         *prometheus.GaugeVec   // by gpu
	energy        *prometheus.GaugeVec   // by gpu, the counter in joules
	heartbeat     prometheus.Gauge       // unix time of the last registration refresh
	uploadBacklog prometheus.Gauge       // bundles in the spool
	uploadErrors  prometheus.Counter
	exits         *prometheus.CounterVec // by reason (Exit*)
}

func newRunnerMetrics(reg prometheus.Registerer) (*runnerMetrics, error) {
	m := &runnerMetrics{
		phase: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "agentwatt_runner_phase",
			Help: "1 for the phase the current job is in (idle without a job)."}, []string{"phase"}),
		agents: prometheus.NewGauge(prometheus.GaugeOpts{Name: "agentwatt_runner_agents",
			Help: "Agent sessions (N) of the probe in progress."}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{Name: "agentwatt_runner_requests_in_flight",
			Help: "Requests in flight against the engine."}),
		requests: prometheus.NewCounter(prometheus.CounterOpts{Name: "agentwatt_runner_requests_total",
			Help: "Requests the load generator sent."}),
		requestErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "agentwatt_runner_request_errors_total",
			Help: "Errored requests in evaluated probe windows."}),
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "agentwatt_runner_jobs_total",
			Help: "Jobs ended, by outcome (uploaded, failed, canceled, released, lost)."}, []string{"outcome"}),
		power: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "agentwatt_runner_gpu_power_watts",
			Help: "Latest instantaneous power per GPU."}, []string{"gpu"}),
		energy: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "agentwatt_runner_gpu_energy_joules",
			Help: "Latest cumulative energy counter per GPU."}, []string{"gpu"}),
		heartbeat: prometheus.NewGauge(prometheus.GaugeOpts{Name: "agentwatt_runner_heartbeat_timestamp_seconds",
			Help: "Unix time of the last liveness refresh; now minus this is the heartbeat age."}),
		uploadBacklog: prometheus.NewGauge(prometheus.GaugeOpts{Name: "agentwatt_runner_upload_backlog",
			Help: "Sealed bundles in the spool waiting for upload."}),
		uploadErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "agentwatt_runner_upload_errors_total",
			Help: "Failed bundle upload attempts."}),
		exits: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "agentwatt_runner_exits_total",
			Help: "Times the runner loop ended, by reason (stopped, once, idle, error)."}, []string{"reason"}),
	}
	for _, c := range []prometheus.Collector{m.phase, m.agents, m.inFlight, m.requests, m.requestErrors, m.jobs, m.power, m.energy,
		m.heartbeat, m.uploadBacklog, m.uploadErrors, m.exits} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	m.setPhase(PhaseIdle)
	return m, nil
}

func (m *runnerMetrics) setPhase(p string) {
	for _, q := range phases {
		v := 0.0
		if q == p {
			v = 1
		}
		m.phase.WithLabelValues(q).Set(v)
	}
}

func (m *runnerMetrics) setPower(gpu int, watts, joules float64) {
	g := strconv.Itoa(gpu)
	m.power.WithLabelValues(g).Set(watts)
	m.energy.WithLabelValues(g).Set(joules)
}
