package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/verifier/verifiertest"
)

// TestVerifyCmdInvalidFileName: a correctly signed manifest that lists a
// file name no bundle may hold (a path out of the bundle, a nested one) is
// a rejection, exit 1 — not "could not verify", exit 2.
func TestVerifyCmdInvalidFileName(t *testing.T) {
	b, keys := verifyFixture(t)
	for _, name := range []string{"../escape", "sub/x"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "b")
			if err := os.CopyFS(dir, os.DirFS(b.Dir)); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(filepath.Join(dir, bundle.ManifestFile))
			if err != nil {
				t.Fatal(err)
			}
			var m bundle.Manifest
			if err := json.Unmarshal(data, &m); err != nil {
				t.Fatal(err)
			}
			m.Files = append([]bundle.File{{Name: name, SHA256: strings.Repeat("0", 64), Size: 1}}, m.Files...)
			// Signed as an attacker with the enrolled key would: the
			// statement is built without the writer's validation.
			st, err := bundle.NewStatement(&m)
			if err != nil {
				t.Fatal(err)
			}
			payload, err := protojson.Marshal(st)
			if err != nil {
				t.Fatal(err)
			}
			es, err := dsse.NewEnvelopeSigner(bundle.NewSigner(b.Key))
			if err != nil {
				t.Fatal(err)
			}
			env, err := es.SignPayload(context.Background(), bundle.PayloadType, payload)
			if err != nil {
				t.Fatal(err)
			}
			envData, _ := json.Marshal(env)
			mData, _ := json.MarshalIndent(&m, "", "  ")
			if err := os.WriteFile(filepath.Join(dir, bundle.EnvelopeFile), envData, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, bundle.ManifestFile), mData, 0o644); err != nil {
				t.Fatal(err)
			}
			out, stderr, code := runAW(t, "verify", dir, "--keys", keys, "--log-level", "error")
			if code != 1 || !strings.Contains(out, "FAIL integrity") || !strings.Contains(out, "invalid bundle file name") {
				t.Fatalf("exit %d, want 1 with FAIL integrity naming the invalid file name\nstdout: %s\nstderr: %s", code, out, stderr)
			}
		})
	}
}

// TestVerifyCmdVersion1Bundle: a bundle written before manifests named
// their pool (verifier/testdata/v1bundle, with the runners.json of that
// time) verifies offline with this build.
func TestVerifyCmdVersion1Bundle(t *testing.T) {
	dir := filepath.Join("..", "..", "verifier", "testdata", "v1bundle")
	out, stderr, code := runAW(t, "verify", filepath.Join(dir, "bundle"), "--keys", filepath.Join(dir, "runners.json"), "--log-level", "error")
	if code != 0 || !strings.Contains(out, "VERIFIED") || !strings.Contains(out, "PASS key_scope") {
		t.Fatalf("exit %d, want 0 verified\nstdout: %s\nstderr: %s", code, out, stderr)
	}
}

// TestVerifyCmdRelabelledSimRun: a sim runner's bundle relabelled as an
// 8×H200 result and re-signed with the sim runner's key is rejected
// offline: the runners file says the key is a sim key.
func TestVerifyCmdRelabelledSimRun(t *testing.T) {
	b, keys := verifyFixture(t)
	forged := filepath.Join(t.TempDir(), "forged")
	if err := b.Derive(context.Background(), forged, func(dir string) error {
		if err := verifiertest.EditJSON(dir, bundle.SummaryFile, func(s *bundle.Summary) { s.Simulated = false }); err != nil {
			return err
		}
		return verifiertest.EditJSON(dir, bundle.ManifestFile, func(m *bundle.Manifest) {
			m.Simulated, m.Pool = false, "h200x8"
			m.Inventory = json.RawMessage(`{"source":"nvml","gpus":[{"index":0,"name":"NVIDIA H200","accelerator":"h200","uuid":"GPU-0"},` +
				`{"index":1,"name":"NVIDIA H200","accelerator":"h200","uuid":"GPU-1"},{"index":2,"name":"NVIDIA H200","accelerator":"h200","uuid":"GPU-2"},` +
				`{"index":3,"name":"NVIDIA H200","accelerator":"h200","uuid":"GPU-3"},{"index":4,"name":"NVIDIA H200","accelerator":"h200","uuid":"GPU-4"},` +
				`{"index":5,"name":"NVIDIA H200","accelerator":"h200","uuid":"GPU-5"},{"index":6,"name":"NVIDIA H200","accelerator":"h200","uuid":"GPU-6"},` +
				`{"index":7,"name":"NVIDIA H200","accelerator":"h200","uuid":"GPU-7"}]}`)
		})
	}, b.Key); err != nil {
		t.Fatal(err)
	}
	out, stderr, code := runAW(t, "verify", forged, "--keys", keys, "--log-level", "error")
	if code != 1 || !strings.Contains(out, "FAIL key_scope") || !strings.Contains(out, "sim runner's key") {
		t.Fatalf("exit %d, want 1 with FAIL key_scope naming the sim key\nstdout: %s\nstderr: %s", code, out, stderr)
	}
}
