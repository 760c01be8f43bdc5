package spec

import (
	"fmt"
	"slices"
	"strings"
)

// checker runs the semantic checks of a submission, after decoding: the
// rules of the spec that its types cannot express. Each problem goes to the
// position of the value it is about; a field already reported while decoding
// is not judged again.
type checker struct {
	d *decoder
	o options
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
	c.match("model.precision", m.Precision, true, "a precision name (lower-case, e.g. fp8, nvfp4, bf16)")
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
	case e.Image != "" && len(e.Command) > 0:
		c.bad("engine.command", "engine.image and engine.command exclude each other: run a container or a process, not both")
	case e.Image == "" && len(e.Command) == 0:
		if c.written("engine.command") {
			c.bad("engine.command", "must not be empty")
		} else {
			c.bad("engine", "needs image (a container pinned by digest) or command (process mode)")
		}
	}
	if e.Image != "" {
		if !strings.Contains(e.Image, "@sha256:") {
			c.bad("engine.image", "image %q is not pinned: write it as name@sha256:<64 hex digits> (a tag can move)", e.Image)
		} else {
			c.match("engine.image", e.Image, false, "an image reference name[:tag]@sha256:<64 hex digits>")
		}
	}
	for i, a := range e.Command {
		if a == "" {
			c.bad(fmt.Sprintf("engine.command[%d]", i), "must not be empty")
		}
		c.placeholders(fmt.Sprintf("engine.command[%d]", i), a)
	}
	for i, a := range e.Args {
		c.placeholders(fmt.Sprintf("engine.args[%d]", i), a)
	}
	if e.ProcessMode() && !c.o.allowProcessMode && !(c.s.Framework.Name == Sim && c.s.System.Accelerator == Sim) {
		c.bad("engine.command", "process mode (engine.command) runs the engine outside a container and is accepted only for the sim framework on the sim accelerator; use engine.image (an operator can allow process mode for trusted engines)")
	}
	keys := make([]string, 0, len(e.Env))
	for k := range e.Env {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !reEnvName.MatchString(k) {
			c.bad("engine.env."+k, "%q is not an environment variable name", k)
		}
	}
	c.match("engine.health_path", e.HealthPath, false, "a URL path starting with /")
	if e.ReadyTimeout.Duration <= 0 {
		c.bad("engine.ready_timeout", "must be positive")
	}
}

func (c *checker) placeholders(path, v string) {
	for _, p := range rePlaceholder.FindAllString(v, -1) {
		if p != "{port}" {
			c.bad(path, "unknown placeholder %s: the runner fills only {port}", p)
		}
	}
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
	c.match("benchmark.workload", b.Workload, true, "a workload name or name@sha256:<64 hex digits>")
	if len(b.Tiers) == 0 {
		c.bad("benchmark.tiers", "name at least one tier")
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
	if r.OnNewFrameworkRelease {
		if r.ImageTemplate == "" {
			c.bad("retest.on_new_framework_release", "needs retest.image_template, the image of a new release")
		}
		if c.s.Engine.ProcessMode() {
			c.bad("retest.on_new_framework_release", "retests run new release images; a process-mode engine cannot be retested")
		}
	}
}
