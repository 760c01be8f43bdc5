package engine

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/agentwatt/agentwatt/spec"
)

// replicaConfig is a decode replica of a disaggregated engine: GPUs 4-7,
// on the job's network, unpublished.
func replicaConfig() Config {
	cfg := containerConfig()
	cfg.Replica = "decode-0"
	cfg.GPUs = []int{4, 5, 6, 7}
	cfg.Unpublished = true
	cfg.Network = JobNetwork(cfg.JobID)
	cfg.Args = []string{"--port={port}", "--dist-init-addr={leader_addr}", "--nnodes={nnodes}", "--node-rank={rank}"}
	return cfg
}

// TestReplicaContainerArgs: a role replica gets its own GPUs, its own
// container name and alias on the job's network, its port unpublished
// (the runner drives the frontend only), and every placeholder filled.
func TestReplicaContainerArgs(t *testing.T) {
	cfg := replicaConfig()
	args, err := ContainerArgs(cfg)
	if err != nil {
		t.Fatal(err)
	}
	img := slices.Index(args, cfg.Image)
	flags, tail := args[:img], args[img+1:]
	want := []string{"--port=41234", "--dist-init-addr=127.0.0.1:29500", "--nnodes=1", "--node-rank=0"}
	if !slices.Equal(tail, want) {
		t.Errorf("engine args = %q, want %q", tail, want)
	}
	single := []struct{ flag, want string }{
		{"--name", "agentwatt-" + cfg.JobID + "-decode-0"},
		{"--gpus", `"device=4,5,6,7"`},
		{"--network", "agentwatt-job-" + cfg.JobID},
		{"--network-alias", "decode-0"},
		{"--label", LabelJob + "=" + cfg.JobID},
		{"--user", ContainerUser},
	}
	for _, s := range single {
		if got := flagValues(flags, s.flag); len(got) != 1 || got[0] != s.want {
			t.Errorf("%s = %q, want exactly [%s]", s.flag, got, s.want)
		}
	}
	if slices.Contains(flags, "--publish") {
		t.Errorf("a worker's port is published on the host: %q", flags)
	}
	for _, f := range flags {
		if strings.HasPrefix(f, "-") && !slices.Contains(allowedFlags, f) {
			t.Errorf("unexpected flag %s in %q", f, flags)
		}
	}

	// The frontend: published, on CPUs only (NoGPUs: no --gpus at all,
	// where nil GPUs would pass all of them).
	front := replicaConfig()
	front.Replica, front.GPUs, front.Unpublished, front.NoGPUs = "frontend-0", nil, false, true
	fargs, err := ContainerArgs(front)
	if err != nil {
		t.Fatal(err)
	}
	if got := flagValues(fargs, "--publish"); !slices.Equal(got, []string{"127.0.0.1:41234:41234"}) {
		t.Errorf("frontend --publish = %q", got)
	}
	if slices.Contains(fargs, "--gpus") || slices.Contains(fargs, "--device") {
		t.Errorf("the frontend (CPUs only) got GPUs: %q", fargs)
	}

	// A part of a replica that spans hosts.
	part := replicaConfig()
	part.Rank, part.NNodes, part.LeaderAddr = 3, 12, "10.0.0.1:29500"
	pargs, err := ContainerArgs(part)
	if err != nil {
		t.Fatal(err)
	}
	if got := pargs[len(pargs)-3:]; !slices.Equal(got, []string{"--dist-init-addr=10.0.0.1:29500", "--nnodes=12", "--node-rank=3"}) {
		t.Errorf("part args = %q", got)
	}

	// podman names each device through CDI.
	pod := replicaConfig()
	pod.Runtime = "podman"
	podArgs, err := ContainerArgs(pod)
	if err != nil {
		t.Fatal(err)
	}
	if got := flagValues(podArgs, "--device"); !slices.Equal(got, []string{"nvidia.com/gpu=4", "nvidia.com/gpu=5", "nvidia.com/gpu=6", "nvidia.com/gpu=7"}) {
		t.Errorf("podman devices = %q", got)
	}
}

// The placeholders are filled in one pass: a value that itself looks like
// a placeholder is not filled again.
func TestPlaceholdersOnePass(t *testing.T) {
	cfg := replicaConfig()
	cfg.Args = []string{"{port}{rank}", "{{port}}", "{host}"}
	got := cfg.args()
	if want := []string{"412340", "{41234}", "{host}"}; !slices.Equal(got, want) {
		t.Errorf("args = %q, want %q", got, want)
	}
	for _, p := range spec.Placeholders {
		if c := (Config{Args: []string{p}, Port: 1}); c.args()[0] == p {
			t.Errorf("the spec's placeholder %s is not filled", p)
		}
	}
}

func TestReplicaValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"replica name a flag", func(c *Config) { c.Replica = "--privileged" }, "replica"},
		{"replica name path", func(c *Config) { c.Replica = "../x-0" }, "replica"},
		{"gpu negative", func(c *Config) { c.GPUs = []int{-1} }, "gpus"},
		{"gpu twice", func(c *Config) { c.GPUs = []int{1, 1} }, "gpus"},
		{"gpus empty", func(c *Config) { c.GPUs = []int{} }, "gpus"},
		{"gpus and none", func(c *Config) { c.NoGPUs = true }, "gpus"},
		{"rank beyond nodes", func(c *Config) { c.Rank, c.NNodes = 2, 2 }, "rank"},
		{"leader with a flag", func(c *Config) { c.LeaderAddr = "-x:1" }, "leader"},
		{"leader with spaces", func(c *Config) { c.LeaderAddr = "a b:1" }, "leader"},
		{"process mode replica", func(c *Config) { c.Image, c.Command = "", []string{"sim"} }, "containers"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := replicaConfig()
			tc.mutate(&cfg)
			_, err := ContainerArgs(cfg)
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrInvalidConfig about %q", err, tc.want)
			}
		})
	}
}

func TestFromRole(t *testing.T) {
	e := spec.Engine{
		Image: "a/b@" + testDigest, Env: map[string]string{"A": "1"}, HealthPath: "/health",
		Roles: []spec.Role{{Name: spec.RoleDecode, Replicas: 1, GPUsPerReplica: 4, Args: []string{"--x"}, Env: map[string]string{"B": "2"}}},
	}
	cfg := FromRole(e, e.Roles[0])
	if cfg.Image != e.Image || !slices.Equal(cfg.Args, []string{"--x"}) || cfg.Env["A"] != "1" || cfg.Env["B"] != "2" {
		t.Errorf("FromRole = %+v", cfg)
	}
	e.Roles[0].Image = "c/d@" + testDigest
	if cfg := FromRole(e, e.Roles[0]); cfg.Image != "c/d@"+testDigest {
		t.Errorf("a role's own image: %q", cfg.Image)
	}
}
