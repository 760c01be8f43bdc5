package blobstore_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/agentwatt/agentwatt/blob/blobtest"
	"github.com/agentwatt/agentwatt/workload"
	"github.com/agentwatt/agentwatt/workload/blobstore"
	"github.com/agentwatt/agentwatt/workload/internal/wltest"
)

func TestRegistry(t *testing.T) {
	ctx := context.Background()
	store := blobtest.Store(t)
	cache := t.TempDir()
	reg := blobstore.NewRegistry(store, cache)

	path, d := wltest.WriteFile(t)
	ref, err := reg.Push(ctx, path, "")
	if err != nil {
		t.Fatalf("Push: %v", err)
	}
	if want := (workload.Ref{Name: "test-workload", Digest: d}); ref != want {
		t.Errorf("Push = %v, want %v", ref, want)
	}
	for _, key := range []string{
		"workloads/test-workload/" + d.Hex() + ".jsonl.zst",
		"workloads/test-workload/" + d.Hex() + ".stats.json",
		"workloads/test-workload/latest",
	} {
		if _, err := store.Stat(ctx, key); err != nil {
			t.Errorf("object %s: %v", key, err)
		}
	}
	st, err := reg.Stats(ctx, workload.Ref{Name: "test-workload"})
	if err != nil || st.Digest != d || st.Turns != 9 {
		t.Errorf("Stats = %+v, %v; want digest %s and 9 turns", st, err, d)
	}

	// A second version under another name, from plain JSONL (compressed on
	// the way up, same digest).
	plain := filepath.Join(t.TempDir(), "w.jsonl")
	if err := os.WriteFile(plain, wltest.Decompress(t, path), 0o644); err != nil {
		t.Fatal(err)
	}
	ref2, err := reg.Push(ctx, plain, "copy")
	if err != nil || ref2.Digest != d {
		t.Fatalf("Push plain = %v, %v; want digest %s", ref2, err, d)
	}

	tests := []struct {
		name string
		ref  string
	}{
		{"by name", "test-workload"},
		{"by digest", "test-workload@" + string(d)},
		{"other name", "copy"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			local, got, err := reg.Resolve(ctx, tc.ref)
			if err != nil {
				t.Fatalf("Resolve(%s): %v", tc.ref, err)
			}
			if got != d || filepath.Dir(local) != cache {
				t.Errorf("Resolve = %s, %s; want %s in %s", local, got, d, cache)
			}
			w, err := workload.Load(local)
			if err != nil || w.Digest != d {
				t.Errorf("cached file: %v, digest %v", err, w)
			}
		})
	}

	entries, err := reg.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 || entries[0].Name != "copy" || entries[1].Name != "test-workload" ||
		entries[1].Latest != d || len(entries[1].Versions) != 1 || entries[1].Versions[0].Digest != d {
		t.Errorf("List = %+v", entries)
	}

	// The cache answers without the store once a digest was verified.
	if err := store.Delete(ctx, "workloads/test-workload/"+d.Hex()+".jsonl.zst"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := reg.Resolve(ctx, "test-workload@"+string(d)); err != nil {
		t.Errorf("Resolve from cache: %v", err)
	}
	if _, _, err := blobstore.NewRegistry(store, t.TempDir()).Resolve(ctx, "test-workload@"+string(d)); !errors.Is(err, workload.ErrNotFound) {
		t.Errorf("Resolve of a deleted object with an empty cache: %v, want ErrNotFound", err)
	}
	if _, _, err := reg.Resolve(ctx, "nothing-here"); !errors.Is(err, workload.ErrNotFound) {
		t.Errorf("Resolve(unknown name) = %v, want ErrNotFound", err)
	}
	if _, _, err := reg.Resolve(ctx, "Not A Ref"); !errors.Is(err, workload.ErrInvalidRef) {
		t.Errorf("Resolve(bad ref) = %v, want ErrInvalidRef", err)
	}
}

func TestRegistryRejectsTamperedWorkload(t *testing.T) {
	ctx := context.Background()
	store := blobtest.Store(t)
	reg := blobstore.NewRegistry(store, t.TempDir())
	path, d := wltest.WriteFile(t)
	if _, err := reg.Push(ctx, path, "victim"); err != nil {
		t.Fatal(err)
	}
	// Replace the stored object with another valid workload.
	other := filepath.Join(t.TempDir(), "o.jsonl.zst")
	if _, err := workload.WriteFile(other, wltest.Header(), func(write func(*workload.Trajectory) error) error {
		return write(wltest.Trajectories()[2])
	}); err != nil {
		t.Fatal(err)
	}
	if err := store.PutFile(ctx, "workloads/victim/"+d.Hex()+".jsonl.zst", other); err != nil {
		t.Fatal(err)
	}
	_, _, err := reg.Resolve(ctx, "victim")
	if !errors.Is(err, workload.ErrDigestMismatch) {
		t.Fatalf("Resolve of a tampered object = %v, want ErrDigestMismatch", err)
	}
	left, _ := filepath.Glob(filepath.Join(reg.CacheDir(), "*"))
	if len(left) != 0 {
		t.Errorf("a rejected download left %v in the cache", left)
	}
}

func TestEnsureDefault(t *testing.T) {
	ctx := context.Background()
	store := blobtest.Store(t)
	reg := blobstore.NewRegistry(store, t.TempDir())
	ref, err := workload.EnsureDefault(ctx, reg)
	if err != nil {
		t.Fatalf("EnsureDefault: %v", err)
	}
	if ref.Name != workload.DefaultName || ref.Digest != workload.DefaultDigest() {
		t.Errorf("EnsureDefault = %v, want %s@%s", ref, workload.DefaultName, workload.DefaultDigest())
	}
	// Idempotent, and it restores a missing latest.
	if err := store.Delete(ctx, "workloads/"+workload.DefaultName+"/latest"); err != nil {
		t.Fatal(err)
	}
	if _, err := workload.EnsureDefault(ctx, reg); err != nil {
		t.Fatal(err)
	}
	local, d, err := reg.Resolve(ctx, workload.DefaultName)
	if err != nil || d != workload.DefaultDigest() {
		t.Fatalf("Resolve(default) = %s, %s, %v", local, d, err)
	}
	w, err := workload.Load(local)
	if err != nil {
		t.Fatal(err)
	}
	if w.Header.Name != workload.DefaultName {
		t.Errorf("resolved workload is %q", w.Header.Name)
	}
}
