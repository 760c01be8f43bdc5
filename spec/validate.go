package spec

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// checker runs the semantic checks of a submission, after decoding: the
// rules of the spec that its types cannot express. Each problem goes to the
// position of the value it is about; a field already reported while decoding
// is not judged again.
type checker struct {
	d *decoder
	s *Submission
}

// isBad reports whether path, or a field that holds it, was reported.
func (c *checker) isBad(path string) bool {
	for {
		if c.d.bad[path] {
			return true
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			return c.d.bad[""] // the document itself was not a mapping
		}
		path = path[:i]
	}
}

func (c *checker) bad(path, format string, args ...any) {
	if c.isBad(path) {
		return
	}
	c.d.addAt(c.d.at(path), path, fmt.Sprintf(format, args...))
}

// written reports whether path was present in the document; false for a
// submission built in code, where absence cannot be told from zero.
func (c *checker) written(path string) bool {
	_, ok := c.d.pos[path]
	return ok
}

// match checks a required or present string against its pattern.
func (c *checker) match(path, v string, required bool, what string) {
	if v == "" {
		if required {
			c.bad(path, "must not be empty")
		}
		return
	}
	if re := fieldPatterns[path]; re != nil && !re.MatchString(v) {
		c.bad(path, "%q is not %s", v, what)
	}
}

func (c *checker) oneOf(path, v string, known []string, what string) bool {
	if slices.Contains(known, v) {
		return true
	}
	if v == "" {
		c.bad(path, "must not be empty")
		return false
	}
	hint := ""
	if s := suggest(v, known); s != "" {
		hint = fmt.Sprintf(" (did you mean %q?)", s)
	}
	c.bad(path, "unknown %s %q%s; known: %s", what, v, hint, strings.Join(known, ", "))
	return false
}

func (c *checker) run() {
	s := c.s
	if s.APIVersion != APIVersion {
		c.bad("apiVersion", "unsupported apiVersion %q: this agentwatt reads %q", s.APIVersion, APIVersion)
	}
	if s.Kind != KindSubmission {
		c.bad("kind", "kind %q is not %q", s.Kind, KindSubmission)
	}
	c.controls() // first: a field with a control character is reported as such
	c.metadata()
	c.model()
	c.system()
	c.match("framework.name", s.Framework.Name, true, "a framework name (lower-case, e.g. vllm, sglang, trtllm, dynamo, sim)")
	c.match("framework.version", s.Framework.Version, true, "a version (no spaces)")
	c.engine()
	c.optimizations()
	c.benchmark()
	c.retest()
}

func (c *checker) metadata() {
	m := c.s.Metadata
	c.match("metadata.vendor", m.Vendor, true, "a vendor id (a DNS label: lower-case letters, digits and '-', at most 63)")
	c.match("metadata.name", m.Name, true, "a DNS label (lower-case letters, digits and '-', at most 63, starting and ending with a letter or digit)")
	c.match("metadata.contact", m.Contact, true, "an e-mail address or an https URL")
}

func (c *checker) model() {
	m := c.s.Model
	c.match("model.revision", m.Revision, true, "a revision (a commit or digest, no spaces)")
	c.oneOf("model.precision", m.Precision, Precisions, "precision")
	if m.ID == "" || !reModelID.MatchString(m.ID) {
		c.match("model.id", m.ID, true, "a model id like org/name")
		return
	}
	refs, err := modelsShared()
	if err != nil {
		c.bad("model.id", "cannot check the model: %v", err)
		return
	}
	if _, ok := refs.Lookup(m.ID); !ok {
		hint := ""
		if sug := suggest(m.ID, refs.IDs()); sug != "" {
			hint = fmt.Sprintf(" (did you mean %q?)", sug)
		}
		c.bad("model.id", "model %q has no reference accuracy score in spec/rules/models.yaml%s; known: %s",
			m.ID, hint, strings.Join(refs.IDs(), ", "))
	}
}

func (c *checker) system() {
	sys := c.s.System
	accelOK := c.oneOf("system.accelerator", sys.Accelerator, KnownAccelerators, "accelerator")
	if sys.Accelerators < 1 {
		c.bad("system.accelerators", "must be at least 1")
	}
	c.oneOf("system.topology", sys.Topology, Topologies, "topology")
	if dg := sys.Disaggregation; dg != nil {
		if dg.PrefillWorkers < 1 {
			c.bad("system.disaggregation.prefill_workers", "must be at least 1")
		}
		if dg.DecodeWorkers < 1 {
			c.bad("system.disaggregation.decode_workers", "must be at least 1")
		}
	}
	if sys.PowerLimitW < 0 || (sys.PowerLimitW == 0 && c.written("system.power_limit_w")) {
		c.bad("system.power_limit_w", "must be a positive number of watts (or left out)")
	}
	fw := c.s.Framework.Name
	switch {
	case !accelOK:
	case sys.Accelerator == Sim && fw != Sim && fw != "":
		c.bad("framework.name", "the sim accelerator runs only the sim framework, not %q", fw)
	case sys.Accelerator != Sim && fw == Sim:
		c.bad("system.accelerator", "the sim framework runs only on the sim accelerator, not %q", sys.Accelerator)
	}
}

func (c *checker) engine() {
	e := c.s.Engine
	switch {
	case e.Image != "" && e.SimProfile != "":
		c.bad("engine.sim_profile", "engine.image and engine.sim_profile exclude each other: a container or the simulated engine, not both")
	case e.Image == "" && e.SimProfile == "" && !c.d.bad["engine.command"] && !c.d.bad["engine.sim_profile"]:
		c.bad("engine", "needs image (a container pinned by digest) or sim_profile (the simulated engine, for framework sim)")
	}
	if e.Image != "" {
		if !strings.Contains(e.Image, "@sha256:") {
			c.bad("engine.image", "image %q is not pinned: write it as name@sha256:<64 hex digits> (a tag can move)", e.Image)
		} else {
			c.match("engine.image", e.Image, false, "an image reference name[:tag]@sha256:<64 hex digits>")
		}
	}
	c.match("engine.sim_profile", e.SimProfile, false, "a sim profile name (lower-case, e.g. b300x8-like; see 'agentwatt sim profiles')")
	sim := c.s.Framework.Name == Sim && c.s.System.Accelerator == Sim
	switch {
	case e.SimProfile != "" && !sim:
		c.bad("engine.sim_profile", "the simulated engine runs only for the sim framework on the sim accelerator; use engine.image")
	case e.Image != "" && c.s.Framework.Name == Sim:
		c.bad("engine.image", "the sim framework is launched by the runner from engine.sim_profile, not from an image")
	}
	if e.SimProfile != "" && len(e.Args) > 0 {
		c.bad("engine.args", "the runner writes the simulated engine's command line from engine.sim_profile; engine.args is for containers")
	}
	for i, a := range e.Args {
		path := fmt.Sprintf("engine.args[%d]", i)
		c.placeholders(path, a)
		if what := credentialShape(a); what != "" {
			c.bad(path, "looks like %s: a credential written in the spec is published with the job; put it in the runner's secret store, name it in engine.secrets and let the engine read it from its environment", what)
		}
	}
	c.env(e)
	c.deployment()
	c.roles()
	c.match("engine.health_path", e.HealthPath, false, "a URL path starting with /")
	if e.ReadyTimeout.Duration <= 0 {
		c.bad("engine.ready_timeout", "must be positive")
	}
}

// env checks engine.env and engine.secrets: variable names, no credential
// written as a value, and, for the simulated engine (a process the runner
// starts on itself), no variable of the dynamic loader or the Go runtime.
func (c *checker) env(e Engine) {
	for _, k := range slices.Sorted(maps.Keys(e.Env)) {
		path := "engine.env." + k
		switch {
		case !reEnvName.MatchString(k):
			c.bad(path, "%q is not an environment variable name", k)
		case e.Env[k] != "" && credentialName(k):
			c.bad(path, "%s names a credential: a value written in the spec is published with the job; put it in the runner's secret store and list %s in engine.secrets instead", k, k)
		case credentialShape(e.Env[k]) != "":
			c.bad(path, "the value looks like %s: a credential written in the spec is published with the job; put it in the runner's secret store and list %s in engine.secrets instead", credentialShape(e.Env[k]), k)
		case e.SimProfile != "" && runtimeVar(k):
			c.bad(path, "the simulated engine runs on the runner itself: engine.env may not set %s (the dynamic loader's and the Go runtime's variables are the runner's)", k)
		}
	}
	seen := map[string]bool{}
	for i, name := range e.Secrets {
		path := fmt.Sprintf("engine.secrets[%d]", i)
		switch {
		case !reEnvName.MatchString(name):
			c.bad(path, "%q is not an environment variable name (a secret is named by the variable the engine reads it from)", name)
		case seen[name]:
			c.bad(path, "secret %s is listed twice", name)
		case hasKey(e.Env, name):
			c.bad(path, "%s is also set in engine.env: a variable is either a secret or a value", name)
		case reservedSecret(name):
			c.bad(path, "%s is set by the runner, not a secret", name)
		}
		seen[name] = true
	}
}

func hasKey(m map[string]string, k string) bool {
	_, ok := m[k]
	return ok
}

func (c *checker) optimizations() {
	o := c.s.Optimizations
	if o == nil {
		return
	}
	if sd := o.SpeculativeDecoding; sd != nil {
		c.match("optimizations.speculative_decoding.method", sd.Method, true, "a method name (lower-case, e.g. eagle, eagle3, mtp, ngram)")
		if sd.NumSpeculativeTokens < 0 || (sd.NumSpeculativeTokens == 0 && c.written("optimizations.speculative_decoding.num_speculative_tokens")) {
			c.bad("optimizations.speculative_decoding.num_speculative_tokens", "must be at least 1 (or left out)")
		}
	}
	if kv := o.KVOffload; kv != nil {
		c.oneOf("optimizations.kv_offload.target", kv.Target, KVOffloadTargets, "offload target")
		if kv.CapacityGiB < 0 || (kv.CapacityGiB == 0 && c.written("optimizations.kv_offload.capacity_gib")) {
			c.bad("optimizations.kv_offload.capacity_gib", "must be at least 1 (or left out)")
		}
	}
}

func (c *checker) benchmark() {
	b := c.s.Benchmark
	c.match("benchmark.workload", b.Workload, false, "a workload name or name@sha256:<64 hex digits>")
	if len(b.Tiers) == 0 {
		c.bad("benchmark.tiers", "name at least one tier")
	}
	if b.Repeats < 0 || b.Repeats > MaxRepeats || (b.Repeats == 0 && c.written("benchmark.repeats")) {
		c.bad("benchmark.repeats", "must be 1 to %d (or left out: %d)", MaxRepeats, DefaultRepeats)
	}
	if b.Rules == "" {
		c.bad("benchmark.rules", "must not be empty")
		return
	}
	rules, err := loadRulesShared(b.Rules)
	if err != nil {
		c.bad("benchmark.rules", "unknown rules version %q; known: %s", b.Rules, strings.Join(RulesVersions(), ", "))
		return
	}
	seen := map[string]bool{}
	for i, t := range b.Tiers {
		path := fmt.Sprintf("benchmark.tiers[%d]", i)
		if seen[t] {
			c.bad(path, "tier %q is listed twice", t)
			continue
		}
		seen[t] = true
		if _, ok := rules.Tier(t); !ok {
			c.oneOf(path, t, rules.TierIDs(), "tier")
		}
	}
	if !c.oneOf("benchmark.profile", b.Profile, rules.ProfileNames(), "profile") {
		return
	}
	p, _ := rules.Profile(b.Profile)
	if b.Workload == "" && p.Workload == "" {
		c.bad("benchmark.workload", "must be named: the %s profile has no default workload", p.Name)
	}
	rt := c.s.Engine.ReadyTimeout
	if rt.Duration > 0 && !p.ReadyTimeout.Contains(rt) {
		c.bad("engine.ready_timeout", "%s is outside the %s profile's bounds [%s, %s]",
			rt.Duration, p.Name, p.ReadyTimeout.Min.Duration, p.ReadyTimeout.Max.Duration)
	}
}

func (c *checker) retest() {
	r := c.s.Retest
	if r == nil {
		return
	}
	c.match("retest.image_template", r.ImageTemplate, false, `an image template with a tag holding {version}, e.g. "lmsysorg/sglang:v{version}"`)
	if r.Every != nil && r.Every.Duration < MinRetestEvery {
		c.bad("retest.every", "%s: at least %s (a scheduled retest takes a GPU node for the whole benchmark)", r.Every.Duration, MinRetestEvery)
	}
	switch {
	case c.s.Engine.Sim() && r.ImageTemplate != "":
		c.bad("retest.image_template", "the simulated engine has no image: a retest of the sim runs its sim_profile again at the new framework.version")
	case r.OnNewFrameworkRelease && r.ImageTemplate == "" && !c.s.Engine.Sim():
		c.bad("retest.on_new_framework_release", "needs retest.image_template, the image of a new release")
	}
}
