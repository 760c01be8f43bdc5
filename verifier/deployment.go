package verifier

import (
	"fmt"

	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/spec"
)

// CheckDeployment: an engine deployed by its operator (engine.deployment
// external) is what the job's spec says and what environment.json records.
// It is recorded only when either says external.
const CheckDeployment = "deployment"

// deployment returns the result's deployment ("external" or "") and checks
// environment.json's claim against the job's spec. The spec (bound by its
// digest to the job record) decides; offline, the runner's claim is all
// there is, and the check says so.
func (r *run) deployment(env *bundle.Environment) string {
	claim := env.Deployment
	if r.terms == nil {
		if claim == "" {
			return ""
		}
		if claim != spec.DeploymentExternal {
			r.cl.add(CheckDeployment, []string{fmt.Sprintf("environment.json deployment %q: want %q or none", claim, spec.DeploymentExternal)}, "")
			return claim
		}
		r.cl.info(CheckDeployment, "the runner records an external deployment (the operator's, not launched by the runner); verified offline, without the job's spec")
		return claim
	}
	want := r.terms.Deployment
	if claim == "" && want == "" {
		return ""
	}
	var fails []string
	if claim != want {
		fails = append(fails, fmt.Sprintf("environment.json records deployment %q, the job's spec %q", claim, want))
	}
	r.cl.add(CheckDeployment, fails, "an external deployment (the operator's, not launched by the runner), as the job's spec says")
	return want
}
