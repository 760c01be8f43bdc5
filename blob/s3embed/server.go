package s3embed

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/versity/versitygw/auth"
	"github.com/versity/versitygw/backend/meta"
	"github.com/versity/versitygw/backend/posix"
	"github.com/versity/versitygw/embedgw"
	"github.com/versity/versitygw/s3api"

	"github.com/agentwatt/agentwatt/blob"
)

// ErrAlreadyRunning is returned by Start while another embedded gateway
// runs in this process. versitygw's embedgw keeps package-level state and
// allows one gateway per process; a test that needs two, or a restart
// while clients stay connected, uses child processes.
var ErrAlreadyRunning = errors.New("s3embed: an embedded S3 gateway is already running in this process (versitygw embedgw allows one per process)")

// Region is the region the gateway reports; BlobConfig uses it.
const Region = "us-east-1"

// healthPath answers 200 without authentication. The leading underscore
// cannot start a valid bucket name, so it masks no bucket.
const healthPath = "/_agentwatt/health"

// readyTimeout bounds how long Start waits for the gateway to answer.
const readyTimeout = 30 * time.Second

// running guards the one-gateway-per-process rule; it is released only
// after RunVersityGW has returned and the working directory is restored.
var running atomic.Bool

// Server is a running embedded S3 gateway.
type Server struct {
	dir      string
	endpoint string
	creds    credentials
	log      zerolog.Logger

	cancel   context.CancelFunc
	done     chan struct{} // closed after the gateway has stopped
	err      error         // RunVersityGW's result, read after done
	stopOnce sync.Once

	// mu orders the hand-over of the process guard (running): Start keeps
	// it while it may retry; once the gateway is up the gateway goroutine
	// owns it and releases it on exit, before done is closed.
	mu        sync.Mutex
	exited    bool
	ownsGuard bool
}

// Start starts versitygw in this process with the POSIX backend and
// sidecar metadata under cfg.Dir, and returns once it answers its health
// check. It runs until Stop is called or ctx ends. Start fails with
// ErrAlreadyRunning while another gateway runs in this process.
//
// The POSIX backend changes the process's working directory to Dir/data
// for as long as the gateway runs (versitygw's posix.New calls os.Chdir
// and then opens objects by relative paths). Resolve every relative path
// you need before Start, and do not call os.Chdir while it runs; Stop
// restores the previous working directory.
func Start(ctx context.Context, cfg Config, log zerolog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ip, port, _ := cfg.hostPort()
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("s3embed: %w", err)
	}
	if !running.CompareAndSwap(false, true) {
		return nil, ErrAlreadyRunning
	}
	release := true
	defer func() {
		if release {
			running.Store(false)
		}
	}()

	dataDir, metaDir := filepath.Join(dir, "data"), filepath.Join(dir, "meta")
	for _, d := range []string{dir, dataDir, metaDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("s3embed: %w", err)
		}
	}
	creds, created, err := loadOrCreateCredentials(dir)
	if err != nil {
		return nil, err
	}
	cwd, err := os.Getwd()
	if err != nil {
		return nil, fmt.Errorf("s3embed: working directory: %w", err)
	}

	// A port picked by the kernel can be taken by someone else between our
	// probe and versitygw's bind; try a few times before giving up.
	tries := 1
	if port == 0 {
		tries = 3
	}
	for try := 1; ; try++ {
		p := port
		if p == 0 {
			if p, err = freePort(ip); err != nil {
				return nil, err
			}
		}
		s, err := launch(ctx, cfg, log, dir, dataDir, metaDir, cwd, creds, net.JoinHostPort(ip.String(), strconv.Itoa(p)))
		if err == nil {
			release = false // the gateway goroutine owns the guard now
			s.log.Info().Str("endpoint", s.endpoint).Str("dir", dir).
				Bool("new_credentials", created).Msg("embedded s3 ready")
			return s, nil
		}
		if try >= tries || !strings.Contains(err.Error(), "bind") || ctx.Err() != nil {
			return nil, err
		}
		log.Debug().Err(err).Int("port", p).Msg("embedded s3 port taken, picking another")
	}
}

// launch runs one gateway on addr and waits until it is healthy. On
// failure it has stopped the gateway and restored the working directory.
func launch(ctx context.Context, cfg Config, log zerolog.Logger, dir, dataDir, metaDir, cwd string, creds credentials, addr string) (*Server, error) {
	sidecar, err := meta.NewSideCar(metaDir)
	if err != nil {
		return nil, fmt.Errorf("s3embed: sidecar metadata: %w", err)
	}
	opts := posix.PosixOpts{}
	opts.SetNewDirPerm(0o700)
	opts.SetNewFilePerm(0o600)
	// opts.SideCarDir is left empty on purpose: posix.New only uses it to
	// print a line to stdout. The metadata store is the sidecar above;
	// Dir/meta lies outside Dir/data, as versitygw requires.
	be, err := posix.New(dataDir, sidecar, opts) // chdirs to dataDir
	if err != nil {
		os.Chdir(cwd)
		return nil, fmt.Errorf("s3embed: posix backend: %w", err)
	}

	runCtx, cancel := context.WithCancel(ctx)
	ready := make(chan struct{})
	var readyOnce sync.Once
	s := &Server{
		dir:      dir,
		endpoint: addr,
		creds:    creds,
		log:      log.With().Str("component", "s3embed").Logger(),
		cancel:   cancel,
		done:     make(chan struct{}),
	}
	gw := &embedgw.Config{
		RootUserAccess: creds.AccessKey,
		RootUserSecret: creds.SecretKey,
		// Single-account mode, built here because auth.New would print a
		// line about it to stdout.
		IAMService: auth.NewIAMServiceSingle(auth.Account{
			Access: creds.AccessKey,
			Secret: creds.SecretKey,
			Role:   auth.RoleAdmin,
		}),
		Region:            Region,
		Ports:             []string{addr},
		MaxConnections:    4096,
		MaxRequests:       4096,
		MultipartMaxParts: 10000,
		HealthPath:        healthPath,
		KeepAlive:         true,
		Quiet:             cfg.Quiet,
		S3Options: []s3api.Option{s3api.WithOnListen(func() {
			readyOnce.Do(func() { close(ready) })
		})},
	}
	go func() {
		defer close(s.done)
		s.err = embedgw.RunVersityGW(runCtx, be, gw)
		cancel()
		if err := os.Chdir(cwd); err != nil {
			s.log.Error().Err(err).Str("dir", cwd).Msg("restore working directory")
		}
		s.mu.Lock()
		s.exited = true
		if s.ownsGuard {
			running.Store(false)
		}
		s.mu.Unlock()
	}()

	err = s.waitReady(ctx, ready)
	if err == nil {
		s.mu.Lock()
		if s.exited {
			err = fmt.Errorf("s3embed: gateway exited at start: %w", s.err)
		} else {
			s.ownsGuard = true
		}
		s.mu.Unlock()
	}
	if err != nil {
		cancel()
		<-s.done
		if s.err != nil && !errors.Is(s.err, context.Canceled) {
			err = fmt.Errorf("s3embed: gateway on %s: %w", addr, s.err)
		}
		return nil, err
	}
	return s, nil
}

// waitReady waits for the listen hook and then a 200 from the health path.
func (s *Server) waitReady(ctx context.Context, ready <-chan struct{}) error {
	deadline := time.NewTimer(readyTimeout)
	defer deadline.Stop()
	select {
	case <-ready:
	case <-s.done:
		return fmt.Errorf("s3embed: gateway exited at start: %w", s.err)
	case <-ctx.Done():
		return ctx.Err()
	case <-deadline.C:
		return fmt.Errorf("s3embed: gateway not listening after %s", readyTimeout)
	}
	client := &http.Client{Timeout: 2 * time.Second}
	url := "http://" + s.endpoint + healthPath
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("health check: %s", resp.Status)
		}
		select {
		case <-s.done:
			return fmt.Errorf("s3embed: gateway exited at start: %w", s.err)
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return fmt.Errorf("s3embed: gateway not healthy after %s: %w", readyTimeout, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// freePort asks the kernel for a free TCP port on ip.
func freePort(ip net.IP) (int, error) {
	l, err := net.ListenTCP("tcp", &net.TCPAddr{IP: ip})
	if err != nil {
		return 0, fmt.Errorf("s3embed: pick a port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Endpoint is the gateway's "IP:PORT", for blob.Config.Endpoint.
func (s *Server) Endpoint() string { return s.endpoint }

// URL is the gateway's base URL, "http://IP:PORT".
func (s *Server) URL() string { return "http://" + s.endpoint }

// Dir is the absolute data directory the gateway serves.
func (s *Server) Dir() string { return s.dir }

// Credentials are the root access and secret keys, generated once into
// Dir/credentials.json and reused by every later Start on the same Dir.
func (s *Server) Credentials() (access, secret string) {
	return s.creds.AccessKey, s.creds.SecretKey
}

// BlobConfig is a blob.Config for bucket on this gateway.
func (s *Server) BlobConfig(bucket string) blob.Config {
	return blob.Config{
		Endpoint:  s.endpoint,
		AccessKey: s.creds.AccessKey,
		SecretKey: s.creds.SecretKey,
		Bucket:    bucket,
		Region:    Region,
	}
}

// Done is closed once the gateway has stopped, by Stop or by its context.
func (s *Server) Done() <-chan struct{} { return s.done }

// Stop shuts the gateway down (open connections get up to 10 s), restores
// the working directory, and returns the gateway's error, if it failed.
// It is safe to call more than once.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		s.cancel()
		<-s.done
		s.log.Debug().Str("endpoint", s.endpoint).Msg("embedded s3 stopped")
	})
	if s.err != nil && !errors.Is(s.err, context.Canceled) {
		return fmt.Errorf("s3embed: %w", s.err)
	}
	return nil
}
