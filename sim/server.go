package sim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// maxRequestBody bounds a chat request body.
const maxRequestBody = 64 << 20

// Server is the simulated engine behind an OpenAI-compatible HTTP API:
//
//	POST /v1/chat/completions  stream true or false
//	GET  /v1/models            the model, its max_model_len and max_num_seqs
//	GET  /health               200 when ready, 503 during a slow start
//	GET  /sim/v1/power         PowerReading (per virtual GPU energy and power)
//	GET  /sim/v1/stats         Stats
//	GET  /sim/v1/profile       the Profile in use
//	GET  /sim/v1/rack          RackLoad (a rack profile only; 404 otherwise)
//
// NewServer starts the engine; Start adds a listener, or Handler can be
// mounted elsewhere (httptest). Stop ends both.
type Server struct {
	cfg     Config
	log     zerolog.Logger
	eng     *engine
	power   *powerMeter
	rack    *rackMeter // a rack profile's model; nil otherwise
	created time.Time
	mux     *http.ServeMux

	arrivals atomic.Uint64
	faults   struct {
		serverErrors, midStream, stalls, ignoredMin, oracle atomic.Uint64
	}

	engCancel context.CancelFunc
	engDone   chan struct{}
	halt      chan struct{} // closed by Stop or a crash
	haltOnce  sync.Once
	crashed   chan struct{}
	crashOnce sync.Once
	stopOnce  sync.Once
	wg        sync.WaitGroup

	mu      sync.Mutex
	httpSrv *http.Server
	url     string
}

// NewServer validates cfg, fills its defaults and starts the engine. Call
// Stop to end it.
func NewServer(cfg Config, log zerolog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	s := &Server{
		cfg:     cfg,
		log:     log.With().Str("component", "sim").Str("profile", cfg.Profile.Name).Str("framework_version", cfg.FrameworkVersion).Logger(),
		created: time.Now(),
		engDone: make(chan struct{}),
		halt:    make(chan struct{}),
		crashed: make(chan struct{}),
	}
	if cfg.Profile.Rack != nil {
		s.rack = newRackMeter(cfg.Profile, cfg.Seed, realClock(), cfg.Faults.EnergyResetAfter)
		s.eng = newEngine(cfg.Profile, s.rack, cfg.TimeScale)
	} else {
		s.power = newPowerMeter(cfg.Profile, cfg.Seed, realClock(), cfg.Faults.EnergyResetAfter)
		s.eng = newEngine(cfg.Profile, s.power, cfg.TimeScale)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.engCancel = cancel
	go func() {
		defer close(s.engDone)
		s.eng.run(ctx)
	}()
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("POST /v1/chat/completions", s.handleChat)
	s.mux.HandleFunc("GET /v1/models", s.handleModels)
	s.mux.HandleFunc("GET /health", s.handleHealth)
	s.mux.HandleFunc("GET /sim/v1/power", s.handlePower)
	s.mux.HandleFunc("GET /sim/v1/stats", s.handleStats)
	s.mux.HandleFunc("GET /sim/v1/profile", s.handleProfile)
	s.mux.HandleFunc("GET /sim/v1/rack", s.handleRack)
	s.mux.HandleFunc("GET /metrics", s.handleMetrics)
	return s, nil
}

// Handler serves the API; use it to mount the sim without Start.
func (s *Server) Handler() http.Handler { return s.mux }

// Start listens on addr (e.g. "127.0.0.1:0") and serves until Stop, a crash
// fault, or ctx ends. It returns the base URL, e.g. "http://127.0.0.1:41234".
func (s *Server) Start(ctx context.Context, addr string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.httpSrv != nil {
		return "", ErrAlreadyStarted
	}
	select {
	case <-s.halt:
		return "", ErrStopped
	default:
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return "", fmt.Errorf("sim listen: %w", err)
	}
	// Neither WriteTimeout nor ReadTimeout: a streamed answer lasts as long
	// as its generation, which the benchmark measures, and net/http cancels
	// a request's context once ReadTimeout passes while its handler runs.
	// Headers and idle connections are bounded; there is no connection cap,
	// since a probe opens one connection per agent.
	s.httpSrv = &http.Server{
		Handler:           s.mux,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       s.cfg.KeepAliveTimeout,
		MaxHeaderBytes:    64 << 10,
	}
	s.url = "http://" + ln.Addr().String()
	srv := s.httpSrv
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error().Err(err).Msg("sim serve")
		}
	}()
	go func() {
		defer s.wg.Done()
		select {
		case <-ctx.Done():
			go s.Stop()
		case <-s.halt:
		}
	}()
	s.log.Info().Str("url", s.url).Str("model", s.cfg.Profile.ServedModel).Msg("simulated engine listening")
	return s.url, nil
}

// URL is the base URL after Start ("" before).
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.url
}

// Stop ends the server: in-flight streams get an error event, the listener
// closes, the engine stops. It is safe to call more than once.
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		s.haltOnce.Do(func() { close(s.halt) })
		s.engCancel()
		<-s.engDone
		s.mu.Lock()
		srv := s.httpSrv
		s.mu.Unlock()
		if srv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := srv.Shutdown(ctx); err != nil {
				_ = srv.Close()
			}
			cancel()
		}
		s.wg.Wait()
	})
}

// Crashed is closed when the crash fault fires.
func (s *Server) Crashed() <-chan struct{} { return s.crashed }

// Err returns ErrCrashed after a crash, nil otherwise.
func (s *Server) Err() error {
	select {
	case <-s.crashed:
		return ErrCrashed
	default:
		return nil
	}
}

// crash simulates the engine process dying: connections are cut at once.
func (s *Server) crash(n uint64) {
	s.crashOnce.Do(func() {
		s.log.Error().Uint64("request", n).Int("crash_after", s.cfg.Faults.CrashAfterRequests).
			Msg("simulated engine crash (fault injection)")
		close(s.crashed)
		s.haltOnce.Do(func() { close(s.halt) })
		s.engCancel()
		s.mu.Lock()
		srv := s.httpSrv
		s.mu.Unlock()
		if srv != nil {
			_ = srv.Close()
		}
	})
}

func (s *Server) abortIfCrashed() {
	select {
	case <-s.crashed:
		panic(http.ErrAbortHandler)
	default:
	}
}

// starting reports whether the slow-start fault still holds the server.
func (s *Server) starting() bool {
	return s.cfg.Faults.SlowStart > 0 && time.Since(s.created) < s.cfg.Faults.SlowStart
}

// Power reads the simulated power counters now.
// With a rack profile it is the rack model's GPUs, in member order.
func (s *Server) Power() PowerReading {
	var r PowerReading
	if s.rack != nil {
		r = s.rack.power()
	} else {
		r = s.power.read()
	}
	r.Profile = s.cfg.Profile.Name
	return r
}

// Stats returns the engine's counters.
func (s *Server) Stats() Stats {
	c := s.eng.counters()
	capBlocks := 0
	if s.cfg.Profile.KVCapacityTokens > 0 {
		capBlocks = s.cfg.Profile.KVCapacityTokens / s.cfg.Profile.BlockSize
	}
	return Stats{
		Simulated: true, Profile: s.cfg.Profile.Name, FrameworkVersion: s.cfg.FrameworkVersion, Requests: s.arrivals.Load(),
		Running: c.Running, Waiting: c.Waiting, Finished: c.Finished, Aborted: c.Aborted,
		Preemptions: c.Preemptions, PromptTokens: c.PromptTokens, CachedTokens: c.CachedTokens,
		GeneratedTokens: c.GeneratedTokens, Steps: c.Steps, VirtualNS: c.VirtualNS, BusyVirtualNS: c.BusyVirtualNS,
		KVBlocksCapacity: capBlocks, KVBlocksUsed: c.KVBlocksUsed, CachedBlocks: c.CachedBlocks, Evictions: c.Evictions,
		Faults: FaultCounts{
			ServerErrors: s.faults.serverErrors.Load(), MidStreamErrors: s.faults.midStream.Load(),
			Stalls: s.faults.stalls.Load(), IgnoredMinTokens: s.faults.ignoredMin.Load(),
			OracleAnswers: s.faults.oracle.Load(), Crashed: s.Err() != nil,
		},
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeAPIError(w http.ResponseWriter, e *apiError) { writeJSON(w, e.Status, e.body()) }

func unavailable(msg string) *apiError {
	return &apiError{Status: http.StatusServiceUnavailable, Type: "ServiceUnavailableError", Code: http.StatusServiceUnavailable, Message: msg}
}

func (s *Server) handleHealth(w http.ResponseWriter, _ *http.Request) {
	s.abortIfCrashed()
	if s.starting() {
		writeAPIError(w, unavailable("simulated engine is starting (slow-start fault)"))
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (s *Server) handleModels(w http.ResponseWriter, _ *http.Request) {
	s.abortIfCrashed()
	if s.starting() {
		writeAPIError(w, unavailable("simulated engine is starting (slow-start fault)"))
		return
	}
	p := &s.cfg.Profile
	m := map[string]any{
		"id": p.ServedModel, "object": "model", "created": s.created.Unix(), "owned_by": "agentwatt-sim",
		"root": p.ServedModel, "parent": nil, "max_model_len": p.MaxModelLen, "simulated": true,
	}
	// The running-batch limit, under the engine argument's name, as a
	// server that reports one does; unlimited is not reported.
	if p.MaxNumSeqs > 0 {
		m["max_num_seqs"] = p.MaxNumSeqs
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": []map[string]any{m}})
}

func (s *Server) handlePower(w http.ResponseWriter, _ *http.Request) {
	s.abortIfCrashed()
	f := &s.cfg.Faults
	if f.PowerGapFor > 0 {
		if el := time.Since(s.created); el >= f.PowerGapAfter && el < f.PowerGapAfter+f.PowerGapFor {
			writeAPIError(w, unavailable("simulated power sample gap (fault injection)"))
			return
		}
	}
	writeJSON(w, http.StatusOK, s.Power())
}

func (s *Server) handleStats(w http.ResponseWriter, _ *http.Request) {
	s.abortIfCrashed()
	writeJSON(w, http.StatusOK, s.Stats())
}

func (s *Server) handleProfile(w http.ResponseWriter, _ *http.Request) {
	s.abortIfCrashed()
	writeJSON(w, http.StatusOK, map[string]any{"simulated": true, "profile": s.cfg.Profile})
}

// Rack reads each member's load and the rack power model now; ok is false
// unless the profile is a rack.
func (s *Server) Rack() (RackLoad, bool) {
	if s.rack == nil {
		return RackLoad{}, false
	}
	return s.rack.load(), true
}

func (s *Server) handleRack(w http.ResponseWriter, _ *http.Request) {
	s.abortIfCrashed()
	rl, ok := s.Rack()
	if !ok {
		writeAPIError(w, &apiError{Status: http.StatusNotFound, Type: "NotFoundError", Code: http.StatusNotFound,
			Message: "profile " + s.cfg.Profile.Name + " is not a rack"})
		return
	}
	writeJSON(w, http.StatusOK, rl)
}
