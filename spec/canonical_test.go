package spec

import (
	"encoding/json"
	"strings"
	"testing"
)

func mustParse(t *testing.T, doc string) *Submission {
	t.Helper()
	s, err := Parse("case.yaml", []byte(doc))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return s
}

// TestDigestIgnoresFormatting: the same submission written differently has
// one digest; a changed value changes it.
func TestDigestIgnoresFormatting(t *testing.T) {
	base := mustParse(t, imageDoc)
	same := []struct{ name, doc string }{
		{"flow style and other key order", `kind: Submission
apiVersion: "agentwatt.dev/v1"
benchmark: {profile: official, rules: v1, tiers: [t20], workload: agentic-coding-sample}
engine: {ready_timeout: 1200s, image: "vllm/vllm-openai:v0.11.0@sha256:` + strings.Repeat("ab", 32) + `"}
framework: {version: '0.11.0', name: vllm}
system: {topology: single-node, accelerators: 8, accelerator: h200}
model: {precision: bf16, revision: tiny, id: meta-llama/Llama-3.1-70B-Instruct}
metadata: {contact: demo@agentwatt.dev, name: sim-tiny, vendor: demo}
`},
		{"comments, default health path, empty optionals", "# a comment\n" + edit(imageDoc,
			"  ready_timeout: 20m", "  health_path: /health # the default\n  ready_timeout: 20m\n  args: []\n  env: {}",
			"benchmark:", "optimizations: {kv_cache_reuse: false}\nbenchmark:")},
	}
	for _, tt := range same {
		t.Run(tt.name, func(t *testing.T) {
			if got, want := mustParse(t, tt.doc).Digest(), base.Digest(); got != want {
				a, _ := mustParse(t, tt.doc).Canonical()
				b, _ := base.Canonical()
				t.Errorf("digest %s, want %s\n%s\n%s", got, want, a, b)
			}
		})
	}
	differ := []struct{ name, doc string }{
		{"accelerators", edit(imageDoc, "accelerators: 8", "accelerators: 4")},
		{"tiers", edit(imageDoc, "tiers: [t20]", "tiers: [t20, t50]")},
		{"tier order", edit(imageDoc, "tiers: [t20]", "tiers: [t50, t20]")},
		{"ready_timeout", edit(imageDoc, "ready_timeout: 20m", "ready_timeout: 21m")},
		{"notes", edit(imageDoc, "benchmark:", "optimizations: {notes: x}\nbenchmark:")},
	}
	seen := map[string]string{base.Digest(): "base"}
	for _, tt := range differ {
		d := mustParse(t, tt.doc).Digest()
		if prev, dup := seen[d]; dup {
			t.Errorf("%s has the digest of %s", tt.name, prev)
		}
		seen[d] = tt.name
	}
}

func TestCanonicalForm(t *testing.T) {
	s := mustParse(t, edit(imageDoc, "benchmark:", "optimizations: {notes: \"<a & b>\"}\nbenchmark:"))
	c, err := s.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	got := string(c)
	if strings.ContainsAny(got, " \n\t") && !strings.Contains(got, "<a & b>") {
		t.Errorf("canonical form has insignificant whitespace: %s", got)
	}
	if !strings.Contains(got, `"notes":"<a & b>"`) {
		t.Errorf("canonical form escapes HTML: %s", got)
	}
	if !strings.HasPrefix(got, `{"apiVersion":"agentwatt.dev/v1","benchmark":{"profile":"official"`) {
		t.Errorf("keys are not sorted: %s", got)
	}
	if !strings.HasPrefix(s.Digest(), "sha256:") || len(s.Digest()) != len("sha256:")+64 {
		t.Errorf("Digest() = %q", s.Digest())
	}
	// The canonical JSON reads back into the same submission (the queue
	// stores it).
	var back Submission
	if err := json.Unmarshal(c, &back); err != nil {
		t.Fatal(err)
	}
	if back.Digest() != s.Digest() || back.Engine.ReadyTimeout != s.Engine.ReadyTimeout {
		t.Errorf("round trip changed the submission: %+v", back)
	}
}

func TestPinWorkload(t *testing.T) {
	s := mustParse(t, baseDoc)
	before := s.Digest()
	digest := "sha256:" + strings.Repeat("1f", 32)
	if err := s.PinWorkload(digest); err != nil {
		t.Fatal(err)
	}
	if got := s.Benchmark.Workload; got != "agentic-coding-sample@"+digest {
		t.Errorf("workload = %q", got)
	}
	if s.WorkloadName() != "agentic-coding-sample" || s.WorkloadDigest() != digest {
		t.Errorf("WorkloadName() = %q, WorkloadDigest() = %q", s.WorkloadName(), s.WorkloadDigest())
	}
	if s.Digest() == before {
		t.Errorf("pinning did not change the digest")
	}
	other := "sha256:" + strings.Repeat("2e", 32)
	if err := s.PinWorkload(strings.TrimPrefix(other, "sha256:")); err != nil || s.WorkloadDigest() != other {
		t.Errorf("re-pin with a bare digest: %v, %q", err, s.Benchmark.Workload)
	}
	if err := s.Validate(); err != nil {
		t.Errorf("pinned submission invalid: %v", err)
	}
	for _, bad := range []string{"", "sha256:abc", "md5:" + strings.Repeat("1f", 32), "sha256:" + strings.Repeat("1F", 32)} {
		if err := s.PinWorkload(bad); err == nil {
			t.Errorf("PinWorkload(%q) accepted", bad)
		}
	}
	if s.WorkloadDigest() != other {
		t.Errorf("a refused pin changed the workload: %q", s.Benchmark.Workload)
	}
}

func TestPool(t *testing.T) {
	tests := []struct {
		accel string
		n     int
		topo  string
		want  string
	}{
		{"h200", 8, "", "h200x8"}, {"gb300", 72, TopologyRackScale, "gb300x72"},
		{"sim", 1, "", "sim"}, {"sim", 8, TopologySingleNode, "sim"},
		{"sim", 72, TopologyRackScale, "simx72"}, {"sim", 16, TopologyMultiNode, "simx16"},
	}
	for _, tt := range tests {
		s := &Submission{System: System{Accelerator: tt.accel, Accelerators: tt.n, Topology: tt.topo}}
		got := s.Pool()
		if got != tt.want {
			t.Errorf("Pool(%s, %d, %s) = %q, want %q", tt.accel, tt.n, tt.topo, got, tt.want)
		}
		if SimPool(got) != (tt.accel == Sim) {
			t.Errorf("SimPool(%q) = %v, want %v", got, SimPool(got), tt.accel == Sim)
		}
	}
}

func TestSimPool(t *testing.T) {
	for _, p := range []string{"sim", "simx1", "simx72", "simx1000000"} {
		if !SimPool(p) {
			t.Errorf("SimPool(%q) = false, want true", p)
		}
	}
	for _, p := range []string{"", "Sim", "simx", "simx0", "simx072", "simx-1", "simx7a", "sim72", "gb300x72", "h200x8", "xsim", "simx72 ", "simx７"} {
		if SimPool(p) {
			t.Errorf("SimPool(%q) = true, want false", p)
		}
	}
}

// TestValidateInCode checks a submission built in code, as the retest
// watcher builds one from a template.
func TestValidateInCode(t *testing.T) {
	s := mustParse(t, imageDoc)
	s.Engine.Image = "vllm/vllm-openai:v0.12.0"
	err := s.Validate()
	if err == nil || !strings.Contains(err.Error(), "<input>: engine.image: image \"vllm/vllm-openai:v0.12.0\" is not pinned") {
		t.Errorf("Validate() = %v", err)
	}
	s.Engine.Image = "vllm/vllm-openai:v0.12.0@sha256:" + strings.Repeat("cd", 32)
	if err := s.Validate(); err != nil {
		t.Errorf("Validate() = %v", err)
	}
	var empty Submission
	err = empty.Validate()
	if err == nil || !strings.Contains(err.Error(), "engine: needs image") || !strings.Contains(err.Error(), "metadata.vendor: must not be empty") {
		t.Errorf("Validate() of an empty submission = %v", err)
	}
}
