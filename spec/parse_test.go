package spec

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// golden compares got with the file at path, or rewrites it under -update.
func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./spec -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test ./spec -update rewrites it)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

var problemLine = regexp.MustCompile(`^[a-z0-9/_.-]+\.yaml:[1-9][0-9]*:[1-9][0-9]*: \S`)

// problemsOf parses and returns the problems, failing when there are none.
func problemsOf(t *testing.T, file string, data []byte) Problems {
	t.Helper()
	s, err := Parse(file, data)
	if err == nil {
		t.Fatalf("Parse(%s) accepted an invalid document", file)
	}
	if s != nil {
		t.Errorf("Parse(%s) returned a submission with its error", file)
	}
	var ps Problems
	if !errors.As(err, &ps) || len(ps) == 0 {
		t.Fatalf("Parse(%s) error is %T %v, want Problems", file, err, err)
	}
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("errors.Is(err, ErrInvalid) = false")
	}
	for _, line := range strings.Split(ps.Error(), "\n") {
		if !problemLine.MatchString(line) {
			t.Errorf("problem line %q is not FILE:LINE:COL: message", line)
		}
	}
	return ps
}

// TestParseInvalid runs every broken file in testdata/invalid through Parse
// and compares all of its problems with the golden FILE:LINE:COL lines.
func TestParseInvalid(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test files: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".yaml"), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			ps := problemsOf(t, file, data)
			golden(t, strings.TrimSuffix(file, ".yaml")+".golden", ps.Error()+"\n")
		})
	}
}

// TestParseInvalidFacts states, apart from the golden files, what each kind
// of broken input must produce, so that a careless -update cannot hide a
// regression.
func TestParseInvalidFacts(t *testing.T) {
	tests := []struct {
		file string
		want []string // substrings of the problem lines, in order
	}{
		{"syntax-error", []string{"syntax-error.yaml:8:3: syntax error:"}},
		{"unknown-field", []string{
			`:13:3: system.acelerators: unknown field "acelerators" (did you mean "accelerators"?)`,
			`:21:3: engine.readyTimeout: unknown field "readyTimeout" (did you mean "ready_timeout"?)`,
			`:22:3: engine.colour: unknown field "colour"`}},
		{"every-stage", []string{
			`:10:3: metadata.colour: unknown field "colour"`,
			`:11:1: model.revision: required field is missing`,
			`:13:14: model.precision: unknown precision "fp7" (did you mean "fp8"?); known: fp32, bf16`,
			`:23:18: engine.ready_timeout: 3h0m0s is outside the quick profile's bounds`}},
		{"crlf-unknown-field", []string{`:13:3: system.acelerators: unknown field`}},
		{"duplicate-key", []string{
			":7:3: metadata.name: duplicate key (first at line 5, column 3)",
			":23:5: engine.env.A: duplicate key (first at line 22, column 5)",
			":30:1: benchmark: duplicate key (first at line 25, column 1)"}},
		{"wrong-types", []string{
			":13:17: system.accelerators: want an integer, got a string",
			":14:13: system.topology: want a string, got a list",
			":15:18: system.power_limit_w: want an integer, got a number",
			`:18:12: framework.version: want a string, got a number (quote it: "0.10")`,
			":20:16: engine.sim_profile: want a string, got a list",
			":22:27: engine.env.CUDA_VISIBLE_DEVICES: want a string, got an integer",
			":23:18: engine.ready_timeout: want a duration",
			":25:19: optimizations.kv_cache_reuse: want true or false, got a string",
			":28:10: benchmark.tiers: want a list of strings, got a string"}},
		{"missing-required", []string{
			"benchmark: required field is missing",
			":3:1: metadata.name: required field is missing",
			":6:1: model.revision: required field is missing",
			":13:1: framework.version: required field is missing",
			":15:1: engine.ready_timeout: required field is missing"}},
		{"unpinned-image", []string{`:19:10: engine.image: image "vllm/vllm-openai:latest" is not pinned`}},
		{"engine-command", []string{":22:3: engine.command: a submission cannot choose a program for the runner to execute"}},
		{"control-chars", []string{
			`:7:9: metadata.name: holds the control character U+001B (ESC) at character 4`,
			`:11:13: model.revision: holds the control character U+009B (CSI)`,
			`:19:12: framework.version: holds the control character U+000D (CR)`,
			`:23:15: engine.env.SIM\x1bX: the name holds the control character U+001B (ESC)`,
			`:24:15: engine.env.SIM_NOTE: holds the control character U+0009 (TAB)`,
			`:27:10: optimizations.notes: holds the control character U+0007 (BEL) at character 42`}},
		{"credential-env", []string{
			`:22:30: engine.args[2]: looks like an API secret key (sk-…)`,
			`:24:15: engine.env.HF_TOKEN: HF_TOKEN names a credential`, "engine.secrets",
			`:25:28: engine.env.AWS_SECRET_ACCESS_KEY: AWS_SECRET_ACCESS_KEY names a credential`,
			`:26:17: engine.env.MY_SETTING: the value looks like a GitHub token`,
			`:28:26: engine.secrets[1]: secret NGC_API_KEY is listed twice`,
			`:28:39: engine.secrets[2]: "not a name" is not an environment variable name`,
			`:28:53: engine.secrets[3]: PATH is set by the runner`,
			`:28:59: engine.secrets[4]: MY_SETTING is also set in engine.env`}},
		{"ready-timeout", []string{":20:18: engine.ready_timeout: 3h0m0s is outside the quick profile's bounds [5s, 1h0m0s]"}},
		{"unknown-tier-profile", []string{
			`:23:16: benchmark.tiers[1]: unknown tier "t30"`,
			`:23:21: benchmark.tiers[2]: tier "t20" is listed twice`,
			`:25:12: benchmark.profile: unknown profile "fast"`}},
		{"unknown-rules", []string{`:24:10: benchmark.rules: unknown rules version "v9"`}},
		{"alias-bomb", []string{":7:8: aliases expand the document by more than 10000 nodes"}},
		{"non-utf8", []string{":4:12: file is not valid UTF-8 (byte 0xe9)"}},
		{"utf16", []string{":1:1: file is not valid UTF-8"}},
		{"two-documents", []string{":4:11: a file holds one YAML document"}},
		{"empty", []string{":1:1: file is empty"}},
		{"not-a-mapping", []string{":1:1: a Submission is a YAML mapping of fields, not a list"}},
		{"tags-and-merge", []string{"merge keys (<<) are not supported", "tag !custom is not supported", "alias *nope refers to no anchor"}},
		{"image-and-sim-profile", []string{"exclude each other"}},
		{"roles", []string{
			`:20:9: engine.args: with engine.roles each role carries its own args`,
			`:24:17: engine.roles[0].replicas: the frontend is the one endpoint the runner drives: 1 replica, not 2`,
			`:25:25: engine.roles[0].gpus_per_replica: the frontend runs on CPUs`,
			`:26:14: engine.roles[0].args[0]: unknown placeholder {host_ip}: the runner fills only {port}, {rank}, {nnodes}, {leader_addr}`,
			`:27:13: engine.roles[1].name: unknown role "prefil" (did you mean "prefill"?)`,
			`:31:17: engine.roles[2].replicas: must be 1 to 256`,
			`:32:25: engine.roles[2].gpus_per_replica: must be 1 to 1024 for a decode role`,
			`:33:14: engine.roles[2].image: image "lmsysorg/sglang:latest" is not pinned`,
			`:34:21: engine.roles[2].env.SHARED: SHARED is also set in engine.env`,
			`:34:34: engine.roles[2].env.MY_KEY: MY_KEY names a credential`,
			`:34:82: engine.roles[2].env.1X: "1X" is not an environment variable name`,
			`:35:13: engine.roles[3].name: role decode is listed twice`}},
		{"roles-mismatch", []string{
			`:16:22: system.disaggregation.prefill_workers: 3, but the prefill role has 2 replicas`,
			`:24:5: engine.roles: the roles hold 6 GPUs (replicas × gpus_per_replica), system.accelerators is 8: they must be equal`}},
		{"roles-missing", []string{
			`:20:15: engine.deployment: unknown deployment "externl" (did you mean "external"?)`,
			`:22:5: engine.roles: needs a frontend role`}},
		{"roles-sim", []string{
			`:20:15: engine.deployment: the simulated engine is launched by the runner: it cannot be external`,
			`:22:5: engine.roles: the simulated engine takes no roles`}},
		{"no-engine", []string{"the sim framework runs only on the sim accelerator", ":7:1: engine: needs image"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			file := "testdata/invalid/" + tt.file + ".yaml"
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			got := problemsOf(t, file, data).Error()
			rest := got
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("problems lack %q (in order)\ngot:\n%s", w, got)
				}
				rest = rest[i+len(w):]
			}
		})
	}
}

// TestParseKitchenSink checks that one file's problems are all reported, not
// only the first.
func TestParseKitchenSink(t *testing.T) {
	const file = "testdata/invalid/kitchen-sink.yaml"
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	ps := problemsOf(t, file, data)
	fields := map[string]bool{}
	for _, p := range ps {
		fields[p.Field] = true
	}
	for _, f := range []string{
		"apiVersion", "kind", "metadata.vendor", "metadata.name", "metadata.contact",
		"model.id", "model.revision", "model.precision", "system.accelerator",
		"system.accelerators", "system.topology", "system.disaggregation.prefill_workers",
		"system.disaggregation.decode_workers", "system.power_limit_w", "framework.name",
		"engine.image", "engine.args[0]", "engine.args[1]", "engine.env.1BAD",
		"engine.health_path", "engine.ready_timeout",
		"optimizations.speculative_decoding.method",
		"optimizations.speculative_decoding.num_speculative_tokens",
		"optimizations.kv_offload.target", "optimizations.kv_offload.capacity_gib",
		"benchmark.workload", "benchmark.tiers", "retest.image_template",
	} {
		if !fields[f] {
			t.Errorf("no problem reported for %s", f)
		}
	}
	if fields["engine.args[2]"] {
		t.Errorf("a JSON argument with braces was taken for a placeholder")
	}
}

// TestParseLimits feeds generated hostile documents: each is refused with one
// clear problem, and the alias bomb within a small memory budget.
func TestParseLimits(t *testing.T) {
	head := "apiVersion: agentwatt.dev/v1\nkind: Submission\n"
	tests := []struct {
		name string
		data string
		want string
	}{
		{"too-large", head + "metadata:\n  notes: \"" + strings.Repeat("x", MaxFileSize) + "\"\n",
			"too-large.yaml:1:1: file is 1048644 bytes; the limit is 1048576 (1 MiB)"},
		{"deep-flow", "a: " + strings.Repeat("[", 2000) + strings.Repeat("]", 2000) + "\n",
			"deep-flow.yaml:1:68: document nests deeper than 64 levels"},
		{"deep-block", strings.Repeat("- ", 5000) + "x\n",
			"deep-block.yaml:1:129: document nests deeper than 64 levels"},
		{"too-many-tokens", head + "engine:\n  args: [" + strings.Repeat("a,", 6000) + "]\n",
			"too-many-tokens.yaml:1:1: document is too complex: 12012 YAML tokens, the limit is 10000"},
		{"too-many-words", head + "notes: " + strings.Repeat("a ", 200000) + "\n",
			"too-many-words.yaml:1:1: document is too complex: about 200008 YAML tokens"},
		{"control-char", head + "metadata:\n  vendor: de\x1bmo\n",
			"control-char.yaml:4:13: control character U+001B is not allowed"},
		{"nul", head + "\x00", "nul.yaml:3:1: control character U+0000 is not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := problemsOf(t, tt.name+".yaml", []byte(tt.data))
			if len(ps) != 1 || !strings.HasPrefix(ps[0].String(), tt.want) {
				t.Errorf("got %q, want one problem starting %q", ps.Error(), tt.want)
			}
			if tt.name == "too-large" && !errors.Is(ps, ErrTooLarge) {
				t.Errorf("errors.Is(ErrTooLarge) = false")
			}
		})
	}
}

// TestAliasBombMemory parses a billion-laughs document (9^9 nodes expanded)
// and checks that refusing it allocates little: the expansion is counted,
// never built.
func TestAliasBombMemory(t *testing.T) {
	data, err := os.ReadFile("testdata/invalid/alias-bomb.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err = Parse("bomb.yaml", data)
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "alias bomb") {
		t.Fatalf("got %v, want the alias bomb refused", err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
		t.Errorf("refusing the bomb allocated %d bytes, want < 8 MiB", alloc)
	}
}

func TestParseFileTooLarge(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(path, make([]byte, MaxFileSize+10), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ParseFile(path)
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "big.yaml:1:1: file is 1048586 bytes") {
		t.Errorf("got %v, want the file refused as too large", err)
	}
	if _, err := ParseFile(filepath.Join(t.TempDir(), "missing.yaml")); err == nil || errors.Is(err, ErrInvalid) {
		t.Errorf("a missing file: got %v, want an I/O error that is not ErrInvalid", err)
	}
}

// TestSecretsByName: engine.secrets names what the runner fills in; the
// names are in the canonical form (and so in the job), values never.
func TestSecretsByName(t *testing.T) {
	s := mustParse(t, edit(imageDoc, "  ready_timeout: 20m", "  secrets: [HF_TOKEN]\n  env: {TOKENIZERS_PARALLELISM: \"false\", HF_HUB_OFFLINE: \"1\"}\n  ready_timeout: 20m"))
	if !slices.Equal(s.Engine.Secrets, []string{"HF_TOKEN"}) {
		t.Errorf("secrets %v, want [HF_TOKEN]", s.Engine.Secrets)
	}
	c, err := s.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(c), `"secrets":["HF_TOKEN"]`) {
		t.Errorf("canonical form lacks the secret's name: %s", c)
	}
}

// TestParseValid parses the valid files and the examples and pins their
// canonical JSON in golden files.
func TestParseValid(t *testing.T) {
	for _, dir := range []string{"testdata/valid", "../examples/submissions"} {
		files, err := filepath.Glob(dir + "/*.yaml")
		if err != nil || len(files) == 0 {
			t.Fatalf("no files in %s: %v", dir, err)
		}
		for _, file := range files {
			name := strings.TrimSuffix(filepath.Base(file), ".yaml")
			t.Run(name, func(t *testing.T) {
				s, err := ParseFile(file)
				if err != nil {
					t.Fatalf("%s is invalid:\n%v", file, err)
				}
				if err := s.Validate(); err != nil {
					t.Errorf("Validate after Parse: %v", err)
				}
				c, err := s.Canonical()
				if err != nil {
					t.Fatal(err)
				}
				golden(t, "testdata/canonical/"+name+".json", string(c)+"\n")
			})
		}
	}
}

func TestExamples(t *testing.T) {
	tests := []struct {
		file      string
		pool      string
		topology  string
		sim       bool
		specMeth  string
		disaggred bool
	}{
		{"sim.yaml", "sim", TopologySingleNode, true, "", false},
		{"sim-rack.yaml", "simx72", TopologyRackScale, true, "", true},
		{"h200x8-vllm.yaml", "h200x8", TopologySingleNode, false, "", false},
		{"b300x8-sglang-spec.yaml", "b300x8", TopologySingleNode, false, "eagle", false},
		{"b300x8-disagg-sglang.yaml", "b300x8", TopologySingleNode, false, "", true},
		{"gb300-nvl72-dynamo.yaml", "gb300x72", TopologyRackScale, false, "mtp", true},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			s, err := ParseFile("../examples/submissions/" + tt.file)
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Pool(); got != tt.pool {
				t.Errorf("Pool() = %q, want %q", got, tt.pool)
			}
			if s.System.Topology != tt.topology {
				t.Errorf("topology = %q, want %q", s.System.Topology, tt.topology)
			}
			if s.Engine.Sim() != tt.sim {
				t.Errorf("Sim() = %v, want %v", s.Engine.Sim(), tt.sim)
			}
			meth := ""
			if s.Optimizations != nil && s.Optimizations.SpeculativeDecoding != nil {
				meth = s.Optimizations.SpeculativeDecoding.Method
			}
			if meth != tt.specMeth {
				t.Errorf("speculative decoding = %q, want %q", meth, tt.specMeth)
			}
			if (s.System.Disaggregation != nil) != tt.disaggred {
				t.Errorf("disaggregation = %+v", s.System.Disaggregation)
			}
			if tt.sim {
				if s.Engine.SimProfile == "" || len(s.Engine.Args) > 0 {
					t.Errorf("sim engine %+v: want a profile and no args (the runner writes the command line)", s.Engine)
				}
				return
			}
			if !strings.Contains(s.Engine.Image, "@sha256:") {
				t.Errorf("image %q is not pinned", s.Engine.Image)
			}
			args := s.Engine.Args
			if front, ok := s.Engine.Role(RoleFrontend); ok {
				args = front.Args
			}
			if !slicesContainsSubstr(args, "{port}") {
				t.Errorf("no {port} in the (frontend's) command line: the runner could not choose the port")
			}
			if tt.disaggred && s.Engine.RoleGPUs() != s.System.Accelerators {
				t.Errorf("roles hold %d GPUs, system %d", s.Engine.RoleGPUs(), s.System.Accelerators)
			}
		})
	}
}

func slicesContainsSubstr(ss []string, sub string) bool {
	for _, s := range ss {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// The simulated engine has no image: its retest needs no image_template,
// and one given is refused.
func TestSimRetest(t *testing.T) {
	data, err := os.ReadFile("../examples/submissions/sim.yaml")
	if err != nil {
		t.Fatal(err)
	}
	on := string(data) + "retest:\n  on_new_framework_release: true\n"
	if _, err := Parse("sim.yaml", []byte(on)); err != nil {
		t.Errorf("a sim retest without a template: %v", err)
	}
	_, err = Parse("sim.yaml", []byte(on+"  image_template: sim:v{version}\n"))
	if err == nil || !strings.Contains(err.Error(), "retest.image_template: the simulated engine has no image") {
		t.Errorf("a sim retest with a template: %v", err)
	}
}

// retest.every schedules retests of a configuration; under a day is refused.
func TestRetestEvery(t *testing.T) {
	data, err := os.ReadFile("../examples/submissions/sim.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sub, err := Parse("sim.yaml", append(data, []byte("retest:\n  every: 168h\n")...))
	if err != nil {
		t.Fatal(err)
	}
	if sub.Retest == nil || sub.Retest.Every == nil || sub.Retest.Every.Duration != 168*time.Hour {
		t.Errorf("retest %+v", sub.Retest)
	}
	_, err = Parse("sim.yaml", append(data, []byte("retest:\n  every: 1h\n")...))
	if err == nil || !strings.Contains(err.Error(), "retest.every: 1h0m0s: at least 24h0m0s") {
		t.Errorf("every 1h: %v", err)
	}
}
