package scaler

import "github.com/prometheus/client_golang/prometheus"

// scalerMetrics are the scaler's Prometheus metrics (agentwatt_scaler_*),
// by pool.
type scalerMetrics struct {
	desired, actual, waiting, running, idle, busy *prometheus.GaugeVec
	decisions                                     *prometheus.CounterVec // by pool, action
	errors                                        *prometheus.CounterVec
}

func newScalerMetrics(reg prometheus.Registerer) (*scalerMetrics, error) {
	gauge := func(name, help string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "agentwatt_scaler_" + name, Help: help}, []string{"pool"})
	}
	m := &scalerMetrics{
		desired: gauge("desired", "Capacity the pool's demand asks for: waiting + running jobs within the pool's min and max."),
		actual:  gauge("actual", "Capacity the pool's back-end holds (its desired capacity; live runners for a pool with no group)."),
		waiting: gauge("waiting", "Jobs of the pool waiting for a runner (the pool consumer's pending count)."),
		running: gauge("running", "Jobs of the pool held by a runner (the pool consumer's ack-pending count)."),
		idle:    gauge("idle_runners", "Live runners of the pool without a job."),
		busy:    gauge("busy_runners", "Live runners of the pool with a job."),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "agentwatt_scaler_changes_total",
			Help: "Capacity changes made, by pool and action (scale_out, scale_in)."}, []string{"pool", "action"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "agentwatt_scaler_errors_total",
			Help: "Ticks in which a pool could not be read or scaled."}, []string{"pool"}),
	}
	for _, c := range []prometheus.Collector{m.desired, m.actual, m.waiting, m.running, m.idle, m.busy, m.decisions, m.errors} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *scalerMetrics) observe(pool string, o Observation, d Decision) {
	m.desired.WithLabelValues(pool).Set(float64(d.Desired))
	m.actual.WithLabelValues(pool).Set(float64(o.Actual))
	m.waiting.WithLabelValues(pool).Set(float64(o.Waiting))
	m.running.WithLabelValues(pool).Set(float64(o.Running))
	m.idle.WithLabelValues(pool).Set(float64(o.Idle))
	m.busy.WithLabelValues(pool).Set(float64(o.Busy))
}
