package scaler

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/bundle"
)

// ProcessConfig configures Processes.
type ProcessConfig struct {
	// Pool names the runners (autoscale-<pool>-…).
	Pool string
	// Dir holds each runner's work dir, Dir/<runner id>, with its key and
	// its log (runner.log).
	Dir string
	// Command is the command line of one runner: `agentwatt runner --once
	// --pool sim --id ID --instance ID --work-dir WORK --key WORK/runner.key`
	// and whatever reaches the stack. Its environment is the caller's to set.
	Command func(id, work string) *exec.Cmd
	// Enrol trusts a runner's key under its id before the runner starts:
	// the local stack is its own operator.
	Enrol func(ctx context.Context, id string, pub ed25519.PublicKey) error
	// Grace bounds a runner's stop on Close before it is killed (default 30s).
	Grace time.Duration
	Log   zerolog.Logger
}

// Processes is a pool's capacity as runner processes on this machine: the
// back-end of `agentwatt local --autoscale` and of the end-to-end test.
// Each runner is an instance whose id is the runner's id. A scale-in
// sends SIGTERM to unprotected runners (between jobs a runner exits at
// once); a --once runner also leaves by itself after its job.
type Processes struct {
	cfg    ProcessConfig
	prefix string

	mu    sync.Mutex
	seq   int
	procs map[string]*proc // live, not asked to stop
	wg    sync.WaitGroup
	all   map[string]*proc // live, stopping ones included
	// exits counts the runners that ended, by exit status (0: clean).
	exits map[int]int
}

type proc struct {
	cmd       *exec.Cmd
	protected bool
	done      chan struct{}
}

var _ Backend = (*Processes)(nil)

// NewProcesses checks cfg and returns a back-end with no runner.
func NewProcesses(cfg ProcessConfig) (*Processes, error) {
	if cfg.Pool == "" || cfg.Dir == "" || cfg.Command == nil || cfg.Enrol == nil {
		return nil, fmt.Errorf("%w: Pool, Dir, Command and Enrol are required", ErrInvalidConfig)
	}
	if cfg.Grace <= 0 {
		cfg.Grace = 30 * time.Second
	}
	var b [3]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	return &Processes{cfg: cfg, prefix: "autoscale-" + cfg.Pool + "-" + hex.EncodeToString(b[:]),
		procs: map[string]*proc{}, all: map[string]*proc{}, exits: map[int]int{}}, nil
}

// Describe counts the live runners.
func (p *Processes) Describe(context.Context) (Group, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	g := Group{Desired: len(p.procs)}
	for id, pr := range p.procs {
		g.Instances = append(g.Instances, Instance{ID: id, Protected: pr.protected})
	}
	sort.Slice(g.Instances, func(i, j int) bool { return g.Instances[i].ID < g.Instances[j].ID })
	return g, nil
}

// SetDesired starts runners up to n, or stops unprotected ones down to n.
func (p *Processes) SetDesired(ctx context.Context, n int) error {
	p.mu.Lock()
	live := len(p.procs)
	var idle []string
	for id, pr := range p.procs {
		if !pr.protected {
			idle = append(idle, id)
		}
	}
	p.mu.Unlock()
	for i := live; i < n; i++ {
		if err := p.start(ctx); err != nil {
			return err
		}
	}
	sort.Strings(idle)
	for i := 0; i < live-n && i < len(idle); i++ {
		p.stop(idle[i])
	}
	return nil
}

// Protect marks runners that a scale-in must not stop.
func (p *Processes) Protect(_ context.Context, ids []string, protected bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, id := range ids {
		if pr, ok := p.procs[id]; ok {
			pr.protected = protected
		}
	}
	return nil
}

// start enrols a fresh key and starts one runner.
func (p *Processes) start(ctx context.Context) error {
	p.mu.Lock()
	p.seq++
	id := fmt.Sprintf("%s-%d", p.prefix, p.seq)
	p.mu.Unlock()
	work := filepath.Join(p.cfg.Dir, id)
	if err := os.MkdirAll(work, 0o700); err != nil {
		return err
	}
	key, err := bundle.LoadOrCreateKey(filepath.Join(work, "runner.key"))
	if err != nil {
		return fmt.Errorf("runner %s key: %w", id, err)
	}
	if err := p.cfg.Enrol(ctx, id, key.Public().(ed25519.PublicKey)); err != nil {
		return fmt.Errorf("enrol runner %s: %w", id, err)
	}
	logf, err := os.OpenFile(filepath.Join(work, "runner.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := p.cfg.Command(id, work)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start runner %s: %w", id, err)
	}
	pr := &proc{cmd: cmd, done: make(chan struct{})}
	p.mu.Lock()
	p.procs[id], p.all[id] = pr, pr
	p.mu.Unlock()
	p.cfg.Log.Info().Str("runner", id).Int("pid", cmd.Process.Pid).Msg("started runner process")
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		err := cmd.Wait()
		logf.Close()
		close(pr.done)
		p.mu.Lock()
		delete(p.procs, id)
		delete(p.all, id)
		p.exits[cmd.ProcessState.ExitCode()]++
		p.mu.Unlock()
		l := p.cfg.Log.Info().Str("runner", id)
		if err != nil {
			l = p.cfg.Log.Warn().Str("runner", id).Err(err).Str("log", filepath.Join(work, "runner.log"))
		}
		l.Msg("runner process exited")
		if err == nil && spoolEmpty(work) {
			_ = os.RemoveAll(work) // nothing left to upload; its key goes with it
		}
	}()
	return nil
}

// stop asks one runner to stop (SIGTERM); it is no longer counted.
func (p *Processes) stop(id string) {
	p.mu.Lock()
	pr, ok := p.procs[id]
	delete(p.procs, id)
	p.mu.Unlock()
	if !ok {
		return
	}
	p.cfg.Log.Info().Str("runner", id).Msg("stopping idle runner process")
	_ = pr.cmd.Process.Signal(syscall.SIGTERM)
}

// Close stops every runner: SIGTERM (a job's runner releases it), then
// SIGKILL after Grace.
func (p *Processes) Close() {
	p.mu.Lock()
	all := make(map[string]*proc, len(p.all))
	for id, pr := range p.all {
		all[id] = pr
	}
	p.procs = map[string]*proc{}
	p.mu.Unlock()
	for _, pr := range all {
		_ = pr.cmd.Process.Signal(syscall.SIGTERM)
	}
	grace, cancel := context.WithTimeout(context.Background(), p.cfg.Grace)
	defer cancel()
	for _, pr := range all {
		select {
		case <-pr.done:
		case <-grace.Done():
			_ = pr.cmd.Process.Kill()
		}
	}
	p.wg.Wait()
}

// Live is the number of runner processes alive, stopping ones included.
func (p *Processes) Live() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.all)
}

// Exits counts the runner processes that have ended, by exit status (-1:
// killed by a signal).
func (p *Processes) Exits() map[int]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[int]int, len(p.exits))
	for k, v := range p.exits {
		out[k] = v
	}
	return out
}

// spoolEmpty reports whether a runner's work dir holds no spooled bundle.
func spoolEmpty(work string) bool {
	ents, err := os.ReadDir(filepath.Join(work, "spool", "runs"))
	return errors.Is(err, os.ErrNotExist) || (err == nil && len(ents) == 0)
}
