package bundle

import (
	"crypto/ed25519"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// testKey is a fixed key: tests are reproducible and need no entropy.
func testKey(seed byte) ed25519.PrivateKey {
	s := make([]byte, ed25519.SeedSize)
	for i := range s {
		s[i] = seed
	}
	return ed25519.NewKeyFromSeed(s)
}

func testManifest() *Manifest {
	return &Manifest{
		Job:        "0123456789abcdef0123456789abcdef",
		Attempt:    2,
		SpecDigest: "sha256:" + "ab" + "00000000000000000000000000000000000000000000000000000000000000",
		Pool:       "sim",
		Runner:     Runner{ID: "gpu-node-7", Version: "v0.1.0"},
		Inventory:  json.RawMessage(`{"gpus":[{"name":"NVIDIA H200","memory_bytes":150754820096,"uuid":"GPU-1"}],"driver":"570.1"}`),
		Software:   map[string]string{"agentwatt": "v0.1.0", "engine": "sim"},
		Rules:      Rules{Version: "v1", Profile: "test"},
		Workload:   Workload{Name: "tiny", Digest: "sha256:cafe"},
		Simulated:  true,
		CreatedAt:  time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC),
	}
}

// testFiles are the contents of a complete bundle.
var testFiles = map[string]string{
	RequestsFile:    "requests (zstd in real bundles)\n",
	PowerFile:       "power samples\n",
	ProbesFile:      `{"probes":[]}` + "\n",
	AccuracyFile:    `{"id":1,"output":"42"}` + "\n",
	EngineLogFile:   "engine log\n",
	EnvironmentFile: `{"host":"test"}` + "\n",
	SummaryFile:     `{"schema_version":1,"simulated":true,"tiers":{},"probes":[]}` + "\n",
}

// sealedBundle writes a complete bundle signed with key into a new
// directory and returns it.
func sealedBundle(t testing.TB, key ed25519.PrivateKey) (string, *Manifest) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "bundle")
	w, err := NewWriter(dir)
	if err != nil {
		t.Fatal(err)
	}
	for name, content := range testFiles {
		f, err := w.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write([]byte(content)); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	m := testManifest()
	if err := w.Seal(t.Context(), m, NewSigner(key)); err != nil {
		t.Fatal(err)
	}
	return dir, m
}

// copyDir copies a flat directory.
func copyDir(t testing.TB, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "copy")
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}

func verifyDir(t testing.TB, dir string, trusted map[string]ed25519.PublicKey) (*Manifest, []Problem) {
	t.Helper()
	b, err := OpenDir(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	return b.VerifyIntegrity(t.Context(), trusted)
}

func pub(k ed25519.PrivateKey) ed25519.PublicKey { return k.Public().(ed25519.PublicKey) }
