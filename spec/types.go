package spec

import "time"

// The Go types below are the submission spec v1. One rule ties them to the
// YAML, the JSON Schema and the canonical form: the `json` tag names the field
// everywhere, and a field whose tag lacks `omitempty` is required. The
// reflection test in schema_test.go holds submission.schema.json to the same
// rule.

// APIVersion and KindSubmission are the values every v1 submission declares.
const (
	APIVersion     = "agentwatt.dev/v1"
	KindSubmission = "Submission"
)

// Topologies a system can declare.
const (
	TopologySingleNode = "single-node"
	TopologyMultiNode  = "multi-node"
	TopologyRackScale  = "rack-scale"
)

// Sim is the accelerator and framework name of the simulated engine. A
// single-node sim submission's pool is "sim" whatever its accelerator count; a
// multi-node or rack-scale one's is "simx<count>" (see Submission.Pool).
const Sim = "sim"

// DefaultHealthPath is what Parse fills in when engine.health_path is absent.
const DefaultHealthPath = "/health"

// KnownAccelerators lists the accelerator names a submission may declare. The
// name becomes part of the pool (a NATS subject token), so an unknown name is
// an error rather than a job that no runner will ever take. Add hardware here
// and in submission.schema.json (a test keeps the two equal).
var KnownAccelerators = []string{
	"a100", "b200", "b300", "gb200", "gb300", "gh200",
	"h100", "h20", "h200",
	"mi300x", "mi325x", "mi355x",
	"sim",
}

// Precisions lists the values of model.precision: the number formats of
// served weights that engines ship today. A result is compared by its
// precision, so a misspelt one ("fp7", "FP8") would file it apart from its
// peers; add a format here and in submission.schema.json (a test keeps the
// two equal).
var Precisions = []string{
	"fp32", "bf16", "fp16",
	"fp8", "mxfp8",
	"mxfp6",
	"fp4", "nvfp4", "mxfp4",
	"int8", "int4", "w8a8", "w4a8", "w4a16",
}

// Topologies lists the values of system.topology.
var Topologies = []string{TopologySingleNode, TopologyMultiNode, TopologyRackScale}

// Submission is one serving configuration submitted for benchmarking.
type Submission struct {
	APIVersion    string         `json:"apiVersion"`
	Kind          string         `json:"kind"`
	Metadata      Metadata       `json:"metadata"`
	Model         Model          `json:"model"`
	System        System         `json:"system"`
	Framework     Framework      `json:"framework"`
	Engine        Engine         `json:"engine"`
	Optimizations *Optimizations `json:"optimizations,omitempty"`
	Benchmark     Benchmark      `json:"benchmark"`
	Retest        *Retest        `json:"retest,omitempty"`
}

// Metadata says who submits the configuration.
type Metadata struct {
	// Vendor is the registered vendor id (a DNS label); the intake API checks
	// it against the vendor of the submitting token.
	Vendor string `json:"vendor"`
	// Name names this configuration within the vendor (a DNS label).
	Name string `json:"name"`
	// Contact is an e-mail address or an https URL.
	Contact string `json:"contact"`
}

// Model is the model served, pinned to its weights.
type Model struct {
	// ID is the model's id, e.g. "deepseek-ai/DeepSeek-V4-Pro"; it must have a
	// reference score in rules/models.yaml (the accuracy gate needs one).
	ID string `json:"id"`
	// Revision pins the weights: a commit of the model repository or a digest.
	Revision string `json:"revision"`
	// Precision of the served weights, one of Precisions: "fp8", "nvfp4", "bf16"…
	Precision string `json:"precision"`
}

// System is the hardware the configuration runs on.
type System struct {
	// Accelerator is one of KnownAccelerators.
	Accelerator string `json:"accelerator"`
	// Accelerators is the number of accelerators used, in all.
	Accelerators int `json:"accelerators"`
	// Topology is single-node, multi-node or rack-scale.
	Topology string `json:"topology"`
	// Disaggregation declares separate prefill and decode workers.
	Disaggregation *Disaggregation `json:"disaggregation,omitempty"`
	// PowerLimitW is the declared power limit per accelerator in watts; the
	// runner records the enforced limit and checks it against this.
	PowerLimitW int `json:"power_limit_w,omitempty"`
}

// Disaggregation declares a prefill/decode split.
type Disaggregation struct {
	PrefillWorkers int `json:"prefill_workers"`
	DecodeWorkers  int `json:"decode_workers"`
}

// Framework is the serving framework and its release.
type Framework struct {
	// Name, e.g. "vllm", "sglang", "trtllm", "dynamo" or "sim".
	Name string `json:"name"`
	// Version is the framework's release, e.g. "0.11.0".
	Version string `json:"version"`
}

// Engine says how the runner starts the engine under test: a container image
// pinned by digest, or the simulated engine by its profile name. A
// submission never names a program: the runner launches its own sim, and
// any other process-mode engine is an operator's setting on the runner.
type Engine struct {
	// Image is a container image pinned by digest: name[:tag]@sha256:<64 hex>.
	Image string `json:"image,omitempty"`
	// SimProfile names a profile of the simulated engine ('agentwatt sim
	// profiles'); the runner launches its own sim with it. Only for the sim
	// framework on the sim accelerator.
	SimProfile string `json:"sim_profile,omitempty"`
	// Args follow the image's entrypoint. "{port}" is replaced by the port
	// the runner picks. The sim takes none: the runner writes its command
	// line.
	Args []string `json:"args,omitempty"`
	// Env is added to the engine's environment. It is published with the
	// job: a credential goes in Secrets, never here.
	Env map[string]string `json:"env,omitempty"`
	// Secrets names environment variables that the runner fills from its
	// own secret store at launch (e.g. HF_TOKEN); the values never appear in
	// the spec, the job or the bundle.
	Secrets []string `json:"secrets,omitempty"`
	// HealthPath answers 200 once the engine serves; Parse fills in
	// DefaultHealthPath when it is absent.
	HealthPath string `json:"health_path,omitempty"`
	// ReadyTimeout bounds the wait for HealthPath; it must lie within the
	// chosen profile's ready_timeout bounds.
	ReadyTimeout Duration `json:"ready_timeout"`
	// Deployment is DeploymentLaunched (left out: the runner launches the
	// engine) or DeploymentExternal (the operator deployed it; the runner
	// drives the endpoint its operator names and launches nothing).
	Deployment string `json:"deployment,omitempty"`
	// Roles split the engine into per-role containers (roles.go): a
	// frontend, the endpoint, and its prefill, decode or aggregated
	// workers. Left out, the engine is one container of Image and Args.
	Roles []Role `json:"roles,omitempty"`
}

// Sim reports whether the engine is the simulated engine (SimProfile), which
// the runner launches itself, rather than a container.
func (e Engine) Sim() bool { return e.SimProfile != "" }

// External reports whether the operator deployed the engine
// (engine.deployment: external): the runner launches nothing.
func (e Engine) External() bool { return e.Deployment == DeploymentExternal }

// Optimizations are declared by the vendor and published with the result.
type Optimizations struct {
	// KVCacheReuse declares prefix (KV cache) reuse across requests.
	KVCacheReuse bool `json:"kv_cache_reuse,omitempty"`
	// SpeculativeDecoding declares speculative decoding and its method.
	SpeculativeDecoding *SpeculativeDecoding `json:"speculative_decoding,omitempty"`
	// KVOffload declares offloading of the KV cache out of accelerator memory.
	KVOffload *KVOffload `json:"kv_offload,omitempty"`
	// Notes is free-form text published with the result.
	Notes string `json:"notes,omitempty"`
}

// SpeculativeDecoding declares a speculative decoding method.
type SpeculativeDecoding struct {
	// Method, e.g. "eagle", "eagle3", "mtp", "ngram", "draft-model".
	Method string `json:"method"`
	// DraftModel is the draft model or head, when the method has one.
	DraftModel string `json:"draft_model,omitempty"`
	// NumSpeculativeTokens is the number of tokens proposed per step.
	NumSpeculativeTokens int `json:"num_speculative_tokens,omitempty"`
}

// KVOffload declares where the KV cache is offloaded.
type KVOffload struct {
	// Target is "cpu" (host memory) or "disk".
	Target string `json:"target"`
	// CapacityGiB is the offload capacity in GiB, when fixed.
	CapacityGiB int `json:"capacity_gib,omitempty"`
}

// KVOffloadTargets lists the values of optimizations.kv_offload.target.
var KVOffloadTargets = []string{"cpu", "disk"}

// Benchmark says what to run against the engine.
type Benchmark struct {
	// Workload is a workload name, or name@sha256:<64 hex> pinned to one
	// version; intake pins a bare name (PinWorkload). Left out, Parse fills
	// in the profile's (Profile.Workload).
	Workload string `json:"workload,omitempty"`
	// Tiers are tier ids from the rules file, e.g. ["t20", "t50"].
	Tiers []string `json:"tiers"`
	// Rules is the rules version, e.g. "v1".
	Rules string `json:"rules"`
	// Profile is official, quick or test (a profile of the rules file).
	Profile string `json:"profile"`
	// Repeats is how many windows measure each tier at its N_max: the
	// search's confirmation window and Repeats − 1 repeat windows, whose
	// spread summary.json reports. 0 (left out) means DefaultRepeats.
	Repeats int `json:"repeats,omitempty"`
}

// Repeat counts: DefaultRepeats for a submission that names none,
// RetestRepeats for a retest (set by the retest bot), MaxRepeats the most
// a submission may ask for (each repeat is a full measurement window).
const (
	DefaultRepeats = 1
	RetestRepeats  = 3
	MaxRepeats     = 10
)

// RepeatCount is Repeats, or DefaultRepeats when left out.
func (b Benchmark) RepeatCount() int {
	if b.Repeats <= 0 {
		return DefaultRepeats
	}
	return b.Repeats
}

// Retest says whether to re-run the configuration on new framework releases.
type Retest struct {
	// OnNewFrameworkRelease re-enqueues the configuration when the framework
	// publishes a release.
	OnNewFrameworkRelease bool `json:"on_new_framework_release,omitempty"`
	// ImageTemplate gives the image of a release, "{version}" replaced by the
	// release's version, e.g. "lmsysorg/sglang:v{version}"; the retest watcher
	// pins it to a digest.
	ImageTemplate string `json:"image_template,omitempty"`
	// Every retests the configuration as published (same image) when its
	// latest result is older than this; left out, the retest watcher's
	// default (--every) applies. At least MinRetestEvery.
	Every *Duration `json:"every,omitempty"`
}

// MinRetestEvery is the shortest retest.every: a scheduled retest takes a
// GPU node for the whole benchmark.
const MinRetestEvery = 24 * time.Hour
