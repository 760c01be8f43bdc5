package workload

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Resolver resolves a workload reference (name or name@sha256:…) to a
// verified local file: a *Registry.
type Resolver interface {
	Resolve(ctx context.Context, ref string) (string, Digest, error)
}

// Loader is the one way the runner, the verifier daemon and `agentwatt
// verify` turn a workload's name and digest into a loaded workload:
//
//   - a built-in workload when the digest is its digest (its bytes are in
//     every binary, so nothing is fetched; the legacy sample included, so
//     old bundles verify);
//   - else the registry (when there is one), by name@digest or, with no
//     digest, by name alone (its latest);
//   - a built-in also when the name is a built-in's, no digest is asked for
//     and the registry does not hold it (a bare bucket still runs the sim
//     example).
//
// Loaded workloads are kept by digest, a few at a time: a verifier judges
// many bundles of one workload.
type Loader struct {
	src Resolver // nil: only the built-in workloads

	mu     sync.Mutex
	loaded map[Digest]*Workload
}

// loaderKeep is how many loaded workloads a Loader keeps.
const loaderKeep = 8

// NewLoader returns a loader over src; src may be nil.
func NewLoader(src Resolver) *Loader {
	return &Loader{src: src, loaded: map[Digest]*Workload{}}
}

// Load returns the workload name@digest (digest may be empty) and its digest.
// Without a registry, a workload other than the built-ins is ErrNotFound.
func (l *Loader) Load(ctx context.Context, name string, digest Digest) (*Workload, Digest, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if wl := l.loaded[digest]; digest != "" && wl != nil {
		return wl, digest, nil
	}
	wl, got, err := l.load(ctx, name, digest)
	if err != nil {
		return nil, "", err
	}
	if len(l.loaded) >= loaderKeep {
		clear(l.loaded)
	}
	l.loaded[got] = wl
	return wl, got, nil
}

func (l *Loader) load(ctx context.Context, name string, digest Digest) (*Workload, Digest, error) {
	if digest != "" {
		if b, ok := builtinOfDigest(digest); ok {
			wl, err := LoadBuiltin(b)
			return wl, digest, err
		}
	}
	ref := name
	if digest != "" {
		ref += "@" + string(digest)
	}
	if l.src == nil {
		if IsBuiltin(name) && digest == "" {
			return loadBuiltinNamed(name)
		}
		return nil, "", fmt.Errorf("workload %s: no registry to fetch it from: %w", ref, ErrNotFound)
	}
	path, got, err := l.src.Resolve(ctx, ref)
	switch {
	case err == nil:
		wl, err := Load(path)
		return wl, got, err
	case errors.Is(err, ErrNotFound) && IsBuiltin(name) && digest == "":
		return loadBuiltinNamed(name)
	default:
		return nil, "", fmt.Errorf("resolve workload %s: %w", ref, err)
	}
}

func loadBuiltinNamed(name string) (*Workload, Digest, error) {
	d, err := BuiltinDigest(name)
	if err != nil {
		return nil, "", err
	}
	wl, err := LoadBuiltin(name)
	return wl, d, err
}
