package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/accounts"
	"github.com/agentwatt/agentwatt/agentrunner"
	"github.com/agentwatt/agentwatt/blob"
	"github.com/agentwatt/agentwatt/blob/s3embed"
	"github.com/agentwatt/agentwatt/bots"
	"github.com/agentwatt/agentwatt/examples"
	"github.com/agentwatt/agentwatt/fleet"
	"github.com/agentwatt/agentwatt/publish"
	"github.com/agentwatt/agentwatt/queue"
	"github.com/agentwatt/agentwatt/spec"
	"github.com/agentwatt/agentwatt/verifyd"
	"github.com/agentwatt/agentwatt/workload"
	"github.com/agentwatt/agentwatt/workload/blobstore"
)

// stackConfig configures the embedded local stack that `local` and `demo` run.
type stackConfig struct {
	Dir        string
	NATSListen string // loopback address for the embedded NATS server
	S3Listen   string // loopback address for the embedded S3 gateway
	HTTPListen string // loopback address for the intake server
	Bucket     string
	// Runner starts one runner of pool sim in the stack (stackrunner.go).
	Runner bool
	// RunnerFixedAgents, when > 0, makes that runner judge one N instead of
	// searching (the demo, to finish in about a minute).
	RunnerFixedAgents int
}

func (c *stackConfig) validate() error {
	if c.Dir == "" {
		return errors.New("--dir is required")
	}
	for name, addr := range map[string]string{"--nats-listen": c.NATSListen, "--s3-listen": c.S3Listen, "--listen": c.HTTPListen} {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return fmt.Errorf("%s %q: %w", name, addr, err)
		}
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return fmt.Errorf("%s %q: the local stack listens on loopback only", name, addr)
		}
	}
	return nil
}

// localStack is every service of the embedded default in one process: NATS with
// JetStream, an S3 gateway (versitygw, POSIX backend) and the intake server.
// Everything lives under one directory; restarting on it keeps every job and
// object.
type localStack struct {
	cfg     stackConfig
	log     zerolog.Logger
	lock    *os.File
	nats    *queue.Embedded
	nc      *nats.Conn
	queue   *queue.Queue
	fleet   *fleet.Fleet
	acc     *accounts.Store
	s3      *s3embed.Server
	store   *blob.Store
	reg     *workload.Registry
	sample  workload.Ref // the built-in workload, pushed on first start
	http    *httpService
	httpURL string
	metrics *prometheus.Registry // served at /metrics: the HTTP server's, the runner's, Go's and the process's
	vendor  string
	token   string
	runner  *agentrunner.Runner // nil without cfg.Runner
	verify  *verifyd.Daemon
}

// localInfo is written to DIR/local.json so that people and scripts can find the
// running stack.
type localInfo struct {
	NATS     string `json:"nats"`
	Server   string `json:"server"`
	S3       string `json:"s3"`
	Bucket   string `json:"bucket"`
	Vendor   string `json:"vendor"`
	PID      int    `json:"pid"`
	Started  string `json:"started"`
	TokenRef string `json:"token_file"`
}

// openLocalStack takes DIR's lock, starts the embedded NATS and S3 the
// services need, and builds the services; Run runs them, and Close stops
// NATS and S3 and lets go of DIR.
func openLocalStack(ctx context.Context, cfg stackConfig, log zerolog.Logger) (_ *localStack, err error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	// The embedded S3 gateway changes the process's working directory while it
	// runs (versitygw's POSIX backend), so every path must be absolute first.
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, err
	}
	cfg.Dir = dir
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, err
	}
	s := &localStack{metrics: newServiceRegistry(), cfg: cfg, log: log}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if s.lock, err = lockDir(cfg.Dir); err != nil {
		return nil, err
	}

	s.nats, err = queue.StartEmbedded(queue.EmbeddedConfig{
		Dir: filepath.Join(cfg.Dir, "nats"), Listen: cfg.NATSListen, ServerName: "agentwatt-local",
	}, log)
	if err != nil {
		return nil, fmt.Errorf("start embedded NATS: %w", err)
	}
	if s.nc, err = s.nats.Connect(); err != nil {
		return nil, fmt.Errorf("connect to embedded NATS: %w", err)
	}
	if s.queue, err = queue.Open(ctx, s.nc, queue.Config{Replicas: 1}, log); err != nil {
		return nil, fmt.Errorf("open queue: %w", err)
	}
	if s.fleet, err = openFleet(ctx, s.queue, log); err != nil {
		return nil, fmt.Errorf("open fleet: %w", err)
	}
	if s.acc, err = openAccounts(ctx, s.queue, log); err != nil {
		return nil, fmt.Errorf("open accounts: %w", err)
	}
	s.s3, err = s3embed.Start(ctx, s3embed.Config{Dir: filepath.Join(cfg.Dir, "s3"), Addr: cfg.S3Listen, Quiet: true},
		log)
	if err != nil {
		return nil, fmt.Errorf("start embedded S3: %w", err)
	}
	if s.store, err = blob.Open(ctx, s.s3.BlobConfig(cfg.Bucket)); err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", cfg.Bucket, err)
	}
	s.reg = blobstore.NewRegistry(s.store, filepath.Join(cfg.Dir, "workload-cache"))
	if s.sample, err = workload.EnsureDefault(ctx, s.reg); err != nil {
		return nil, fmt.Errorf("put the built-in workload in the registry: %w", err)
	}

	if err := s.ensureVendor(ctx); err != nil {
		return nil, err
	}
	if err := s.listenHTTP(); err != nil {
		return nil, err
	}
	if cfg.Runner {
		if s.runner, err = newStackRunner(ctx, s); err != nil {
			return nil, fmt.Errorf("start the local runner: %w", err)
		}
	}
	if s.verify, err = newStackVerifier(s); err != nil {
		return nil, fmt.Errorf("start the local verifier: %w", err)
	}
	// The listener is open, so DIR/local.json ("ready") may appear before
	// Run: a connection made now waits to be accepted.
	if err := s.writeInfo(); err != nil {
		return nil, err
	}
	return s, nil
}

// ensureVendor registers the example submission's vendor on first start and
// keeps its token in DIR, so that the stack can print a ready-to-paste submit
// line on every start (the queue keeps only a hash of it).
func (s *localStack) ensureVendor(ctx context.Context) error {
	example, err := examples.Submissions.ReadFile(examples.SimSubmission)
	if err != nil {
		return err
	}
	sub, err := spec.Parse(examples.SimSubmission, example)
	if err != nil {
		return fmt.Errorf("embedded example: %w", err)
	}
	s.vendor = sub.Metadata.Vendor
	tokenFile := s.tokenFile()
	if b, err := os.ReadFile(tokenFile); err == nil {
		s.token = strings.TrimSpace(string(b))
		if v, err := s.acc.AuthenticateVendor(ctx, s.token); err == nil && v == s.vendor {
			return nil
		}
	}
	if s.token, err = s.acc.AddVendor(ctx, s.vendor); err != nil {
		return fmt.Errorf("register vendor %s: %w", s.vendor, err)
	}
	return writeFileAtomic(tokenFile, []byte(s.token+"\n"), 0o600)
}

func (s *localStack) tokenFile() string {
	return filepath.Join(s.cfg.Dir, "vendor-"+s.vendor+".token")
}

func (s *localStack) listenHTTP() (err error) {
	mux := http.NewServeMux()
	bots.NewIntake(s.queue, s.acc, bots.IntakeConfig{Workloads: registryPinner{s.reg}}, s.log.With().Str("component", "intake").Logger()).Register(mux)
	publish.NewSiteHandler(s.store, s.log.With().Str("component", "site").Logger()).Register(mux)
	h, err := instrumentMux(mux, s.metrics, false)
	if err != nil {
		return err
	}
	if s.http, err = newHTTPService(s.cfg.HTTPListen, h, bots.ServerConfig{}, 5*time.Second); err != nil {
		return err
	}
	s.httpURL = s.http.URL()
	return nil
}

// addServices adds the stack's services to g: it is the server side of the
// queue (the dead-letter watcher turns dead letters into failed jobs, the
// sweeper gives lost leases back), the intake and site server, the runner
// and the verifier daemon.
func (s *localStack) addServices(ctx context.Context, g *runGroup) {
	g.add(ctx, s.queue.DeadLetters())
	g.add(ctx, s.queue.Sweeper())
	g.add(ctx, enrolService(s.queue, s.fleet, s.log))
	g.add(ctx, s.http)
	if s.runner != nil {
		// Stopping it interrupts a job's current phase, stops its engine and
		// releases the job to the queue.
		g.add(ctx, s.runner)
	}
	// Stopping it hands a bundle being verified back to the queue.
	g.add(ctx, s.verify)
}

func (s *localStack) writeInfo() error {
	info := localInfo{
		NATS: s.nats.ClientURL(), Server: s.httpURL, S3: s.s3.URL(), Bucket: s.cfg.Bucket,
		Vendor: s.vendor, PID: os.Getpid(), Started: time.Now().UTC().Format(time.RFC3339), TokenRef: s.tokenFile(),
	}
	// DIR/env lets any other agentwatt command reach this stack: `. DIR/env`.
	// It is written before local.json, whose appearance means "ready".
	access, secret := s.s3.Credentials()
	env := fmt.Sprintf("export AGENTWATT_NATS=%s\nexport AGENTWATT_SERVER=%s\nexport AGENTWATT_TOKEN=%s\n"+
		"export AGENTWATT_S3_ENDPOINT=%s\nexport AGENTWATT_S3_BUCKET=%s\nexport AGENTWATT_S3_ACCESS_KEY=%s\nexport AGENTWATT_S3_SECRET_KEY=%s\n",
		info.NATS, info.Server, s.token, s.s3.Endpoint(), s.cfg.Bucket, access, secret)
	if err := writeFileAtomic(s.envFile(), []byte(env), 0o600); err != nil {
		return err
	}
	b, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(s.cfg.Dir, "local.json"), append(b, '\n'), 0o600)
}

// envFile is DIR/env: shell exports that point every command at this stack.
func (s *localStack) envFile() string { return filepath.Join(s.cfg.Dir, "env") }

// Close stops what openLocalStack started, after the services' run group
// has returned: the embedded S3, the NATS connection and server, and lets go
// of DIR (local.json and env are removed, the lock released).
func (s *localStack) Close() {
	if s.http != nil {
		_ = s.http.ln.Close() // when Run never ran
	}
	if s.s3 != nil {
		if err := s.s3.Stop(); err != nil {
			s.log.Warn().Err(err).Msg("stop embedded S3")
		}
	}
	if s.nc != nil {
		_ = s.nc.Drain()
	}
	if s.nats != nil {
		s.nats.Shutdown()
	}
	if s.lock != nil {
		_ = os.Remove(filepath.Join(s.cfg.Dir, "local.json"))
		_ = os.Remove(s.envFile())
		_ = s.lock.Close()
	}
}

// lockDir takes an exclusive lock on DIR/.lock so that two stacks never share
// one directory.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s is in use by another agentwatt local or demo (lock %s): %w", dir, f.Name(), err)
	}
	return f, nil
}

// writeFileAtomic writes to a temporary name beside path and renames it, so a
// reader never sees a half-written file.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
