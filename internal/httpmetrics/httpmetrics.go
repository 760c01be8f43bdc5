package httpmetrics

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Unmatched is the route label of a request that no pattern matched, and
// Redirect of one that ServeMux itself redirected (to the canonical path, or
// a subtree's root with its slash).
const (
	Unmatched = "unmatched"
	Redirect  = "redirect"
)

// Metrics are the request metrics of one server.
type Metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge
}

// New registers the request metrics with reg.
func New(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "agentwatt_http_requests_total",
			Help: "HTTP requests answered, by route (the ServeMux pattern) and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "agentwatt_http_request_duration_seconds",
			Help: "Time to answer an HTTP request, from its headers to the end of the answer, by route and status code.",
			// From a cached page to a bundle file streamed from S3.
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"route", "code"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "agentwatt_http_requests_in_flight",
			Help: "HTTP requests being answered now.",
		}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.inFlight} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Handler serves mux, counting and timing each request under the pattern
// that matched it.
func (m *Metrics) Handler(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		m.inFlight.Inc()
		defer m.inFlight.Dec()
		_, route := mux.Handler(r)
		if route == "" {
			route = Unmatched
		}
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			code := sw.code
			if code == 0 {
				code = http.StatusOK // nothing written: net/http answers 200
			}
			if code/100 == 3 && muxRedirect(w.Header().Get("Location"), route) {
				route = Redirect
			}
			c := strconv.Itoa(code)
			m.requests.WithLabelValues(route, c).Inc()
			m.duration.WithLabelValues(route, c).Observe(time.Since(start).Seconds())
		}()
		mux.ServeHTTP(sw, r)
	})
}

// muxRedirect reports whether an answer that moved to location was
// ServeMux's own redirect, for which Handler may return the path it
// redirects to (the client's path with a slash) rather than a pattern.
func muxRedirect(location, route string) bool {
	u, err := url.Parse(location)
	return err != nil || u.Path == route
}

// statusWriter remembers the status code of the answer.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 && code >= 200 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (Flush,
// deadlines) through the wrapper.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush forwards to the underlying writer, for handlers that assert
// http.Flusher rather than use a ResponseController.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		if w.code == 0 {
			w.code = http.StatusOK
		}
		f.Flush()
	}
}
