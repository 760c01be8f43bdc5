package spec

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Values of engine.deployment.
const (
	// DeploymentLaunched (the default) is an engine the runner launches.
	DeploymentLaunched = "launched"
	// DeploymentExternal is an engine its operator deployed (Kubernetes,
	// a DynamoGraphDeployment…): the runner launches nothing and drives the
	// endpoint that its own operator configured (never a URL from the
	// submission), and the result says the deployment was external.
	DeploymentExternal = "external"
)

// Deployments lists the values of engine.deployment.
var Deployments = []string{DeploymentLaunched, DeploymentExternal}

// Role names.
const (
	// RoleFrontend is the endpoint the runner health-checks and drives:
	// one replica, on CPUs (no GPUs of its own).
	RoleFrontend = "frontend"
	// RolePrefill and RoleDecode are the two halves of a disaggregated
	// engine; their replicas are system.disaggregation's workers.
	RolePrefill = "prefill"
	RoleDecode  = "decode"
	// RoleWorker is an aggregated worker (prefill and decode in one) behind
	// the frontend.
	RoleWorker = "worker"
)

// RoleNames lists the values of engine.roles[].name.
var RoleNames = []string{RoleFrontend, RolePrefill, RoleDecode, RoleWorker}

// Placeholders the runner fills in engine.args and engine.roles[].args, per
// replica (and per host part of a replica larger than a host).
const (
	// PlaceholderPort is the port the replica serves on. Every container of
	// a job listens on the same port in its own network namespace; the
	// frontend's is the endpoint.
	PlaceholderPort = "{port}"
	// PlaceholderRank is the part's rank within its replica, 0 to
	// {nnodes}-1 (0 on one node).
	PlaceholderRank = "{rank}"
	// PlaceholderNNodes is the number of hosts the replica spans (1 on one
	// node).
	PlaceholderNNodes = "{nnodes}"
	// PlaceholderLeaderAddr is host:port of the replica's rank-0 part, for
	// the engine's distributed init (e.g. sglang --dist-init-addr).
	PlaceholderLeaderAddr = "{leader_addr}"
)

// Placeholders lists every placeholder the runner fills.
var Placeholders = []string{PlaceholderPort, PlaceholderRank, PlaceholderNNodes, PlaceholderLeaderAddr}

// Bounds of a role, so that no sum of them overflows and no job asks a
// runner for a million containers.
const (
	MaxRoleReplicas = 256
	MaxRoleGPUs     = 1024
)

// Role is one kind of engine process: how many replicas, how many GPUs
// each, and its container's arguments.
type Role struct {
	// Name is one of RoleNames; each role appears once.
	Name string `json:"name"`
	// Replicas is the number of copies of the role (the frontend's is 1).
	Replicas int `json:"replicas"`
	// GPUsPerReplica is the GPUs of one replica; left out for the frontend,
	// at least 1 for the others.
	GPUsPerReplica int `json:"gpus_per_replica,omitempty"`
	// Image defaults to engine.image; pinned by digest like it.
	Image string `json:"image,omitempty"`
	// Args follow the image's entrypoint, placeholders filled per replica.
	Args []string `json:"args,omitempty"`
	// Env is added to engine.env for this role's containers; a variable
	// is set in one of the two, not both. Published: no credentials.
	Env map[string]string `json:"env,omitempty"`
}

// GPURole reports whether the role's replicas hold GPUs.
func (r Role) GPURole() bool { return r.Name != RoleFrontend }

// RoleImage is the role's image: its own or engine.image.
func (e Engine) RoleImage(r Role) string {
	if r.Image != "" {
		return r.Image
	}
	return e.Image
}

// Role returns the named role, if the engine has it.
func (e Engine) Role(name string) (Role, bool) {
	for _, r := range e.Roles {
		if r.Name == name {
			return r, true
		}
	}
	return Role{}, false
}

// RoleGPUs is the sum of replicas × gpus_per_replica over the roles.
func (e Engine) RoleGPUs() int {
	n := 0
	for _, r := range e.Roles {
		n += r.Replicas * r.GPUsPerReplica
	}
	return n
}

// Replica is one replica of a role: what a runner (or a member of a runner
// group) launches.
type Replica struct {
	Role  string // the role's name
	Index int    // 0 to replicas-1 within the role
	GPUs  int    // GPUs of the whole replica; 0 for the frontend
}

// Replicas lists every replica, roles in the order written.
func (e Engine) Replicas() []Replica {
	var out []Replica
	for _, r := range e.Roles {
		for i := range r.Replicas {
			out = append(out, Replica{Role: r.Name, Index: i, GPUs: r.GPUsPerReplica})
		}
	}
	return out
}

// Part is a replica's share of one host. A replica larger than a host spans
// NNodes hosts, one part of rank 0 to NNodes-1 on each; {rank} and {nnodes}
// are filled from it.
type Part struct {
	Replica
	Rank   int
	NNodes int
	GPUs   int // this part's GPUs
}

// Parts splits the replica over hosts of gpusPerHost GPUs each: one part on
// one host when it fits, else ceil(GPUs/gpusPerHost) parts, the last one
// holding the rest.
func (r Replica) Parts(gpusPerHost int) []Part {
	if r.GPUs <= gpusPerHost || gpusPerHost < 1 {
		return []Part{{Replica: r, Rank: 0, NNodes: 1, GPUs: r.GPUs}}
	}
	n := (r.GPUs + gpusPerHost - 1) / gpusPerHost
	parts := make([]Part, n)
	for i := range parts {
		parts[i] = Part{Replica: r, Rank: i, NNodes: n, GPUs: min(gpusPerHost, r.GPUs-i*gpusPerHost)}
	}
	return parts
}

// deployment checks engine.deployment.
func (c *checker) deployment() {
	e := c.s.Engine
	if e.Deployment == "" {
		if c.written("engine.deployment") {
			c.bad("engine.deployment", "must not be empty (or left out: %s)", DeploymentLaunched)
		}
		return
	}
	if !c.oneOf("engine.deployment", e.Deployment, Deployments, "deployment") {
		return
	}
	if e.External() && e.Sim() {
		c.bad("engine.deployment", "the simulated engine is launched by the runner: it cannot be external")
	}
}

// roles checks engine.roles and how they agree with the system.
func (c *checker) roles() {
	e := c.s.Engine
	if len(e.Roles) == 0 {
		if e.Roles != nil && c.written("engine.roles") {
			c.bad("engine.roles", "name at least one role (or leave roles out for a single container)")
		}
		return
	}
	if e.Sim() {
		c.bad("engine.roles", "the simulated engine takes no roles: the runner launches the sim from engine.sim_profile, and a rack profile lays out its members itself")
		return
	}
	if len(e.Args) > 0 {
		c.bad("engine.args", "with engine.roles each role carries its own args; move these to the roles")
	}
	before := len(c.d.probs)
	seen := map[string]bool{}
	for i, r := range e.Roles {
		c.role(fmt.Sprintf("engine.roles[%d]", i), r, seen)
	}
	if len(c.d.probs) > before || c.rolesDecodeBad() {
		return // the cross-checks need sound roles
	}
	c.rolesAgree()
}

// rolesDecodeBad reports whether the decoder reported anything in
// engine.roles.
func (c *checker) rolesDecodeBad() bool {
	for p := range c.d.bad {
		if p == "engine.roles" || strings.HasPrefix(p, "engine.roles[") {
			return true
		}
	}
	return false
}

func (c *checker) role(path string, r Role, seen map[string]bool) {
	e := c.s.Engine
	if c.oneOf(path+".name", r.Name, RoleNames, "role") {
		if seen[r.Name] {
			c.bad(path+".name", "role %s is listed twice: one entry per role, with its replicas", r.Name)
		}
		seen[r.Name] = true
	}
	switch {
	case r.Replicas < 1 || r.Replicas > MaxRoleReplicas:
		c.bad(path+".replicas", "must be 1 to %d", MaxRoleReplicas)
	case r.Name == RoleFrontend && r.Replicas != 1:
		c.bad(path+".replicas", "the frontend is the one endpoint the runner drives: 1 replica, not %d", r.Replicas)
	}
	switch {
	case r.Name == RoleFrontend && (r.GPUsPerReplica != 0 || c.written(path+".gpus_per_replica")):
		c.bad(path+".gpus_per_replica", "the frontend runs on CPUs: leave gpus_per_replica out")
	case r.Name != RoleFrontend && (r.GPUsPerReplica < 1 || r.GPUsPerReplica > MaxRoleGPUs):
		c.bad(path+".gpus_per_replica", "must be 1 to %d for a %s role", MaxRoleGPUs, r.Name)
	}
	if r.Image != "" {
		if !reImage.MatchString(r.Image) {
			c.bad(path+".image", "image %q is not pinned: write it as name[:tag]@sha256:<64 hex digits> (a tag can move)", r.Image)
		}
	}
	for i, a := range r.Args {
		ap := fmt.Sprintf("%s.args[%d]", path, i)
		c.placeholders(ap, a)
		if what := credentialShape(a); what != "" {
			c.bad(ap, "looks like %s: a credential written in the spec is published with the job; put it in the runner's secret store, name it in engine.secrets and let the engine read it from its environment", what)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(r.Env)) {
		ep := path + ".env." + k
		switch {
		case !reEnvName.MatchString(k):
			c.bad(ep, "%q is not an environment variable name", k)
		case hasKey(e.Env, k):
			c.bad(ep, "%s is also set in engine.env: set it for all roles there or per role here, not both", k)
		case slices.Contains(e.Secrets, k):
			c.bad(ep, "%s is a secret (engine.secrets): a variable is either a secret or a value", k)
		case r.Env[k] != "" && credentialName(k):
			c.bad(ep, "%s names a credential: a value written in the spec is published with the job; put it in the runner's secret store and list %s in engine.secrets instead", k, k)
		case credentialShape(r.Env[k]) != "":
			c.bad(ep, "the value looks like %s: a credential written in the spec is published with the job; put it in the runner's secret store and list %s in engine.secrets instead", credentialShape(r.Env[k]), k)
		}
	}
}

// rolesAgree holds the roles to the system they claim: a frontend, the GPU
// count, and the disaggregation declared.
func (c *checker) rolesAgree() {
	e := c.s.Engine
	_, front := e.Role(RoleFrontend)
	_, prefill := e.Role(RolePrefill)
	_, decode := e.Role(RoleDecode)
	_, worker := e.Role(RoleWorker)
	switch {
	case !front:
		c.bad("engine.roles", "needs a frontend role: the one endpoint the runner health-checks and drives")
	case !prefill && !decode && !worker:
		c.bad("engine.roles", "needs workers behind the frontend: prefill and decode roles, or a worker role")
	case worker && (prefill || decode):
		c.bad("engine.roles", "a worker role (aggregated) and prefill/decode roles (disaggregated) exclude each other")
	case prefill != decode:
		c.bad("engine.roles", "a disaggregated engine needs both a prefill and a decode role")
	default:
		c.rolesFit(prefill, worker)
	}
}

// rolesFit holds sound roles to the GPUs and the disaggregation declared.
func (c *checker) rolesFit(prefill, worker bool) {
	e, sys := c.s.Engine, c.s.System
	if n := e.RoleGPUs(); n != sys.Accelerators && !c.isBad("system.accelerators") {
		c.bad("engine.roles", "the roles hold %d GPUs (replicas × gpus_per_replica), system.accelerators is %d: they must be equal (every accelerator of the system is measured)", n, sys.Accelerators)
	}
	dg := sys.Disaggregation
	switch {
	case prefill && dg == nil:
		c.bad("system.disaggregation", "the engine has prefill and decode roles: declare system.disaggregation with their replicas")
	case worker && dg != nil:
		c.bad("system.disaggregation", "declared, but the engine's workers are aggregated (a worker role): use prefill and decode roles")
	case dg != nil && prefill:
		if r, _ := e.Role(RolePrefill); r.Replicas != dg.PrefillWorkers {
			c.bad("system.disaggregation.prefill_workers", "%d, but the prefill role has %d replicas", dg.PrefillWorkers, r.Replicas)
		}
		if r, _ := e.Role(RoleDecode); r.Replicas != dg.DecodeWorkers {
			c.bad("system.disaggregation.decode_workers", "%d, but the decode role has %d replicas", dg.DecodeWorkers, r.Replicas)
		}
	}
}

// placeholders refuses a {name} the runner does not fill.
func (c *checker) placeholders(path, v string) {
	for _, p := range rePlaceholder.FindAllString(v, -1) {
		if !slices.Contains(Placeholders, p) {
			c.bad(path, "unknown placeholder %s: the runner fills only %s", p, strings.Join(Placeholders, ", "))
		}
	}
}
