// Package known is the known-good bundle of verifiertest, built once per
// test binary, and the options that verify it: what the tests of verifier,
// verifyd and publish share. (verifiertest itself cannot import verifier:
// the verifier's own benchmarks import verifiertest.)
package known

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/agentwatt/agentwatt/verifier"
	"github.com/agentwatt/agentwatt/verifier/verifiertest"
)

var (
	once sync.Once
	good *verifiertest.Bundle
	err  error
	dir  string
)

// Main runs the tests and removes the bundle Good built: call it from
// TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if dir != "" {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}

// Good is the known-good bundle (seed 1), built on first use.
func Good(t testing.TB) *verifiertest.Bundle {
	t.Helper()
	once.Do(func() {
		dir, err = os.MkdirTemp("", "verifier-good-")
		if err == nil {
			good, err = verifiertest.Build(context.Background(), filepath.Join(dir, "b"), verifiertest.Options{Seed: 1})
		}
	})
	if err != nil {
		t.Fatalf("build the known-good bundle: %v", err)
	}
	return good
}

// Options verify b offline: its key, its workload, its answers, a fixed
// clock.
func Options(b *verifiertest.Bundle) verifier.Options {
	refs := make([]verifier.Reference, 0, len(b.Answers))
	for id, a := range b.Answers {
		refs = append(refs, verifier.Reference{ID: id, Expected: a})
	}
	return verifier.Options{Trusted: b.Trusted, Workload: b.Workload, References: refs,
		Now: func() time.Time { return time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC) }}
}
