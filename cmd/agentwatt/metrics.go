package main

import (
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/agentwatt/agentwatt/bots"
	"github.com/agentwatt/agentwatt/internal/httpmetrics"
)

// newServiceRegistry is the registry a service's /metrics serves: the Go
// runtime's and the process's collectors, and whatever the service adds.
func newServiceRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

// metricsHandler serves reg in the Prometheus text format.
func metricsHandler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}

// instrumentMux counts and times every request mux answers in reg, and,
// unless metricsElsewhere, serves reg at GET /metrics on mux itself.
func instrumentMux(mux *http.ServeMux, reg *prometheus.Registry, metricsElsewhere bool) (http.Handler, error) {
	m, err := httpmetrics.New(reg)
	if err != nil {
		return nil, err
	}
	if !metricsElsewhere {
		mux.Handle("GET /metrics", metricsHandler(reg))
	}
	return m.Handler(mux), nil
}

// newMetricsService serves reg's metrics on addr at GET /metrics.
func newMetricsService(addr string, reg *prometheus.Registry) (*httpService, error) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metricsHandler(reg))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-addr %s: %w", addr, err)
	}
	return serveOn(ln, mux, bots.ServerConfig{}, 2*time.Second), nil
}
