package agentrunner

import (
	"crypto/ed25519"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agentwatt/agentwatt/agentrunner/cpuset"
	"github.com/agentwatt/agentwatt/agentrunner/engine"
	"github.com/agentwatt/agentwatt/fleet"
	"github.com/agentwatt/agentwatt/queue"
	"github.com/agentwatt/agentwatt/spec"
	"github.com/agentwatt/agentwatt/workload"
)

// twoCPUs names two CPUs this process may run on, or skips.
func twoCPUs(t *testing.T) (string, string) {
	t.Helper()
	list, err := cpuset.Allowed()
	if err != nil {
		t.Skip(err)
	}
	var cpus []string
	for part := range strings.SplitSeq(list, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, _ := strconv.Atoi(lo)
		b := a
		if isRange {
			b, _ = strconv.Atoi(hi)
		}
		for c := a; c <= b && len(cpus) < 2; c++ {
			cpus = append(cpus, strconv.Itoa(c))
		}
	}
	if len(cpus) < 2 {
		t.Skipf("this process may run on CPUs %s only", list)
	}
	return cpus[0], cpus[1]
}

// TestConfigCPUs: the client CPUs must be CPUs the runner may use and apart
// from the engine's.
func TestConfigCPUs(t *testing.T) {
	a, b := twoCPUs(t)
	tests := []struct {
		name           string
		client, engine string
		want           string // "" valid, else a part of the error
	}{
		{"unset", "", "", ""},
		{"engine only", "", b, ""},
		{"client only", a, "", ""},
		{"apart", a, b, ""},
		{"overlap", a + "," + b, b, "share " + b},
		{"not a CPU list", "one", b, "not a CPU number"},
		{"a CPU the runner may not use", "1023", "", "not in"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{
				ID: "r", Pool: spec.Sim, WorkDir: t.TempDir(), Key: make(ed25519.PrivateKey, ed25519.PrivateKeySize),
				Queue: &queue.Queue{}, Fleet: &fleet.Fleet{}, Store: unusedStore{}, Workloads: &workload.Registry{},
				ClientCPUs: tt.client, EngineCPUs: tt.engine,
			}
			err := cfg.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tt.want != "" && (!errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Validate() = %v, want ErrInvalidConfig saying %q", err, tt.want)
			}
		})
	}
}

// unusedStore satisfies Config.Store for Validate, which never calls it.
type unusedStore struct{ ObjectStore }

var _ ObjectStore = unusedStore{}

// TestConfigDefaults: Validate changes nothing; New fills the defaults from
// the zero value.
func TestConfigDefaults(t *testing.T) {
	cfg := Config{
		ID: "r", Pool: spec.Sim, WorkDir: t.TempDir(), Key: make(ed25519.PrivateKey, ed25519.PrivateKeySize),
		Queue: &queue.Queue{}, Fleet: &fleet.Fleet{}, Store: unusedStore{}, Workloads: &workload.Registry{},
	}
	before := cfg
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg, before) {
		t.Errorf("Validate changed the config: %+v, was %+v", cfg, before)
	}
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	got := r.cfg
	if got.Accelerator != spec.Sim || got.IdleBaseline != 5*time.Second || got.GracePeriod != engine.DefaultGracePeriod ||
		got.Seed != 1 || got.UploadWait != 30*time.Second || got.Version != "dev" || got.Metrics == nil || got.Self == "" {
		t.Errorf("New's defaults: %+v", got)
	}
}
