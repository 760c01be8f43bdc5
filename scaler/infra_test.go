package scaler

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/agentwatt/agentwatt/queue"
)

// scaledJob is the part of a KEDA ScaledJob the test checks.
type scaledJob struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Spec struct {
		Triggers []struct {
			Type     string            `yaml:"type"`
			Metadata map[string]string `yaml:"metadata"`
		} `yaml:"triggers"`
		JobTargetRef struct {
			Template struct {
				Spec struct {
					NodeSelector map[string]string `yaml:"nodeSelector"`
					Containers   []struct {
						Name      string   `yaml:"name"`
						Args      []string `yaml:"args"`
						Resources struct {
							Limits map[string]any `yaml:"limits"`
						} `yaml:"resources"`
					} `yaml:"containers"`
				} `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"jobTargetRef"`
	} `yaml:"spec"`
}

// TestKEDAManifests: every ScaledJob in infra/k8s triggers on the queue's
// jobs stream and the pool consumer of the pool its runner takes jobs
// from, runs the runner --once, and asks for GPU nodes.
func TestKEDAManifests(t *testing.T) {
	files, err := filepath.Glob("../infra/k8s/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	jobs := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range bytes.Split(data, []byte("\n---\n")) {
			var sj scaledJob
			if err := yaml.Unmarshal(doc, &sj); err != nil {
				t.Fatalf("%s document %d: %v", f, i, err)
			}
			if sj.Kind != "ScaledJob" {
				continue
			}
			jobs++
			spec := sj.Spec.JobTargetRef.Template.Spec
			if len(spec.Containers) != 1 {
				t.Fatalf("%s: %d containers, want the runner", f, len(spec.Containers))
			}
			args := spec.Containers[0].Args
			i := slices.Index(args, "--pool")
			if i < 0 || i+1 >= len(args) || !queue.ValidPool(args[i+1]) {
				t.Fatalf("%s: runner args %v name no valid --pool", f, args)
			}
			pool := args[i+1]
			if args[0] != "runner" || !slices.Contains(args, "--once") || !slices.Contains(args, "--enrol-token-file") {
				t.Errorf("%s: args %v, want runner --once with an enrolment token", f, args)
			}
			if len(sj.Spec.Triggers) != 1 {
				t.Fatalf("%s: %d triggers", f, len(sj.Spec.Triggers))
			}
			tr := sj.Spec.Triggers[0]
			if tr.Type != "nats-jetstream" || tr.Metadata["stream"] != queue.StreamJobs ||
				tr.Metadata["consumer"] != queue.PoolConsumerPrefix+pool || tr.Metadata["lagThreshold"] != "1" ||
				tr.Metadata["natsServerMonitoringEndpoint"] == "" {
				t.Errorf("%s: trigger %+v, want nats-jetstream on %s/%s%s, lagThreshold 1", f, tr, queue.StreamJobs, queue.PoolConsumerPrefix, pool)
			}
			if spec.NodeSelector["nvidia.com/gpu.product"] == "" {
				t.Errorf("%s: no nvidia.com/gpu.product node selector", f)
			}
			if _, ok := spec.Containers[0].Resources.Limits["nvidia.com/gpu"]; !ok {
				t.Errorf("%s: no nvidia.com/gpu limit", f)
			}
			if !strings.HasSuffix(sj.Metadata.Name, "-"+pool) {
				t.Errorf("%s: ScaledJob %s is not named for pool %s", f, sj.Metadata.Name, pool)
			}
		}
	}
	if jobs == 0 {
		t.Fatal("no ScaledJob in infra/k8s")
	}
}

// TestAWSInfra: the example scaler config parses, and the user-data
// script is valid bash that starts an ephemeral, enrolling runner.
func TestAWSInfra(t *testing.T) {
	data, err := os.ReadFile("../infra/aws/scaler.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := ParseFile("infra/aws/scaler.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Pools {
		if p.Backend != BackendAWS || p.Group != "agentwatt-"+p.Name {
			t.Errorf("pool %+v: want the aws group agentwatt-%s", p, p.Name)
		}
	}
	script, err := os.ReadFile("../infra/aws/user-data.sh")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"agentwatt runner", "--idle-exit", "--enrol-token-file", "--instance", "--should-decrement-desired-capacity"} {
		if !bytes.Contains(script, []byte(want)) {
			t.Errorf("user-data.sh lacks %q", want)
		}
	}
	if bash, err := exec.LookPath("bash"); err == nil {
		if out, err := exec.Command(bash, "-n", "../infra/aws/user-data.sh").CombinedOutput(); err != nil {
			t.Errorf("bash -n user-data.sh: %v\n%s", err, out)
		}
	}
}
