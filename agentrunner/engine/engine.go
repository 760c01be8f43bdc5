package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
)

// Engine is a launched engine: a process group whose leader is the engine
// itself (process mode) or the container runtime's CLI (container mode).
type Engine struct {
	cfg    Config
	log    zerolog.Logger
	cmd    *exec.Cmd
	pgid   int
	argv   []string
	record string // state record path; "" without a state dir
	ownDir string // the engine's directory when Start made it; Stop removes it

	done     chan struct{} // closed when the leader has exited and been reaped
	mu       sync.Mutex
	stopping bool
	exitErr  error // set when the leader exited on its own

	stopOnce sync.Once
	stopErr  error
}

// Start launches the engine described by cfg and returns once its process
// runs (call WaitReady next). The process group is its own (Setpgid), with a
// parent-death signal (SIGKILL in process mode; SIGTERM to the container CLI,
// which forwards it to the container), stdout and stderr to cfg.LogPath, and
// the CPU set cfg.CPUs. In container mode the runner's engine network is
// created first if missing. With cfg.StateDir, a record lets ReapOrphans
// kill the group if the runner dies. ctx bounds the launch only; the engine
// runs until Stop or its own end.
func Start(ctx context.Context, cfg Config, log zerolog.Logger) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	mark, err := newMark()
	if err != nil {
		return nil, err
	}
	var argv, env []string
	pdeath := syscall.SIGKILL
	ownDir := ""
	if cfg.ProcessMode() {
		if cfg.Dir == "" {
			if cfg.Dir, err = MakeDir("", cfg.User); err != nil {
				return nil, err
			}
			ownDir = cfg.Dir
		}
		argv = append(append([]string{}, cfg.Command...), cfg.args()...)
		env = processEnv(os.Environ(), cfg.Dir, cfg.Env, cfg.Secrets, mark)
	} else {
		if err := EnsureNetwork(ctx, cfg.Runtime, cfg.Network); err != nil {
			return nil, err
		}
		cargs, err := ContainerArgs(cfg)
		if err != nil {
			return nil, err
		}
		argv = append([]string{cfg.Runtime}, cargs...)
		env = append(runtimeEnv(os.Environ(), cfg.Secrets), markEnv+"="+mark)
		pdeath = syscall.SIGTERM
	}
	e, err := start(ctx, cfg, argv, env, pdeath, log)
	if err != nil {
		if ownDir != "" {
			os.RemoveAll(ownDir)
		}
		return nil, err
	}
	e.ownDir = ownDir
	if cfg.StateDir != "" {
		if err := e.writeRecord(mark); err != nil {
			e.Stop(context.WithoutCancel(ctx))
			return nil, err
		}
	}
	return e, nil
}

// start runs argv with env: its own process group, the parent-death signal,
// stdout and stderr in the log, no other descriptor, the CPU set and, in
// process mode, the engine's directory and user.
func start(ctx context.Context, cfg Config, argv, env []string, pdeath syscall.Signal, log zerolog.Logger) (*Engine, error) {
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return nil, fmt.Errorf("engine %s: %w", argv[0], err)
	}
	if err := os.MkdirAll(filepath.Dir(cfg.LogPath), 0o700); err != nil {
		return nil, fmt.Errorf("engine log dir: %w", err)
	}
	logFile, err := os.OpenFile(cfg.LogPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("engine log: %w", err)
	}
	defer logFile.Close() // the child holds its own descriptor
	cmd := &exec.Cmd{
		Path:        path,
		Args:        argv,
		Env:         env,
		Stdout:      logFile, // an *os.File: passed as fd 1 and 2, no copying goroutine
		Stderr:      logFile,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true, Pdeathsig: pdeath},
	}
	if cfg.ProcessMode() {
		cmd.Dir = cfg.Dir
		cmd.SysProcAttr.Credential = cfg.User.credential()
	}
	if err := closeOnExec(); err != nil {
		return nil, fmt.Errorf("start engine: close the runner's descriptors on exec: %w", err)
	}
	if err := startWithCPUs(cmd, cfg.CPUs, log); err != nil {
		if cfg.ProcessMode() {
			return nil, fmt.Errorf("start engine %s as %s: %w", argv[0], cfg.User, err)
		}
		return nil, fmt.Errorf("start engine: %w", err)
	}
	e := &Engine{cfg: cfg, log: log, cmd: cmd, pgid: cmd.Process.Pid, argv: argv, done: make(chan struct{})}
	go e.wait()
	ev := e.log.Info().Int("pid", e.pgid).Str("engine", cfg.describe()).Int("port", cfg.Port).
		Str("cpus", cfg.CPUs).Str("log", cfg.LogPath)
	if cfg.ProcessMode() {
		ev = ev.Str("dir", cfg.Dir).Str("user", cfg.User.String())
	}
	ev.Strs("secrets", slices.Sorted(maps.Keys(cfg.Secrets))).Msg("engine started")
	return e, nil
}

func (e *Engine) writeRecord(mark string) error {
	st, err := readStat(e.pgid)
	if err != nil {
		return fmt.Errorf("engine record: %w", err)
	}
	self, err := readStat(os.Getpid())
	if err != nil {
		return fmt.Errorf("engine record: %w", err)
	}
	r := record{
		Version: recordVersion, Mode: "process", Job: e.cfg.JobID,
		PID: e.pgid, PGID: e.pgid, StartTime: st.StartTime, Argv: e.argv, Mark: mark,
		RunnerPID: os.Getpid(), RunnerStart: self.StartTime, CreatedAt: time.Now().UTC(),
	}
	if !e.cfg.ProcessMode() {
		r.Mode, r.Runtime, r.Container = "container", e.cfg.Runtime, e.cfg.containerName()
		if e.cfg.Network == JobNetwork(e.cfg.JobID) {
			r.Network = e.cfg.Network
		}
	}
	e.record, err = writeRecord(e.cfg.StateDir, r)
	return err
}

// startWithCPUs starts cmd with the CPU affinity cpus. The child inherits
// the affinity of the thread that forks it, so the goroutine locks its
// thread, narrows that thread's affinity, starts the child and restores the
// thread: the engine runs on cpus from its first instruction, with no
// window in which its threads could start elsewhere, and without taskset.
func startWithCPUs(cmd *exec.Cmd, cpus string, log zerolog.Logger) error {
	if cpus == "" {
		return cmd.Start()
	}
	set, err := ParseCPUList(cpus)
	if err != nil {
		return err
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var old unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		return fmt.Errorf("read cpu affinity: %w", err)
	}
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		return fmt.Errorf("engine cpus %s: %w", cpus, err)
	}
	startErr := cmd.Start()
	if err := unix.SchedSetaffinity(0, &old); err != nil {
		log.Warn().Err(err).Msg("could not restore a runner thread's cpu affinity")
	}
	return startErr
}

// wait reaps the leader and records why it ended.
func (e *Engine) wait() {
	err := e.cmd.Wait()
	e.mu.Lock()
	if !e.stopping {
		e.exitErr = exitError(err)
		e.log.Error().Err(e.exitErr).Msg("engine exited on its own")
	}
	e.mu.Unlock()
	close(e.done)
}

func exitError(err error) error {
	ee := &ExitError{Err: err}
	var xe *exec.ExitError
	if errors.As(err, &xe) {
		ee.Code = xe.ExitCode()
		if ws, ok := xe.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			ee.Signal = ws.Signal().String()
		}
	}
	return ee
}

// PID is the group leader's pid, which is also the process group id.
func (e *Engine) PID() int { return e.pgid }

// Argv is the command line that was started.
func (e *Engine) Argv() []string { return append([]string{}, e.argv...) }

// Port is the engine's serving port.
func (e *Engine) Port() int { return e.cfg.Port }

// URL is the engine's base URL, e.g. "http://127.0.0.1:41234".
func (e *Engine) URL() string {
	return "http://" + net.JoinHostPort(e.cfg.Host, strconv.Itoa(e.cfg.Port))
}

// HealthURL is the URL WaitReady polls.
func (e *Engine) HealthURL() string { return e.URL() + e.cfg.HealthPath }

// Done is closed when the engine's process has ended, by Stop or on its own
// (a crash: Err says which).
func (e *Engine) Done() <-chan struct{} { return e.done }

// Err is nil while the engine runs and when Stop ended it; once the engine
// ended on its own (before any Stop) it is an *ExitError (errors.Is
// ErrExited).
func (e *Engine) Err() error {
	select {
	case <-e.done:
	default:
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.exitErr
}

// LogTail is the end of the engine's log, at most n bytes, from a line start
// where one is near, with the values of the secrets masked: it goes into
// failure reasons, which the vendor and the job listing see.
func (e *Engine) LogTail(n int) string { return MaskSecrets(logTail(e.cfg.LogPath, n), e.cfg.Secrets) }

func logTail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	off := max(st.Size()-int64(n), 0)
	b := make([]byte, st.Size()-off)
	if _, err := f.ReadAt(b, off); err != nil && !errors.Is(err, io.EOF) {
		return ""
	}
	if off > 0 {
		for i, c := range b {
			if c == '\n' && i < len(b)-1 {
				b = b[i+1:]
				break
			}
		}
	}
	return string(b)
}

// Stop ends the engine: SIGTERM to its process group (docker stop in
// container mode), SIGKILL to the group after the grace period or when ctx
// ends, then waits until no process of the group is left and removes the
// state record. It is safe to call more than once and after a crash.
func (e *Engine) Stop(ctx context.Context) error {
	e.stopOnce.Do(func() { e.stopErr = e.stop(ctx) })
	return e.stopErr
}

func (e *Engine) stop(ctx context.Context) error {
	e.mu.Lock()
	e.stopping = true
	e.mu.Unlock()
	grace := e.cfg.GracePeriod
	if !e.cfg.ProcessMode() {
		e.stopContainer(ctx)
	} else if err := unix.Kill(-e.pgid, unix.SIGTERM); err != nil && !errors.Is(err, unix.ESRCH) {
		e.log.Warn().Err(err).Msg("engine SIGTERM")
	}
	if !e.waitGone(ctx, grace) {
		e.log.Warn().Dur("grace", grace).Msg("engine still running after its grace period: SIGKILL")
		if err := unix.Kill(-e.pgid, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("stop engine: SIGKILL group %d: %w", e.pgid, err)
		}
		if !e.waitGone(context.WithoutCancel(ctx), 10*time.Second) {
			return fmt.Errorf("stop engine: process group %d survived SIGKILL", e.pgid)
		}
	}
	if e.record != "" {
		if err := os.Remove(e.record); err != nil && !isNotExist(err) {
			return fmt.Errorf("stop engine: %w", err)
		}
	}
	if e.ownDir != "" {
		if err := os.RemoveAll(e.ownDir); err != nil {
			e.log.Warn().Err(err).Msg("remove the engine's directory")
		}
	}
	e.log.Info().Int("pid", e.pgid).Msg("engine stopped")
	return nil
}

// stopContainer asks the runtime to stop the container (SIGTERM, SIGKILL
// after the grace period), then kills and removes it if it is still there.
func (e *Engine) stopContainer(ctx context.Context) {
	ctx = context.WithoutCancel(ctx)
	rt := e.cfg.Runtime
	c, cancel := context.WithTimeout(ctx, e.cfg.GracePeriod+30*time.Second)
	defer cancel()
	if out, err := runtimeCmd(c, rt, StopArgs(e.cfg)...).CombinedOutput(); err != nil {
		e.log.Warn().Err(err).Str("output", string(out)).Msg("container stop")
	}
	select {
	case <-e.done:
		return
	case <-time.After(5 * time.Second):
	}
	for _, args := range [][]string{KillArgs(e.cfg.containerName()), RemoveArgs(e.cfg.containerName())} {
		c, cancel := context.WithTimeout(ctx, 30*time.Second)
		if out, err := runtimeCmd(c, rt, args...).CombinedOutput(); err != nil {
			e.log.Warn().Err(err).Strs("args", args).Str("output", string(out)).Msg("container cleanup")
		}
		cancel()
	}
}

// waitGone waits until the leader is reaped and no process of the group is
// left, for at most d or until ctx ends.
func (e *Engine) waitGone(ctx context.Context, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-e.done:
			if m, err := groupMembers(e.pgid); err == nil && len(m) == 0 {
				return true
			}
		default:
		}
		select {
		case <-ctx.Done():
			return false
		case <-timer.C:
			return false
		case <-tick.C:
		}
	}
}

// WaitReady polls the health endpoint until it answers 200, the ready
// timeout passes (ErrNotReady), the engine exits (ErrExited) or ctx ends.
// Failures are a *ReadyError with the last answer and the log's tail.
func (e *Engine) WaitReady(ctx context.Context) error {
	start := time.Now()
	wctx, cancel := context.WithTimeout(ctx, e.cfg.ReadyTimeout)
	defer cancel()
	client := &http.Client{
		Timeout:   2 * time.Second,
		Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
	}
	url := e.HealthURL()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	var last string
	fail := func(err error) error {
		return &ReadyError{Err: err, Waited: time.Since(start), Last: last, URL: url, LogTail: e.LogTail(4 << 10)}
	}
	for {
		if ok, answer := probeHealth(wctx, client, url); ok {
			e.log.Info().Dur("waited", time.Since(start)).Msg("engine ready")
			return nil
		} else if answer != "" {
			last = answer
		}
		select {
		case <-e.done:
			err := e.Err()
			if err == nil {
				err = ErrStopped
			}
			return fail(err)
		case <-wctx.Done():
			if ctx.Err() != nil {
				return fail(ctx.Err())
			}
			return fail(ErrNotReady)
		case <-tick.C:
		}
	}
}

// probeHealth asks url once; it returns whether it answered 200 and, if
// not, what happened.
func probeHealth(ctx context.Context, client *http.Client, url string) (bool, string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false, err.Error()
	}
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return false, ""
		}
		return false, err.Error()
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK, resp.Status
}

// FreePort returns a TCP port free on loopback at the time of the call.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// EnsureNetwork creates the runner's engine network if the runtime does not
// have it (NetworkCreateArgs).
func EnsureNetwork(ctx context.Context, runtime, name string) error {
	if err := runtimeCmd(ctx, runtime, NetworkInspectArgs(name)...).Run(); err == nil {
		return nil
	}
	out, err := runtimeCmd(ctx, runtime, NetworkCreateArgs(runtime, name)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("create engine network %s: %v: %s", name, err, out)
	}
	return nil
}

func newMark() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("engine mark: %w", err)
	}
	return hex.EncodeToString(b), nil
}
