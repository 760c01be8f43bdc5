// Package blobstore adapts a *blob.Store to workload.ObjectStore, so that
// package workload does not depend on the object-storage client. Everything
// that builds a workload.Registry over S3 (the CLI, the local stack, the
// runner, the verifier) uses New.
package blobstore

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/agentwatt/agentwatt/blob"
	"github.com/agentwatt/agentwatt/workload"
)

// Store is a *blob.Store seen as a workload.ObjectStore.
type Store struct{ S *blob.Store }

var _ workload.ObjectStore = Store{}

// New adapts s.
func New(s *blob.Store) Store { return Store{S: s} }

// NewRegistry is workload.NewRegistry over s.
func NewRegistry(s *blob.Store, cacheDir string) *workload.Registry {
	return workload.NewRegistry(New(s), cacheDir)
}

// Put stores r (size bytes) under key.
func (a Store) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	return a.S.Put(ctx, key, r, size, contentType)
}

// PutBytes stores b under key.
func (a Store) PutBytes(ctx context.Context, key string, b []byte, contentType string) error {
	return a.S.PutBytes(ctx, key, b, contentType)
}

// Get maps blob.ErrNotFound to workload.ErrNotFound (both still match).
func (a Store) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	rc, err := a.S.Get(ctx, key)
	return rc, notFound(err)
}

// GetBytes reads key, at most max bytes; a missing key matches
// workload.ErrNotFound.
func (a Store) GetBytes(ctx context.Context, key string, max int64) ([]byte, error) {
	b, err := a.S.GetBytes(ctx, key, max)
	return b, notFound(err)
}

// List returns the objects under prefix.
func (a Store) List(ctx context.Context, prefix string) ([]workload.ObjectInfo, error) {
	infos, err := a.S.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	out := make([]workload.ObjectInfo, len(infos))
	for i, in := range infos {
		out[i] = workload.ObjectInfo{Key: in.Key, Size: in.Size}
	}
	return out, nil
}

func notFound(err error) error {
	if err != nil && errors.Is(err, blob.ErrNotFound) {
		return fmt.Errorf("%w: %w", workload.ErrNotFound, err)
	}
	return err
}
