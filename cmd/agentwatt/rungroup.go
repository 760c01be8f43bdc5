package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/oklog/run"
	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/bots"
)

// runGroup runs the services of one command together: the intake and site
// HTTP servers, the queue's dead-letter watcher and lease sweeper, runners,
// verifier daemons. When one of them returns, or the command's context ends
// (Ctrl-C, SIGTERM), every one is interrupted and waited for; run returns the
// first one's error. 'server', 'runner', 'verifier', 'local' and 'demo' all
// start their services this way.
//
// It is oklog/run (as prometheus's main.go uses it) rather than errgroup: a
// service that returns nil — a runner whose work dir went away — must stop
// the others too, and run.Group stops them on any return, not only on an
// error.
type runGroup struct {
	run.Group
	log zerolog.Logger
}

// service runs until its context ends: Run returns nil then, and an error
// only when the service failed.
type service interface {
	Run(ctx context.Context) error
}

// add runs s in the group. s's context is interrupted by the group, never by
// ctx directly, so that each service's shutdown (a runner releasing its job)
// happens while what it needs (the NATS connection) is still open: the
// caller closes those after run returns.
func (g *runGroup) add(ctx context.Context, s service) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	g.Add(func() error {
		err := s.Run(ctx)
		if err != nil && ctx.Err() != nil {
			// Only the first error is run's; one while stopping is logged.
			g.log.Warn().Err(err).Msg("stopping")
		}
		return err
	}, func(error) { cancel() })
}

// untilDone ends the group, without an error, when ctx ends; onDone, if set,
// runs then (to log that the command is stopping).
func (g *runGroup) untilDone(ctx context.Context, onDone func()) {
	stop := make(chan struct{})
	g.Add(func() error {
		select {
		case <-ctx.Done():
			if onDone != nil {
				onDone()
			}
		case <-stop:
		}
		return nil
	}, func(error) {
		select {
		case <-stop:
		default:
			close(stop)
		}
	})
}

// serviceFunc makes a function a service.
type serviceFunc func(ctx context.Context) error

func (f serviceFunc) Run(ctx context.Context) error { return f(ctx) }

// httpService serves on a listener until its context ends, then shuts down
// gracefully, waiting at most grace for requests in flight.
type httpService struct {
	srv   *http.Server
	ln    net.Listener
	cfg   bots.ServerConfig
	grace time.Duration
}

// newHTTPService listens on addr now (so that a bad address is an error
// before anything starts) and serves h there once Run runs.
func newHTTPService(addr string, h http.Handler, cfg bots.ServerConfig, grace time.Duration) (*httpService, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	return serveOn(ln, h, cfg, grace), nil
}

// serveOn serves h on ln once Run runs.
func serveOn(ln net.Listener, h http.Handler, cfg bots.ServerConfig, grace time.Duration) *httpService {
	return &httpService{srv: bots.NewHTTPServer(h, cfg), ln: ln, cfg: cfg, grace: grace}
}

// URL is http:// and the address the service listens on.
func (h *httpService) URL() string { return "http://" + h.ln.Addr().String() }

// Run serves until ctx ends.
func (h *httpService) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- h.srv.Serve(bots.LimitListener(h.ln, h.cfg)) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), h.grace)
	defer cancel()
	if err := h.srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
