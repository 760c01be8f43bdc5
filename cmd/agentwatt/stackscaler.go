package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/agentwatt/agentwatt/scaler"
	"github.com/agentwatt/agentwatt/spec"
)

// stackScaler is `agentwatt local --autoscale`: the scaler with runner
// processes (`agentwatt runner --once --pool sim`) as the sim pool's
// capacity, in place of the stack's one fixed runner.
type stackScaler struct {
	sc    *scaler.Scaler
	procs *scaler.Processes
}

// autoscaleConfig is what `local --autoscale` sets.
type autoscaleConfig struct {
	Max      int           // the most runner processes at once
	Cooldown time.Duration // demand below capacity this long before an idle runner is stopped
}

// newStackScaler builds the stack's scaler. Each runner it starts gets a
// fresh key in DIR/autoscale/<id>/, enrolled for pool sim by the stack
// (which is its own operator, as for its fixed runner), and reaches the
// stack through the environment ('agentwatt local”s env file's variables),
// not its command line, where other users could read the S3 secret.
func newStackScaler(s *localStack, ac autoscaleConfig) (*stackScaler, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	access, secret := s.s3.Credentials()
	env := append(os.Environ(),
		"AGENTWATT_NATS="+s.nats.ClientURL(), "AGENTWATT_NATS_CREDS=",
		"AGENTWATT_S3_ENDPOINT="+s.s3.Endpoint(), "AGENTWATT_S3_BUCKET="+s.cfg.Bucket,
		"AGENTWATT_S3_ACCESS_KEY="+access, "AGENTWATT_S3_SECRET_KEY="+secret, "AGENTWATT_S3_REGION=")
	log := s.log.With().Str("component", "scaler").Logger()
	procs, err := scaler.NewProcesses(scaler.ProcessConfig{
		Pool: spec.Sim, Dir: filepath.Join(s.cfg.Dir, "autoscale"), Grace: 15 * time.Second, Log: log,
		Command: func(id, work string) *exec.Cmd { return autoscaledRunner(self, id, work, s.cfg.RunnerFixedAgents, env) },
		Enrol: func(ctx context.Context, id string, pub ed25519.PublicKey) error {
			return s.fleet.TrustKey(ctx, id, pub, "agentwatt local --autoscale", []string{spec.Sim})
		},
	})
	if err != nil {
		return nil, err
	}
	sc, err := scaler.New(scaler.Config{
		Queue: s.queue, Runners: s.fleet, Interval: 2 * time.Second, Cooldown: ac.Cooldown,
		Pools:   []scaler.Pool{{Name: spec.Sim, Max: ac.Max, Backend: procs}},
		Metrics: s.metrics, Log: log,
	})
	if err != nil {
		return nil, err
	}
	return &stackScaler{sc: sc, procs: procs}, nil
}

// autoscaledRunner is the command line of one runner process: its settings
// and secrets in env, never in its arguments (other users see those).
func autoscaledRunner(self, id, work string, fixedAgents int, env []string) *exec.Cmd {
	cmd := exec.Command(self, "runner", "--once", "--idle-exit", "5m", "--pool", spec.Sim,
		"--id", id, "--instance", id, "--work-dir", work, "--key", filepath.Join(work, "runner.key"),
		"--idle-baseline", "2s", "--grace-period", "10s", "--fixed-agents", strconv.Itoa(fixedAgents))
	cmd.Env = env
	return cmd
}

// Run scales until ctx ends, then stops every runner process (one with a
// job releases it to the queue) while the stack's NATS still runs.
func (x *stackScaler) Run(ctx context.Context) error {
	err := x.sc.Run(ctx)
	x.procs.Close()
	return err
}

func (ac autoscaleConfig) validate() error {
	if ac.Max < 1 {
		return fmt.Errorf("--autoscale-max %d: want at least 1", ac.Max)
	}
	if ac.Cooldown <= 0 {
		return fmt.Errorf("--autoscale-cooldown %s: want a positive duration", ac.Cooldown)
	}
	return nil
}
