package spec

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
)

// Pool is the hardware class that runs the submission: "<accelerator>x<count>"
// (e.g. "h200x8", "gb300x72"). The simulated engine's pool is "sim" on one
// host and "simx<count>" (e.g. "simx72") for a multi-node or rack-scale sim,
// which a group of runners measures together, so a single-host sim runner
// never takes it. It is derived, never written in the spec, and names the
// queue subject agentwatt.jobs.<pool>. SimPool tells a simulated pool.
func (s *Submission) Pool() string {
	if s.System.Accelerator == Sim {
		if t := s.System.Topology; t == TopologyMultiNode || t == TopologyRackScale {
			return fmt.Sprintf("%sx%d", Sim, s.System.Accelerators)
		}
		return Sim
	}
	return fmt.Sprintf("%sx%d", s.System.Accelerator, s.System.Accelerators)
}

// SimPool reports whether pool is a simulated engine's pool: "sim" or
// "simx<N>" (N a positive number without leading zeros). Results of these
// pools are simulated everywhere: keys, verdicts and the published site.
func SimPool(pool string) bool {
	if pool == Sim {
		return true
	}
	n, ok := strings.CutPrefix(pool, Sim+"x")
	if !ok || n == "" || n[0] == '0' {
		return false
	}
	for _, r := range n {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// Canonical returns the submission as canonical JSON: object keys sorted,
// no insignificant whitespace, no HTML escaping, optional fields left out
// when empty. Two submissions that mean the same have the same canonical
// form, whatever their YAML looked like.
func (s *Submission) Canonical() ([]byte, error) {
	raw, err := json.Marshal(s.normalized())
	if err != nil {
		return nil, fmt.Errorf("canonical: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("canonical: %w", err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil { // maps encode with sorted keys
		return nil, fmt.Errorf("canonical: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// normalized returns a copy of s without optional sections that hold only
// zero values, and without defaults written out: writing "optimizations: {}"
// or "deployment: launched" means the same as leaving it out.
func (s *Submission) normalized() *Submission {
	c := *s
	if c.Engine.Deployment == DeploymentLaunched {
		c.Engine.Deployment = ""
	}
	if c.Optimizations != nil && *c.Optimizations == (Optimizations{}) {
		c.Optimizations = nil
	}
	if c.Retest != nil && *c.Retest == (Retest{}) {
		c.Retest = nil
	}
	return &c
}

// Digest is "sha256:<hex>" of Canonical. It identifies what is benchmarked:
// with the workload pinned (PinWorkload) and a trigger, it derives the job id.
func (s *Submission) Digest() string {
	c, err := s.Canonical()
	if err != nil {
		// A Submission holds only strings, numbers, booleans, lists and
		// string maps: it always marshals.
		panic(err)
	}
	sum := sha256.Sum256(c)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// WorkloadName is benchmark.workload without its digest.
func (s *Submission) WorkloadName() string {
	name, _, _ := strings.Cut(s.Benchmark.Workload, "@")
	return name
}

// WorkloadDigest is the "sha256:<hex>" that benchmark.workload is pinned to,
// or "" for a bare name.
func (s *Submission) WorkloadDigest() string {
	_, digest, _ := strings.Cut(s.Benchmark.Workload, "@")
	return digest
}

// PinWorkload sets benchmark.workload to <name>@<digest>. digest is
// "sha256:<64 hex>" (a bare 64-hex digest is accepted too); it replaces any
// digest the workload was pinned to.
func (s *Submission) PinWorkload(digest string) error {
	if !strings.HasPrefix(digest, "sha256:") {
		digest = "sha256:" + digest
	}
	if !reDigest.MatchString(digest) {
		return fmt.Errorf("pin workload: %q is not sha256:<64 hex digits>", digest)
	}
	s.Benchmark.Workload = s.WorkloadName() + "@" + digest
	return nil
}
