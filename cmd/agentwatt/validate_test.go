package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runValidate runs `agentwatt validate` in a child process (the real exit
// code path through main) and returns its stdout and exit code.
func runValidate(t *testing.T, stdin string, args ...string) (string, int) {
	t.Helper()
	raw, _ := json.Marshal(append([]string{"validate", "--log-level", "error"}, args...))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0])
	cmd.Env = append(os.Environ(), childArgsEnv+"="+string(raw))
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatalf("agentwatt validate: %v", err)
	}
	if stderr.Len() > 0 {
		t.Logf("stderr: %s", stderr.String())
	}
	return stdout.String(), cmd.ProcessState.ExitCode()
}

// validateGolden compares got with testdata/validate/NAME.golden; set
// AGENTWATT_UPDATE_GOLDEN=1 to rewrite it.
func validateGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "validate", name+".golden")
	if os.Getenv("AGENTWATT_UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (AGENTWATT_UPDATE_GOLDEN=1 go test ./cmd/agentwatt -run TestValidate creates it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

func TestValidateCmd(t *testing.T) {
	examples, err := filepath.Glob("../../examples/submissions/*.yaml")
	if err != nil || len(examples) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	const broken = "testdata/validate/broken.yaml"
	const command = "testdata/validate/engine-command.yaml"
	sim, err := os.ReadFile("../../examples/submissions/sim.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		stdin    string
		wantCode int
	}{
		{"examples", examples, "", 0},
		{"broken", []string{broken, examples[0]}, "", 1},
		{"broken-json", []string{"-o", "json", broken, "../../examples/submissions/sim.yaml"}, "", 1},
		{"engine-command", []string{command}, "", 1},
		{"stdin", []string{"-"}, string(sim), 0},
		{"unreadable", []string{"testdata/validate/missing.yaml", examples[0]}, "", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, code := runValidate(t, tt.stdin, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d\n%s", code, tt.wantCode, out)
			}
			validateGolden(t, tt.name, out)
		})
	}
}

// TestValidateCmdAllProblems checks, apart from the golden file, that every
// problem of the broken file is printed as FILE:LINE:COL: message.
func TestValidateCmdAllProblems(t *testing.T) {
	out, code := runValidate(t, "", "testdata/validate/broken.yaml")
	if code != 1 {
		t.Fatalf("exit code %d, want 1", code)
	}
	for _, want := range []string{
		`testdata/validate/broken.yaml:13:3: system.acelerators: unknown field "acelerators" (did you mean "accelerators"?)`,
		`testdata/validate/broken.yaml:17:12: framework.version: want a string, got a number (quote it: "0.10")`,
		`testdata/validate/broken.yaml:19:10: engine.image: image "vllm/vllm-openai:v0.10.0" is not pinned`,
		`testdata/validate/broken.yaml:20:18: engine.ready_timeout: 5h0m0s is outside the official profile's bounds`,
		`testdata/validate/broken.yaml:23:16: benchmark.tiers[1]: unknown tier "t25"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q\n%s", want, out)
		}
	}
	var results []validateResult
	jsonOut, _ := runValidate(t, "", "-o", "json", "testdata/validate/broken.yaml")
	if err := json.Unmarshal([]byte(jsonOut), &results); err != nil || len(results) != 1 || len(results[0].Problems) != 5 {
		t.Errorf("-o json: %v, %+v", err, results)
	}
}

// TestValidateCmdEveryStageInOneRun: problems found while decoding (unknown
// and missing fields) and by the rules (precision, profile bounds) come out
// of one run, sorted by position.
func TestValidateCmdEveryStageInOneRun(t *testing.T) {
	const file = "../../spec/testdata/invalid/every-stage.yaml"
	out, code := runValidate(t, "", file)
	if code != 1 {
		t.Fatalf("exit code %d, want 1", code)
	}
	want := []string{
		file + `:10:3: metadata.colour: unknown field "colour"`,
		file + `:11:1: model.revision: required field is missing`,
		file + `:13:14: model.precision: unknown precision "fp7"`,
		file + `:23:18: engine.ready_timeout: 3h0m0s is outside the quick profile's bounds`,
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d problems, want %d:\n%s", len(lines), len(want), out)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("problem %d = %q, want it to start %q", i, lines[i], w)
		}
	}
}
