package publish_test

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

// good is the known-good bundle, built once per test run.
var (
	goodOnce sync.Once
	good     *verifiertest.Bundle
	goodErr  error
	goodDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if goodDir != "" {
		os.RemoveAll(goodDir)
	}
	os.Exit(code)
}

func goodBundle(t testing.TB) *verifiertest.Bundle {
	t.Helper()
	goodOnce.Do(func() {
		goodDir, goodErr = os.MkdirTemp("", "publish-good-")
		if goodErr == nil {
			good, goodErr = verifiertest.Build(context.Background(), filepath.Join(goodDir, "b"), verifiertest.Options{Seed: 1})
		}
	})
	if goodErr != nil {
		t.Fatalf("build the known-good bundle: %v", goodErr)
	}
	return good
}

// options verifies b offline with its own key, workload and answers.
func options(b *verifiertest.Bundle) verifier.Options {
	refs := make([]verifier.Reference, 0, len(b.Answers))
	for id, a := range b.Answers {
		refs = append(refs, verifier.Reference{ID: id, Expected: a})
	}
	return verifier.Options{Trusted: b.Trusted, Workload: b.Workload, References: refs,
		Now: func() time.Time { return time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC) }}
}
