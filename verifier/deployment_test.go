package verifier_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/verifier"
)

// deploymentJobs is jobs whose record's spec has engine.deployment.
type deploymentJobs struct{ deployment string }

func (j deploymentJobs) Get(ctx context.Context, id string) (*verifier.Job, error) {
	job, _ := jobs{attempt: 1}.Get(ctx, id)
	job.Spec = []byte(`{"benchmark":{"rules":"v1","profile":"test"},"engine":{"deployment":"` + j.deployment + `"}}`)
	return job, nil
}

// withDeployment derives a bundle, re-signed by its runner's key, whose
// environment.json records deployment (none when "").
func withDeployment(t *testing.T, deployment string) string {
	t.Helper()
	b := goodBundle(t)
	if deployment == "" {
		return b.Dir
	}
	dir := filepath.Join(t.TempDir(), "b")
	err := b.Derive(context.Background(), dir, func(dir string) error {
		path := filepath.Join(dir, bundle.EnvironmentFile)
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var env map[string]any
		if err := json.Unmarshal(data, &env); err != nil {
			return err
		}
		env["deployment"] = deployment
		out, _ := json.Marshal(env)
		return os.WriteFile(path, out, 0o644)
	}, b.Key)
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestVerifyDeployment: an external deployment is the job's spec's word,
// carried into the results; a runner whose environment.json says otherwise
// than the spec (hiding that it did not launch the engine, or claiming an
// external one for an engine it launched) is caught.
func TestVerifyDeployment(t *testing.T) {
	tests := []struct {
		name         string
		spec, claim  string
		online       bool
		verified     bool
		want         string // Results.Deployment
		check, fails string // the deployment check: "" absent, "pass", "fail", "info"; a failure's reason
	}{
		{"launched", "", "", true, true, "", "", ""},
		{"external, recorded", "external", "external", true, true, "external", "pass", ""},
		{"external spec, the runner records none", "external", "", true, false, "external", "fail",
			`environment.json records deployment "", the job's spec "external"`},
		{"launched spec, the runner claims external", "launched", "external", true, false, "", "fail",
			`environment.json records deployment "external", the job's spec ""`},
		{"offline, external", "", "external", false, true, "external", "info", ""},
		{"offline, nonsense", "", "k8s", false, false, "k8s", "fail", `deployment "k8s"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := withDeployment(t, tc.claim)
			opts := options(goodBundle(t))
			if tc.online {
				opts.Jobs = deploymentJobs{deployment: tc.spec}
			}
			v, err := verifier.Verify(context.Background(), bundle.DirSource(dir), opts)
			if err != nil {
				t.Fatal(err)
			}
			if v.Verified() != tc.verified {
				t.Fatalf("verified %v, want %v: %+v", v.Verified(), tc.verified, v.Failed())
			}
			if v.Results == nil || v.Results.Deployment != tc.want {
				t.Errorf("results deployment = %+v, want %q", v.Results, tc.want)
			}
			c, ok := v.Check(verifier.CheckDeployment)
			switch tc.check {
			case "":
				if ok {
					t.Errorf("a launched engine's bundle has a deployment check: %+v", c)
				}
			case "pass":
				if !ok || !c.Passed || c.Informational {
					t.Errorf("deployment check %+v (present %v), want passed", c, ok)
				}
			case "info":
				if !ok || !c.Informational {
					t.Errorf("deployment check %+v (present %v), want informational", c, ok)
				}
			case "fail":
				if !ok || c.Passed || !strings.Contains(c.Reason, tc.fails) {
					t.Errorf("deployment check %+v (present %v), want failed with %q", c, ok, tc.fails)
				}
			}
		})
	}
}
