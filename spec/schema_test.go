package spec

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(Schema()))
	if err != nil {
		t.Fatalf("submission.schema.json: %v", err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("submission.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("submission.schema.json")
	if err != nil {
		t.Fatalf("compile submission.schema.json: %v", err)
	}
	return sch
}

// schemaVerdict validates a YAML document with the JSON Schema, as an editor
// would after reading the YAML.
func schemaVerdict(t *testing.T, sch *jsonschema.Schema, doc string) error {
	t.Helper()
	js, err := yaml.YAMLToJSON([]byte(doc))
	if err != nil {
		return err
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
	if err != nil {
		// YAMLToJSON writes control characters as \x1b, which JSON has
		// not: go through Go values instead.
		var v any
		if yerr := yaml.Unmarshal([]byte(doc), &v); yerr != nil {
			return err
		}
		if js, err = json.Marshal(v); err != nil {
			return err
		}
		if inst, err = jsonschema.UnmarshalJSON(bytes.NewReader(js)); err != nil {
			return err
		}
	}
	return sch.Validate(inst)
}

const baseDoc = `apiVersion: agentwatt.dev/v1
kind: Submission
metadata:
  vendor: demo
  name: sim-tiny
  contact: demo@agentwatt.dev
model:
  id: sim
  revision: tiny
  precision: bf16
system:
  accelerator: sim
  accelerators: 1
  topology: single-node
framework:
  name: sim
  version: "1"
engine:
  sim_profile: tiny
  ready_timeout: 30s
benchmark:
  workload: agentic-coding-sample
  tiers: [t20]
  rules: v1
  profile: quick
`

// imageDoc is baseDoc as an 8xH200 vLLM container.
var imageDoc = edit(baseDoc,
	"  accelerator: sim\n  accelerators: 1", "  accelerator: h200\n  accelerators: 8",
	"  name: sim\n  version: \"1\"", "  name: vllm\n  version: 0.11.0",
	"  sim_profile: tiny", "  image: vllm/vllm-openai:v0.11.0@sha256:"+strings.Repeat("ab", 32),
	"  id: sim", "  id: meta-llama/Llama-3.1-70B-Instruct",
	"  profile: quick", "  profile: official",
	"  ready_timeout: 30s", "  ready_timeout: 20m")

// rolesDoc is imageDoc as a disaggregated engine of three roles.
var rolesDoc = edit(imageDoc,
	"  topology: single-node", "  topology: single-node\n  disaggregation: {prefill_workers: 2, decode_workers: 1}",
	"  ready_timeout: 20m", `  roles:
    - {name: frontend, replicas: 1, args: ["--port={port}"]}
    - {name: prefill, replicas: 2, gpus_per_replica: 2, args: ["--port={port}", "--dist-init-addr={leader_addr}", "--nnodes={nnodes}", "--node-rank={rank}"]}
    - {name: decode, replicas: 1, gpus_per_replica: 4, env: {DECODE_ONLY: "1"}}
  ready_timeout: 20m`)

// edit applies old → new replacements to doc, each of which must apply.
func edit(doc string, pairs ...string) string {
	for i := 0; i < len(pairs); i += 2 {
		if !strings.Contains(doc, pairs[i]) {
			panic("edit: " + pairs[i] + " not in document")
		}
		doc = strings.Replace(doc, pairs[i], pairs[i+1], 1)
	}
	return doc
}

// TestSchemaAgreesWithParse runs the same documents through the JSON Schema
// and through Parse: both must accept or both must refuse.
func TestSchemaAgreesWithParse(t *testing.T) {
	sch := compileSchema(t)
	tests := []struct {
		name  string
		doc   string
		valid bool
	}{
		{"base", baseDoc, true},
		{"image", imageDoc, true},
		{"full optional fields", edit(imageDoc,
			"  topology: single-node", "  topology: multi-node\n  disaggregation: {prefill_workers: 2, decode_workers: 6}\n  power_limit_w: 700",
			"  ready_timeout: 20m", "  args: [\"--port={port}\"]\n  env: {VLLM_X: \"1\", _Y: \"\"}\n  health_path: /v1/health\n  ready_timeout: 20m",
			"benchmark:", "optimizations:\n  kv_cache_reuse: true\n  speculative_decoding: {method: eagle3, draft_model: x/y, num_speculative_tokens: 4}\n  kv_offload: {target: cpu, capacity_gib: 512}\n  notes: hi\nretest:\n  on_new_framework_release: true\n  image_template: vllm/vllm-openai:v{version}\nbenchmark:"), true},
		{"pinned workload", edit(baseDoc, "agentic-coding-sample", "agentic-coding-sample@sha256:"+strings.Repeat("0f", 32)), true},
		{"registry with port", edit(imageDoc, "vllm/vllm-openai:v0.11.0@", "registry.local:5000/team/vllm:v1@"), true},
		{"retest off without template", edit(imageDoc, "benchmark:", "retest: {on_new_framework_release: false}\nbenchmark:"), true},

		{"missing contact", edit(baseDoc, "  contact: demo@agentwatt.dev\n", ""), false},
		{"missing benchmark", baseDoc[:strings.Index(baseDoc, "benchmark:")], false},
		{"unknown root field", baseDoc + "extra: 1\n", false},
		{"unknown nested field", edit(baseDoc, "  accelerators: 1", "  acelerators: 1"), false},
		{"apiVersion v2", edit(baseDoc, "agentwatt.dev/v1", "agentwatt.dev/v2"), false},
		{"kind", edit(baseDoc, "kind: Submission", "kind: Rules"), false},
		{"vendor upper-case", edit(baseDoc, "vendor: demo", "vendor: Demo"), false},
		{"name not a DNS label", edit(baseDoc, "name: sim-tiny", "name: sim_tiny"), false},
		{"contact", edit(baseDoc, "demo@agentwatt.dev", "nobody"), false},
		{"model unknown", edit(baseDoc, "id: sim", "id: acme/unknown-model"), false},
		{"revision with space", edit(baseDoc, "revision: tiny", "revision: a b"), false},
		{"accelerators zero", edit(baseDoc, "accelerators: 1", "accelerators: 0"), false},
		{"accelerators string", edit(baseDoc, "accelerators: 1", "accelerators: \"1\""), false},
		{"accelerators float", edit(baseDoc, "accelerators: 1", "accelerators: 1.5"), false},
		{"accelerator unknown", edit(imageDoc, "accelerator: h200", "accelerator: h2000"), false},
		{"topology unknown", edit(baseDoc, "topology: single-node", "topology: cluster"), false},
		{"disaggregation zero", edit(baseDoc, "  topology: single-node", "  topology: single-node\n  disaggregation: {prefill_workers: 0, decode_workers: 1}"), false},
		{"power limit zero", edit(imageDoc, "  topology: single-node", "  topology: single-node\n  power_limit_w: 0"), false},
		{"version as number", edit(imageDoc, "version: 0.11.0", "version: 0.10"), false},
		{"unpinned image", edit(imageDoc, "@sha256:"+strings.Repeat("ab", 32), ""), false},
		{"short digest", edit(imageDoc, strings.Repeat("ab", 32), "abcd"), false},
		{"image and sim profile", edit(imageDoc, "  ready_timeout: 20m", "  sim_profile: tiny\n  ready_timeout: 20m"), false},
		{"neither image nor sim profile", edit(baseDoc, "  sim_profile: tiny\n", ""), false},
		{"sim profile empty", edit(baseDoc, "sim_profile: tiny", "sim_profile: \"\""), false},
		{"sim profile upper-case", edit(baseDoc, "sim_profile: tiny", "sim_profile: Tiny"), false},
		{"engine.command", edit(baseDoc, "  sim_profile: tiny", "  sim_profile: tiny\n  command: [sh, -c, \"cat runner.key\"]"), false},
		{"engine.command alone", edit(baseDoc, "  sim_profile: tiny", "  command: [agentwatt, sim, serve]"), false},
		{"engine.command with an image", edit(imageDoc, "  ready_timeout: 20m", "  command: [vllm, serve]\n  ready_timeout: 20m"), false},
		{"sim profile outside sim", edit(imageDoc, "  image: vllm/vllm-openai:v0.11.0@sha256:"+strings.Repeat("ab", 32), "  sim_profile: tiny"), false},
		{"sim with args", edit(baseDoc, "  ready_timeout", "  args: [--profiles, /work/runner.key]\n  ready_timeout"), false},
		{"sim accelerator, vllm framework", edit(baseDoc, "  sim_profile: tiny", "  image: a/b@sha256:"+strings.Repeat("ab", 32), "  name: sim\n", "  name: vllm\n"), false},
		{"sim framework with an image", edit(baseDoc, "  sim_profile: tiny", "  image: a/b@sha256:"+strings.Repeat("ab", 32)), false},
		{"roles", rolesDoc, true},
		{"roles with their own image", edit(rolesDoc, "{name: decode, replicas: 1,", "{name: decode, image: \"a/b@sha256:"+strings.Repeat("cd", 32)+"\", replicas: 1,"), true},
		{"aggregated workers", edit(rolesDoc, "\n  disaggregation: {prefill_workers: 2, decode_workers: 1}", "",
			"    - {name: decode, replicas: 1, gpus_per_replica: 4, env: {DECODE_ONLY: \"1\"}}\n", "",
			"name: prefill, replicas: 2, gpus_per_replica: 2", "name: worker, replicas: 4, gpus_per_replica: 2"), true},
		{"external", edit(imageDoc, "  ready_timeout: 20m", "  deployment: external\n  ready_timeout: 20m"), true},
		{"external with roles", edit(rolesDoc, "  ready_timeout: 20m", "  deployment: external\n  ready_timeout: 20m"), true},
		{"launched written out", edit(imageDoc, "  ready_timeout: 20m", "  deployment: launched\n  ready_timeout: 20m"), true},
		{"all placeholders in engine.args", edit(imageDoc, "  ready_timeout", "  args: [\"--port={port}\", \"--rank={rank}\", \"--nnodes={nnodes}\", \"--leader={leader_addr}\"]\n  ready_timeout"), true},
		{"deployment unknown", edit(imageDoc, "  ready_timeout: 20m", "  deployment: k8s\n  ready_timeout: 20m"), false},
		{"external sim", edit(baseDoc, "  ready_timeout", "  deployment: external\n  ready_timeout"), false},
		{"sim with roles", edit(baseDoc, "  ready_timeout", "  roles: [{name: frontend, replicas: 1}, {name: worker, replicas: 1, gpus_per_replica: 1}]\n  ready_timeout"), false},
		{"roles empty", edit(imageDoc, "  ready_timeout", "  roles: []\n  ready_timeout"), false},
		{"roles and engine.args", edit(rolesDoc, "  roles:", "  args: [\"--port={port}\"]\n  roles:"), false},
		{"role unknown", edit(rolesDoc, "name: decode", "name: router"), false},
		{"role field unknown", edit(rolesDoc, "name: decode, replicas: 1,", "name: decode, replicas: 1, gpus: 4,"), false},
		{"role without replicas", edit(rolesDoc, "name: decode, replicas: 1,", "name: decode,"), false},
		{"role replicas zero", edit(rolesDoc, "name: decode, replicas: 1,", "name: decode, replicas: 0,"), false},
		{"role replicas too many", edit(rolesDoc, "name: decode, replicas: 1,", "name: decode, replicas: 257,"), false},
		{"worker without GPUs", edit(rolesDoc, "replicas: 1, gpus_per_replica: 4", "replicas: 1"), false},
		{"frontend with GPUs", edit(rolesDoc, "{name: frontend, replicas: 1,", "{name: frontend, replicas: 1, gpus_per_replica: 1,"), false},
		{"two frontends", edit(rolesDoc, "{name: frontend, replicas: 1,", "{name: frontend, replicas: 2,"), false},
		{"no frontend", edit(rolesDoc, "    - {name: frontend, replicas: 1, args: [\"--port={port}\"]}\n", ""), false},
		{"role image unpinned", edit(rolesDoc, "{name: decode, replicas: 1,", "{name: decode, image: a/b:latest, replicas: 1,"), false},
		{"role env name", edit(rolesDoc, "DECODE_ONLY", "1DECODE"), false},
		{"role args not a list", edit(rolesDoc, "env: {DECODE_ONLY: \"1\"}", "args: --x"), false},
		{"secrets", edit(imageDoc, "  ready_timeout: 20m", "  secrets: [HF_TOKEN, NGC_API_KEY]\n  ready_timeout: 20m"), true},
		{"secret name", edit(imageDoc, "  ready_timeout: 20m", "  secrets: [HF-TOKEN]\n  ready_timeout: 20m"), false},
		{"secret twice", edit(imageDoc, "  ready_timeout: 20m", "  secrets: [HF_TOKEN, HF_TOKEN]\n  ready_timeout: 20m"), false},
		{"secrets not a list", edit(imageDoc, "  ready_timeout: 20m", "  secrets: HF_TOKEN\n  ready_timeout: 20m"), false},
		{"h200, sim framework", edit(imageDoc, "  name: vllm\n", "  name: sim\n"), false},
		{"ready_timeout integer", edit(baseDoc, "ready_timeout: 30s", "ready_timeout: 30"), false},
		{"ready_timeout words", edit(baseDoc, "ready_timeout: 30s", "ready_timeout: thirty seconds"), false},
		{"health path relative", edit(baseDoc, "  ready_timeout", "  health_path: health\n  ready_timeout"), false},
		{"env name", edit(baseDoc, "  ready_timeout", "  env: {1X: a}\n  ready_timeout"), false},
		{"env value integer", edit(baseDoc, "  ready_timeout", "  env: {X: 1}\n  ready_timeout"), false},
		{"args not a list", edit(baseDoc, "  ready_timeout", "  args: --port\n  ready_timeout"), false},
		{"kv offload target", edit(baseDoc, "benchmark:", "optimizations: {kv_offload: {target: nvme}}\nbenchmark:"), false},
		{"kv offload capacity zero", edit(baseDoc, "benchmark:", "optimizations: {kv_offload: {target: cpu, capacity_gib: 0}}\nbenchmark:"), false},
		{"speculative without method", edit(baseDoc, "benchmark:", "optimizations: {speculative_decoding: {num_speculative_tokens: 2}}\nbenchmark:"), false},
		{"kv_cache_reuse yes", edit(baseDoc, "benchmark:", "optimizations: {kv_cache_reuse: yes}\nbenchmark:"), false},
		{"repeats", edit(baseDoc, "tiers: [t20]", "tiers: [t20]\n  repeats: 3"), true},
		{"repeats the most", edit(baseDoc, "tiers: [t20]", "tiers: [t20]\n  repeats: 10"), true},
		{"repeats zero", edit(baseDoc, "tiers: [t20]", "tiers: [t20]\n  repeats: 0"), false},
		{"repeats negative", edit(baseDoc, "tiers: [t20]", "tiers: [t20]\n  repeats: -1"), false},
		{"repeats too many", edit(baseDoc, "tiers: [t20]", "tiers: [t20]\n  repeats: 11"), false},
		{"repeats a string", edit(baseDoc, "tiers: [t20]", "tiers: [t20]\n  repeats: three"), false},
		{"tiers empty", edit(baseDoc, "tiers: [t20]", "tiers: []"), false},
		{"tier unknown", edit(baseDoc, "tiers: [t20]", "tiers: [t30]"), false},
		{"tier twice", edit(baseDoc, "tiers: [t20]", "tiers: [t20, t20]"), false},
		{"tiers a string", edit(baseDoc, "tiers: [t20]", "tiers: t20"), false},
		{"profile unknown", edit(baseDoc, "profile: quick", "profile: fast"), false},
		{"rules unknown", edit(baseDoc, "rules: v1", "rules: v2"), false},
		{"workload name", edit(baseDoc, "agentic-coding-sample", "Agentic Coding"), false},
		{"retest without template", edit(imageDoc, "benchmark:", "retest: {on_new_framework_release: true}\nbenchmark:"), false},
		{"retest of the sim", edit(baseDoc, "benchmark:", "retest: {on_new_framework_release: true, image_template: \"a/b:{version}\"}\nbenchmark:"), false},
		{"template without version", edit(imageDoc, "benchmark:", "retest: {image_template: \"vllm/vllm-openai:latest\"}\nbenchmark:"), false},
		{"ESC in a name", edit(baseDoc, "name: sim-tiny", `name: "sim\u001b[31m"`), false},
		{"not a mapping", "- a\n- b\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, goErr := Parse("case.yaml", []byte(tt.doc))
			schErr := schemaVerdict(t, sch, tt.doc)
			if (goErr == nil) != tt.valid {
				t.Errorf("Parse: valid = %v, want %v\n%v", goErr == nil, tt.valid, goErr)
			}
			if (schErr == nil) != tt.valid {
				t.Errorf("schema: valid = %v, want %v\n%v", schErr == nil, tt.valid, schErr)
			}
		})
	}
}

// TestSchemaGoOnlyChecks lists what Parse refuses and the schema cannot see,
// so that the difference is deliberate and known.
func TestSchemaGoOnlyChecks(t *testing.T) {
	sch := compileSchema(t)
	tests := []struct{ name, doc string }{
		{"ready_timeout outside the profile's bounds", edit(baseDoc, "ready_timeout: 30s", "ready_timeout: 3h")},
		{"ready_timeout zero", edit(baseDoc, "ready_timeout: 30s", "ready_timeout: 0s")},
		{"placeholder other than {port}", edit(imageDoc, "  ready_timeout", "  args: [\"--port={PORT}\"]\n  ready_timeout")},
		{"ESC in the notes", edit(baseDoc, "benchmark:", "optimizations: {notes: \"\\u001b]0;title\\u0007\"}\nbenchmark:")},
		{"BEL in the notes", edit(baseDoc, "benchmark:", "optimizations: {notes: \"ding\\u0007\"}\nbenchmark:")},
		{"C1 CSI in a revision", edit(baseDoc, "revision: tiny", `revision: "tiny\u009b2J"`)},
		{"DEL in an arg", edit(imageDoc, "  ready_timeout", "  args: [\"--x\\u007f\"]\n  ready_timeout")},
		{"credential by name in env", edit(imageDoc, "  ready_timeout", "  env: {HF_TOKEN: abc}\n  ready_timeout")},
		{"credential by shape in env", edit(imageDoc, "  ready_timeout", "  env: {X: AKIAIOSFODNN7EXAMPLE}\n  ready_timeout")},
		{"credential by shape in args", edit(imageDoc, "  ready_timeout", "  args: [--token, hf_abcdefghijklmnopqrstuvwxyz0123]\n  ready_timeout")},
		{"secret also in env", edit(imageDoc, "  ready_timeout", "  env: {HF_HOME: /x}\n  secrets: [HF_HOME]\n  ready_timeout")},
		{"secret the runner sets", edit(imageDoc, "  ready_timeout", "  secrets: [DOCKER_HOST]\n  ready_timeout")},
		{"placeholder other than the four", edit(rolesDoc, "--node-rank={rank}", "--node-rank={node_rank}")},
		{"roles hold fewer GPUs than the system", edit(rolesDoc, "accelerators: 8", "accelerators: 16")},
		{"roles disagree with disaggregation", edit(rolesDoc, "prefill_workers: 2", "prefill_workers: 3")},
		{"prefill and decode without disaggregation", edit(rolesDoc, "\n  disaggregation: {prefill_workers: 2, decode_workers: 1}", "")},
		{"prefill without decode", edit(rolesDoc, "    - {name: decode, replicas: 1, gpus_per_replica: 4, env: {DECODE_ONLY: \"1\"}}\n", "", "replicas: 2, gpus_per_replica: 2", "replicas: 2, gpus_per_replica: 4")},
		{"frontend alone", edit(rolesDoc, "\n  disaggregation: {prefill_workers: 2, decode_workers: 1}", "",
			"    - {name: decode, replicas: 1, gpus_per_replica: 4, env: {DECODE_ONLY: \"1\"}}\n", "",
			"    - {name: prefill, replicas: 2, gpus_per_replica: 2, args: [\"--port={port}\", \"--dist-init-addr={leader_addr}\", \"--nnodes={nnodes}\", \"--node-rank={rank}\"]}\n", "")},
		{"worker with disaggregation", edit(rolesDoc, "    - {name: decode, replicas: 1, gpus_per_replica: 4, env: {DECODE_ONLY: \"1\"}}\n", "",
			"name: prefill, replicas: 2, gpus_per_replica: 2", "name: worker, replicas: 4, gpus_per_replica: 2")},
		{"role listed twice", edit(rolesDoc, "{name: decode, replicas: 1, gpus_per_replica: 4,", "{name: prefill, replicas: 1, gpus_per_replica: 4,")},
		{"role env also in engine.env", edit(rolesDoc, "  roles:", "  env: {DECODE_ONLY: \"0\"}\n  roles:")},
		{"credential in a role's args", edit(rolesDoc, "\"--port={port}\"]}", "\"--port={port}\", --key, sk-abcdefghijklmnopqrstuvwxyz]}")},
		{"loader variable for the sim", edit(baseDoc, "  ready_timeout", "  env: {LD_PRELOAD: /tmp/x.so}\n  ready_timeout")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Parse("case.yaml", []byte(tt.doc)); err == nil {
				t.Errorf("Parse accepted it")
			}
			if err := schemaVerdict(t, sch, tt.doc); err != nil {
				t.Errorf("the schema refuses it too (%v): move the case to TestSchemaAgreesWithParse", err)
			}
		})
	}
}

// TestSchemaOnFiles runs the example and test files through the schema too.
// Files whose problem lies before or outside the schema (bytes, syntax,
// duplicate keys, aliases, the profile's bounds) are left out.
func TestSchemaOnFiles(t *testing.T) {
	sch := compileSchema(t)
	skip := map[string]string{
		"alias-bomb":         "expanding it is the attack",
		"syntax-error":       "not YAML",
		"non-utf8":           "not UTF-8",
		"utf16":              "not UTF-8",
		"empty":              "no document",
		"two-documents":      "YAMLToJSON reads the first document only",
		"duplicate-key":      "JSON objects cannot hold duplicate keys",
		"ready-timeout":      "profile bounds are Go-only",
		"tags-and-merge":     "merge keys and undefined aliases are YAML-level",
		"crlf-unknown-field": "same as unknown-field",
		"control-chars":      "control characters are Go-only",
		"credential-env":     "credentials and reserved names are Go-only",
		"roles-mismatch":     "the roles' sums are Go-only",
	}
	files, _ := filepath.Glob("testdata/*/*.yaml")
	examples, _ := filepath.Glob("../examples/submissions/*.yaml")
	for _, file := range append(files, examples...) {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		if _, ok := skip[name]; ok {
			continue
		}
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			_, goErr := Parse(file, data)
			schErr := schemaVerdict(t, sch, string(data))
			if (goErr == nil) != (schErr == nil) {
				t.Errorf("Parse valid = %v, schema valid = %v\nParse: %v\nschema: %v", goErr == nil, schErr == nil, goErr, schErr)
			}
		})
	}
}

// schemaNode walks properties by a dotted path.
func schemaNode(t *testing.T, root map[string]any, path string) map[string]any {
	t.Helper()
	n := root
	for _, name := range strings.Split(path, ".") {
		props, _ := n["properties"].(map[string]any)
		next, ok := props[name].(map[string]any)
		if !ok {
			t.Fatalf("schema has no %s", path)
		}
		n = next
	}
	return n
}

func schemaDoc(t *testing.T) map[string]any {
	t.Helper()
	var root map[string]any
	if err := json.Unmarshal(Schema(), &root); err != nil {
		t.Fatal(err)
	}
	return root
}

// TestSchemaMatchesTypes walks the Go types and the schema together: every
// Go field is a schema property and the other way round, required exactly
// when the field lacks omitempty, with the matching JSON type.
func TestSchemaMatchesTypes(t *testing.T) {
	var walk func(t *testing.T, typ reflect.Type, n map[string]any, path string)
	walk = func(t *testing.T, typ reflect.Type, n map[string]any, path string) {
		if typ.Kind() == reflect.Pointer {
			typ = typ.Elem()
		}
		wantType := map[reflect.Kind]string{
			reflect.String: "string", reflect.Int: "integer", reflect.Bool: "boolean",
			reflect.Float64: "number", reflect.Slice: "array", reflect.Map: "object", reflect.Struct: "object",
		}[typ.Kind()]
		if typ == durationType {
			wantType = "string"
			if n["pattern"] != reDuration.String() {
				t.Errorf("%s: a duration wants pattern %s", path, reDuration)
			}
		}
		if got, _ := n["type"].(string); got != wantType {
			if _, isConst := n["const"].(string); !(isConst && wantType == "string") {
				t.Errorf("%s: schema type %q, Go wants %q", path, got, wantType)
			}
		}
		switch {
		case typ == durationType:
		case typ.Kind() == reflect.Struct:
			if n["additionalProperties"] != false {
				t.Errorf("%s: additionalProperties must be false", path)
			}
			props, _ := n["properties"].(map[string]any)
			var goNames, goRequired []string
			for _, f := range structFields(typ) {
				goNames = append(goNames, f.name)
				if f.required {
					goRequired = append(goRequired, f.name)
				}
				sub, ok := props[f.name].(map[string]any)
				if !ok {
					t.Errorf("%s: Go field %q is not in the schema", path, joinPath(path, f.name))
					continue
				}
				walk(t, typ.Field(f.index).Type, sub, joinPath(path, f.name))
			}
			for name := range props {
				if !slices.Contains(goNames, name) {
					t.Errorf("%s: schema property %q is not a Go field", path, joinPath(path, name))
				}
			}
			var schRequired []string
			reqs, _ := n["required"].([]any)
			for _, r := range reqs {
				schRequired = append(schRequired, r.(string))
			}
			sort.Strings(goRequired)
			sort.Strings(schRequired)
			if !slices.Equal(goRequired, schRequired) {
				t.Errorf("%s: required %v in Go, %v in the schema", path, goRequired, schRequired)
			}
		case typ.Kind() == reflect.Slice:
			items, _ := n["items"].(map[string]any)
			walk(t, typ.Elem(), items, path+"[]")
		case typ.Kind() == reflect.Map:
			ap, _ := n["additionalProperties"].(map[string]any)
			walk(t, typ.Elem(), ap, path+".*")
		}
	}
	walk(t, reflect.TypeFor[Submission](), schemaDoc(t), "")
}

// TestSchemaEnumsAndPatterns holds the schema's enums to the Go lists and
// the rules files, and its patterns to the Go patterns.
func TestSchemaEnumsAndPatterns(t *testing.T) {
	root := schemaDoc(t)
	rules, err := LoadRules("v1")
	if err != nil {
		t.Fatal(err)
	}
	models, err := Models()
	if err != nil {
		t.Fatal(err)
	}
	enum := func(n map[string]any) []string {
		var out []string
		for _, v := range n["enum"].([]any) {
			out = append(out, v.(string))
		}
		return out
	}
	tests := []struct {
		path string
		got  []string
		want []string
	}{
		{"system.accelerator", enum(schemaNode(t, root, "system.accelerator")), KnownAccelerators},
		{"model.precision", enum(schemaNode(t, root, "model.precision")), Precisions},
		{"system.topology", enum(schemaNode(t, root, "system.topology")), Topologies},
		{"optimizations.kv_offload.target", enum(schemaNode(t, root, "optimizations.kv_offload.target")), KVOffloadTargets},
		{"benchmark.tiers", enum(schemaNode(t, root, "benchmark.tiers")["items"].(map[string]any)), rules.TierIDs()},
		{"benchmark.profile", enum(schemaNode(t, root, "benchmark.profile")), rules.ProfileNames()},
		{"benchmark.rules", enum(schemaNode(t, root, "benchmark.rules")), RulesVersions()},
		{"model.id", enum(schemaNode(t, root, "model.id")), models.IDs()},
	}
	for _, tt := range tests {
		if !slices.Equal(tt.got, tt.want) {
			t.Errorf("%s: schema enum %v, Go/rules %v", tt.path, tt.got, tt.want)
		}
	}
	for path, re := range fieldPatterns {
		if got := schemaNode(t, root, path)["pattern"]; got != re.String() {
			t.Errorf("%s: schema pattern %v, Go pattern %s", path, got, re)
		}
	}
	env := schemaNode(t, root, "engine.env")["propertyNames"].(map[string]any)
	if env["pattern"] != reEnvName.String() {
		t.Errorf("engine.env names: schema pattern %v, Go pattern %s", env["pattern"], reEnvName)
	}
	roles := schemaNode(t, root, "engine.roles")["items"].(map[string]any)
	if got := enum(roles["properties"].(map[string]any)["name"].(map[string]any)); !slices.Equal(got, RoleNames) {
		t.Errorf("engine.roles[].name: schema enum %v, Go %v", got, RoleNames)
	}
	if got := roles["properties"].(map[string]any)["image"].(map[string]any)["pattern"]; got != reImage.String() {
		t.Errorf("engine.roles[].image: schema pattern %v, Go pattern %s", got, reImage)
	}
	if got := enum(schemaNode(t, root, "engine.deployment")); !slices.Equal(got, Deployments) {
		t.Errorf("engine.deployment: schema enum %v, Go %v", got, Deployments)
	}
	secrets := schemaNode(t, root, "engine.secrets")["items"].(map[string]any)
	if secrets["pattern"] != reEnvName.String() {
		t.Errorf("engine.secrets: schema pattern %v, Go pattern %s", secrets["pattern"], reEnvName)
	}
}
