package agentrunner

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/agentrunner/engine"
	"github.com/agentwatt/agentwatt/spec"
)

func exampleSpec(t *testing.T, name string) *spec.Submission {
	t.Helper()
	s, err := spec.ParseFile("../examples/submissions/" + name + ".yaml")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestPreflightPlacement: a disaggregated engine on one node runs when its
// roles fit the node's GPUs; what spans hosts is refused with the reason,
// and an external deployment only on a runner pointed at one.
func TestPreflightPlacement(t *testing.T) {
	b300 := Config{Pool: "b300x8", Accelerator: "b300", GPUs: 8}
	tests := []struct {
		name string
		cfg  Config
		sub  func(t *testing.T) *spec.Submission
		want string // "" accepted; else in the error
	}{
		{"single-node disaggregated roles", b300, func(t *testing.T) *spec.Submission { return exampleSpec(t, "b300x8-disagg-sglang") }, ""},
		{"single container", b300, func(t *testing.T) *spec.Submission { return exampleSpec(t, "b300x8-sglang-spec") }, ""},
		{"disaggregation without roles", b300, func(t *testing.T) *spec.Submission {
			s := exampleSpec(t, "b300x8-sglang-spec")
			s.System.Disaggregation = &spec.Disaggregation{PrefillWorkers: 2, DecodeWorkers: 6}
			return s
		}, ""},
		{"more declared workers than GPUs", b300, func(t *testing.T) *spec.Submission {
			s := exampleSpec(t, "b300x8-sglang-spec")
			s.System.Disaggregation = &spec.Disaggregation{PrefillWorkers: 4, DecodeWorkers: 5}
			return s
		}, "4 prefill and 5 decode workers, more than this node's 8 GPUs"},
		{"rack-scale", Config{Pool: "gb300x72", Accelerator: "gb300", GPUs: 72}, func(t *testing.T) *spec.Submission { return exampleSpec(t, "gb300-nvl72-dynamo") },
			"system.topology rack-scale: this runner is one node; multi-node and rack-scale jobs run on a runner group"},
		{"sim rack, single sim runner", Config{Pool: spec.Sim, Accelerator: spec.Sim}, func(t *testing.T) *spec.Submission { return exampleSpec(t, "sim-rack") },
			"system.topology rack-scale: this runner is one node"},
		{"sim rack, its group", simRack(), func(t *testing.T) *spec.Submission { return exampleSpec(t, "sim-rack") }, ""},
		{"sim rack of another profile", simRack(), func(t *testing.T) *spec.Submission {
			s := exampleSpec(t, "sim-rack")
			s.Engine.SimProfile = "tiny-rack"
			s.System.Accelerators = 72
			return s
		}, "engine.sim_profile tiny-rack, runner group rack is a sim rack of profile gb300-nvl72-like"},
		{"sim rack, disaggregated otherwise than its profile", simRack(), func(t *testing.T) *spec.Submission {
			s := exampleSpec(t, "sim-rack")
			s.System.Disaggregation = &spec.Disaggregation{PrefillWorkers: 2, DecodeWorkers: 2}
			return s
		}, "sim profile gb300-nvl72-like has 1 prefill and 3 decode members"},
		{"hardware rack, sim group", simRack(), func(t *testing.T) *spec.Submission { return exampleSpec(t, "gb300-nvl72-dynamo") },
			"the job's pool is gb300x72, runner group rack's simx72"},
		{"hardware rack, hardware group", Config{Pool: "gb300x72", Accelerator: "gb300", Group: &GroupConfig{Name: "rack"}},
			func(t *testing.T) *spec.Submission { return exampleSpec(t, "gb300-nvl72-dynamo") },
			"members launch only sim rack nodes so far"},
		{"roles beyond the node's GPUs", b300, func(t *testing.T) *spec.Submission {
			s := exampleSpec(t, "b300x8-disagg-sglang")
			s.Engine.Roles[2].GPUsPerReplica = 12 // a job record the spec's checks would refuse too
			return s
		}, "engine.roles hold 16 GPUs, this node has 8"},
		{"external job, launching runner", b300, func(t *testing.T) *spec.Submission {
			s := exampleSpec(t, "b300x8-disagg-sglang")
			s.Engine.Deployment = spec.DeploymentExternal
			return s
		}, "an external deployment is driven by a runner its operator points at it (--external-endpoint)"},
		{"launched job, external runner", withExternal(b300), func(t *testing.T) *spec.Submission { return exampleSpec(t, "b300x8-disagg-sglang") },
			"this runner drives the external deployment at its --external-endpoint and launches nothing"},
		{"external job, external runner", withExternal(b300), func(t *testing.T) *spec.Submission {
			s := exampleSpec(t, "b300x8-disagg-sglang")
			s.Engine.Deployment = spec.DeploymentExternal
			return s
		}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &Runner{cfg: tc.cfg}
			r.cfg.BusyGPUs = func() []string {
				if tc.name == "external job, external runner" {
					return []string{"pid 1 (the operator's engine)"}
				}
				return nil
			}
			err := r.preflight(tc.sub(t))
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrPreflight) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want a preflight refusal with %q", err, tc.want)
			}
		})
	}
}

func simRack() Config {
	return Config{Pool: "simx72", Accelerator: spec.Sim, Group: &GroupConfig{Name: "rack", SimRackProfile: "gb300-nvl72-like", GPUs: 18}}
}

func withExternal(c Config) Config {
	c.ExternalEndpoint = "http://10.1.2.3:8000"
	return c
}

// TestDecodeSpecRoles: the job record's canonical JSON of a submission with
// roles decodes strictly; a field for an endpoint URL (a job choosing what
// the runner dials) is not a field the runner reads: the job is refused.
func TestDecodeSpecRoles(t *testing.T) {
	s := exampleSpec(t, "b300x8-disagg-sglang")
	c, err := s.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeSpec(c)
	if err != nil {
		t.Fatal(err)
	}
	if got.Digest() != s.Digest() || len(got.Engine.Roles) != 3 {
		t.Errorf("decoded %+v", got.Engine)
	}
	bad := strings.Replace(string(c), `"engine":{`, `"engine":{"deployment":"external","endpoint":"http://169.254.169.254/latest/meta-data/",`, 1)
	if _, err := decodeSpec([]byte(bad)); !errors.Is(err, ErrPreflight) || !strings.Contains(err.Error(), "endpoint") {
		t.Errorf("a job naming its endpoint: %v", err)
	}
}

// TestRoleConfigs: one container per replica, GPUs in role order from
// device 0 and none shared, the frontend last on CPUs and published, the
// workers unpublished on the job's network.
func TestRoleConfigs(t *testing.T) {
	s := exampleSpec(t, "b300x8-disagg-sglang")
	base := engine.Config{JobID: "0123456789abcdef0123456789abcdef", Port: 40001, LogPath: "/w/engine.log", StateDir: "/w/engines",
		Secrets: map[string]string{"HF_TOKEN": "x"}}
	cfgs, err := roleConfigs(s.Engine, base)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	var gpus [][]int
	for _, c := range cfgs {
		names = append(names, c.Replica)
		gpus = append(gpus, c.GPUs)
		if c.Network != engine.JobNetwork(base.JobID) || c.Port != base.Port || c.Secrets["HF_TOKEN"] != "x" || c.StateDir != base.StateDir {
			t.Errorf("%s: %+v", c.Replica, c)
		}
		if _, err := engine.ContainerArgs(c); err != nil {
			t.Errorf("%s: %v", c.Replica, err)
		}
	}
	if want := []string{"prefill-0", "prefill-1", "decode-0", "frontend-0"}; !slices.Equal(names, want) {
		t.Errorf("replicas %v, want %v", names, want)
	}
	if want := [][]int{{0, 1}, {2, 3}, {4, 5, 6, 7}, nil}; !slices.EqualFunc(gpus, want, slices.Equal[[]int]) {
		t.Errorf("gpus %v, want %v", gpus, want)
	}
	front := cfgs[len(cfgs)-1]
	if !front.NoGPUs || front.Unpublished || cfgs[0].NoGPUs || !cfgs[0].Unpublished {
		t.Errorf("frontend %+v, first worker %+v", front, cfgs[0])
	}
	args, _ := engine.ContainerArgs(cfgs[2])
	if !slices.Contains(args, "--dist-init-addr=decode-0:29500") || !slices.Contains(args, "--node-rank=0") || !slices.Contains(args, "--nnodes=1") {
		t.Errorf("decode args %q", args)
	}
}

func TestValidateExternalEndpoint(t *testing.T) {
	for _, ok := range []string{"", "http://10.0.0.5:8000", "https://dynamo.rack-1.internal", "http://[::1]:8000/"} {
		if err := validateExternalEndpoint(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"10.0.0.5:8000", "file:///etc/passwd", "http://", "http://u:p@host", "http://h/v1/chat", "http://h?x=1", "unix:///run/x.sock"} {
		if err := validateExternalEndpoint(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestAttachExternal: an external deployment's launch starts nothing and
// waits for the endpoint's health path; an endpoint that never answers
// fails the launch.
func TestAttachExternal(t *testing.T) {
	healthy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" {
			http.NotFound(w, r)
		}
	}))
	defer healthy.Close()
	sick := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }))
	defer sick.Close()
	s := exampleSpec(t, "b300x8-disagg-sglang")
	s.Engine.Deployment = spec.DeploymentExternal
	for _, tc := range []struct {
		url string
		ok  bool
	}{{healthy.URL, true}, {sick.URL + "/", false}} {
		jr := &jobRun{r: &Runner{cfg: Config{ExternalEndpoint: tc.url}}, log: zerolog.Nop()}
		sub := *s
		sub.Engine.ReadyTimeout = spec.D(time.Second)
		e, err := jr.launch(context.Background(), &jobSpec{sub: sub})
		if (err == nil) != tc.ok {
			t.Fatalf("%s: launch = %v, want ok %v", tc.url, err, tc.ok)
		}
		if e == nil || e.eng != nil || len(e.workers) > 0 || e.url() != strings.TrimRight(tc.url, "/") || e.done() != nil || e.ended() != nil {
			t.Fatalf("external engine %+v", e)
		}
		e.stop(time.Second, zerolog.Nop()) // nothing to stop
	}
}

// TestJobEngineReplicas: a worker that ends mid-run is the job's engine
// ending (done closes, ended names it), and stop ends every replica.
func TestJobEngineReplicas(t *testing.T) {
	start := func(name string, command ...string) *engine.Engine {
		t.Helper()
		cfg := engine.Config{JobID: "j" + name, Command: command, HealthPath: "/health", ReadyTimeout: time.Second,
			Port: 1, LogPath: t.TempDir() + "/engine.log", GracePeriod: time.Second}
		eng, err := engine.Start(context.Background(), cfg, zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		return eng
	}
	e := &jobEngine{
		eng:     start("front", "sleep", "60"),
		workers: []*engine.Engine{start("prefill", "sleep", "60"), start("decode", "sh", "-c", "sleep 0.2; exit 3")},
	}
	defer e.stop(time.Second, zerolog.Nop())
	select {
	case <-e.done():
	case <-time.After(30 * time.Second):
		t.Fatal("a worker's exit did not end the engine")
	}
	if err := e.ended(); !errors.Is(err, errEngineEnded) {
		t.Errorf("ended() = %v, want the worker's exit", err)
	}
	e.stop(time.Second, zerolog.Nop())
	for _, eng := range append([]*engine.Engine{e.eng}, e.workers...) {
		select {
		case <-eng.Done():
		default:
			t.Errorf("engine %d still runs after stop", eng.PID())
		}
	}
}

// TestWaitReadyWorkerExits: a worker that exits while the frontend is not
// yet healthy fails the launch at once, not at the ready timeout.
func TestWaitReadyWorkerExits(t *testing.T) {
	start := func(name string, command ...string) *engine.Engine {
		t.Helper()
		cfg := engine.Config{JobID: "w" + name, Command: command, HealthPath: "/health", ReadyTimeout: time.Minute,
			Port: 1, LogPath: t.TempDir() + "/engine.log", GracePeriod: time.Second}
		eng, err := engine.Start(context.Background(), cfg, zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		return eng
	}
	e := &jobEngine{eng: start("front", "sleep", "60"), workers: []*engine.Engine{start("decode", "sh", "-c", "exit 3")}}
	defer e.stop(time.Second, zerolog.Nop())
	began := time.Now()
	err := e.waitReady(context.Background())
	if !errors.Is(err, errEngineEnded) {
		t.Fatalf("waitReady = %v, want the worker's exit", err)
	}
	if time.Since(began) > 50*time.Second {
		t.Errorf("waited out the ready timeout")
	}
}
