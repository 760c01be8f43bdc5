package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
)

// record is what the state directory keeps of a running engine: enough to
// recognise its process group after the runner died, and never to kill
// anything else.
type record struct {
	Version   int      `json:"version"`
	Mode      string   `json:"mode"` // "process" or "container"
	Job       string   `json:"job"`
	PID       int      `json:"pid"`  // the group leader: the engine or the container CLI
	PGID      int      `json:"pgid"` // = PID (Setpgid)
	StartTime uint64   `json:"start_time"`
	Argv      []string `json:"argv"`
	// Mark is an environment entry only this engine's processes carry; it
	// identifies the group's members once the leader is gone.
	Mark      string `json:"mark"`
	Runtime   string `json:"runtime,omitempty"`
	Container string `json:"container,omitempty"`
	// Network is the job's own network (JobNetwork) of a role replica,
	// removed once its last container is.
	Network     string    `json:"network,omitempty"`
	RunnerPID   int       `json:"runner_pid"`
	RunnerStart uint64    `json:"runner_start_time"`
	CreatedAt   time.Time `json:"created_at"`
}

const recordVersion = 1

func recordPath(dir string, pgid int) string {
	return filepath.Join(dir, fmt.Sprintf("engine-%d.json", pgid))
}

func writeRecord(dir string, r record) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("engine state dir: %w", err)
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return "", err
	}
	path := recordPath(dir, r.PGID)
	f, err := os.CreateTemp(dir, ".engine-*.tmp")
	if err != nil {
		return "", fmt.Errorf("engine record: %w", err)
	}
	_, werr := f.Write(b)
	if err := f.Close(); werr == nil {
		werr = err
	}
	if werr == nil {
		werr = os.Rename(f.Name(), path)
	}
	if werr != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("engine record: %w", werr)
	}
	return path, nil
}

// ReapOrphans kills what engines recorded in stateDir left running after
// their runner died, and removes their records; call it when the runner
// starts. A recorded process group is killed only when it is still the
// engine's: its leader has the recorded start time and command line, or,
// the leader gone, a member carries the engine's mark in its environment.
// A container is removed by name through its runtime. Records of an engine
// whose runner is still alive (another runner sharing the directory) are
// left alone. It returns how many groups or containers it killed.
func ReapOrphans(ctx context.Context, stateDir string, log zerolog.Logger) (int, error) {
	paths, err := filepath.Glob(filepath.Join(stateDir, "engine-*.json"))
	if err != nil {
		return 0, err
	}
	reaped := 0
	var errs []error
	for _, path := range paths {
		b, err := os.ReadFile(path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var r record
		if err := json.Unmarshal(b, &r); err != nil || r.Version != recordVersion || r.PGID <= 1 {
			log.Warn().Str("record", path).Msg("removing an unreadable engine record")
			os.Remove(path)
			continue
		}
		if alive(r.RunnerPID, r.RunnerStart) {
			continue // its runner (this process, or another sharing the dir) lives: not an orphan
		}
		l := log.With().Str("job", r.Job).Int("pgid", r.PGID).Str("mode", r.Mode).Logger()
		killed, err := reapGroup(r)
		if err != nil {
			errs = append(errs, fmt.Errorf("reap engine group %d: %w", r.PGID, err))
			continue
		}
		if killed {
			reaped++
			l.Warn().Msg("killed an engine process group left by a dead runner")
		}
		if r.Mode == "container" && r.Container != "" {
			if err := removeContainer(ctx, r.Runtime, r.Container); err != nil {
				errs = append(errs, fmt.Errorf("remove container %s: %w", r.Container, err))
				continue // keep the record: try again next start
			}
			l.Info().Str("container", r.Container).Msg("removed the engine container left by a dead runner")
			if r.Network != "" {
				if err := removeJobNetwork(ctx, r.Runtime, r.Job, r.Network); err != nil {
					errs = append(errs, err)
				}
			}
			if !killed {
				reaped++
			}
		}
		if err := os.Remove(path); err != nil && !isNotExist(err) {
			errs = append(errs, err)
		}
	}
	return reaped, errors.Join(errs...)
}

// reapGroup SIGKILLs r's process group if it is still r's, and waits until
// its members are gone.
func reapGroup(r record) (bool, error) {
	if !ownsGroup(r) {
		return false, nil
	}
	if err := unix.Kill(-r.PGID, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
		return false, err
	}
	if !waitGroupGone(r.PGID, 5*time.Second) {
		return true, fmt.Errorf("process group %d survived SIGKILL", r.PGID)
	}
	return true, nil
}

// ownsGroup reports whether process group r.PGID is still r's engine.
func ownsGroup(r record) bool {
	st, err := readStat(r.PGID)
	if err == nil && st.State != 'Z' && st.State != 'X' {
		// The leader lives. A pid is not reused while its group has
		// members, so a different start time means the group is gone.
		if st.StartTime != r.StartTime || st.PGID != r.PGID {
			return false
		}
		argv, err := readCmdline(r.PGID)
		return err == nil && (slices.Equal(argv, r.Argv) || hasEnv(r.PGID, markEnv+"="+r.Mark))
	}
	members, err := groupMembers(r.PGID)
	if err != nil {
		return false
	}
	for _, pid := range members {
		if hasEnv(pid, markEnv+"="+r.Mark) {
			return true
		}
	}
	return false
}

// waitGroupGone polls until process group pgid has no live member.
func waitGroupGone(pgid int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		m, err := groupMembers(pgid)
		if err == nil && len(m) == 0 {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// removeContainer force-removes a recorded engine container; an absent
// container is not an error. The name must be one the runner gives
// (agentwatt-…): a record is the runner's own, but a name read from disk
// does not reach the runtime's command line unchecked.
func removeContainer(ctx context.Context, runtime, name string) error {
	if !containerNameRe.MatchString(name) {
		return fmt.Errorf("container name %q is not an engine container's", name)
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	out, err := runtimeCmd(ctx, runtime, RemoveArgs(name)...).CombinedOutput()
	if err != nil && !strings.Contains(strings.ToLower(string(out)), "no such container") {
		return fmt.Errorf("%v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// removeJobNetwork removes a dead runner's job network once no container
// is on it (a network with containers is left for the record of its last
// one). The name must be the job's.
func removeJobNetwork(ctx context.Context, runtime, job, name string) error {
	if !jobIDRe.MatchString(job) || name != JobNetwork(job) {
		return fmt.Errorf("network %q is not job %q's", name, job)
	}
	err := RemoveNetwork(ctx, runtime, name)
	if err != nil && strings.Contains(strings.ToLower(err.Error()), "active endpoints") {
		return nil
	}
	return err
}

var containerNameRe = regexp.MustCompile(`^agentwatt-[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}(-[a-z][a-z0-9]*-[0-9]{1,4})?$`)

// runtimeCmd runs the container runtime's CLI with runtimeEnv.
func runtimeCmd(ctx context.Context, runtime string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, runtime, args...)
	cmd.Env = runtimeEnv(os.Environ(), nil)
	return cmd
}
