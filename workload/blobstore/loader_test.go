package blobstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/agentwatt/agentwatt/blob/blobtest"
	"github.com/agentwatt/agentwatt/workload"
	"github.com/agentwatt/agentwatt/workload/blobstore"
	"github.com/agentwatt/agentwatt/workload/internal/wltest"
)

// TestLoader: the one loader of the runner, the verifier daemon and verify,
// over a real registry in the embedded S3 gateway.
func TestLoader(t *testing.T) {
	ctx := context.Background()
	store := blobtest.Store(t)
	reg := blobstore.NewRegistry(store, t.TempDir())
	path, d := wltest.WriteFile(t)
	if _, err := reg.Push(ctx, path, ""); err != nil {
		t.Fatal(err)
	}
	l := workload.NewLoader(reg)
	def := workload.DefaultDigest()

	tests := []struct {
		name, wl string
		digest   workload.Digest
		want     workload.Digest
		err      error
	}{
		{"by digest", "test-workload", d, d, nil},
		{"by name: the latest", "test-workload", "", d, nil},
		{"the built-in sample by digest, not fetched", workload.DefaultName, def, def, nil},
		{"the built-in sample by name, missing from the registry", workload.DefaultName, "", def, nil},
		{"a digest the registry lacks", "test-workload", workload.Digest("sha256:" + strings.Repeat("0", 62) + "ff"), "", workload.ErrNotFound},
		{"an unknown name", "nobody-pushed-this", "", "", workload.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wl, got, err := l.Load(ctx, tc.wl, tc.digest)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("Load = %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil || wl == nil || got != tc.want {
				t.Fatalf("Load = %v, %s, %v; want digest %s", wl != nil, got, err, tc.want)
			}
		})
	}

	// Without a registry only the built-in sample loads.
	bare := workload.NewLoader(nil)
	if _, got, err := bare.Load(ctx, workload.DefaultName, def); err != nil || got != def {
		t.Errorf("bare loader, built-in sample: %s, %v", got, err)
	}
	if _, _, err := bare.Load(ctx, "test-workload", d); !errors.Is(err, workload.ErrNotFound) {
		t.Errorf("bare loader, a registry workload: %v, want ErrNotFound", err)
	}
}
