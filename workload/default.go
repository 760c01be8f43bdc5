package workload

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"sync"
)

// DefaultName is the name of the built-in workload.
const DefaultName = "agentic-coding-sample"

// defaultZst is built by defaultdata/build.sh (go generate ./workload) from
// the real traces in ingest/testdata; see defaultdata/README.md.
//
//go:generate sh defaultdata/build.sh
//go:embed defaultdata/agentic-coding-sample.jsonl.zst
var defaultZst []byte

// DefaultBytes returns the built-in workload file (zstd-compressed JSONL).
func DefaultBytes() []byte { return bytes.Clone(defaultZst) }

// OpenDefault streams the built-in workload.
func OpenDefault() (*Reader, error) {
	return NewReader(bytes.NewReader(defaultZst), WithName("builtin:"+DefaultName))
}

// LoadDefault loads the built-in workload into memory.
func LoadDefault() (*Workload, error) {
	return LoadBytes(defaultZst, WithName("builtin:"+DefaultName))
}

var defaultDigest = sync.OnceValues(func() (Digest, error) {
	r, err := OpenDefault()
	if err != nil {
		return "", err
	}
	defer r.Close()
	return r.Digest()
})

// DefaultDigest returns the built-in workload's digest.
func DefaultDigest() Digest {
	d, err := defaultDigest()
	if err != nil {
		panic(fmt.Sprintf("workload: built-in workload is unreadable: %v", err))
	}
	return d
}

// EnsureDefault makes sure the registry holds the built-in workload: when
// its digest is missing it is pushed (with its stats), which also moves
// DefaultName's latest to it; when it is present but the name has no latest,
// latest is set. A latest that points elsewhere (someone pushed a newer
// sample) is left alone. The local stack calls this on start.
func EnsureDefault(ctx context.Context, reg *Registry) (Ref, error) {
	d := DefaultDigest()
	ref := Ref{Name: DefaultName, Digest: d}
	objs, err := reg.store.List(ctx, workloadKey(DefaultName, d))
	if err != nil {
		return Ref{}, fmt.Errorf("look for %s: %w", ref, err)
	}
	present := false
	for _, o := range objs {
		if o.Key == workloadKey(DefaultName, d) {
			present = true
		}
	}
	if !present {
		if _, err := reg.PushBytes(ctx, defaultZst, DefaultName); err != nil {
			return Ref{}, fmt.Errorf("push %s: %w", ref, err)
		}
		return ref, nil
	}
	if _, err := reg.Latest(ctx, DefaultName); errors.Is(err, ErrNotFound) {
		if err := reg.store.PutBytes(ctx, latestKey(DefaultName), []byte(string(d)+"\n"), contentTypeLatest); err != nil {
			return Ref{}, fmt.Errorf("set latest of %s: %w", DefaultName, err)
		}
	} else if err != nil {
		return Ref{}, err
	}
	return ref, nil
}
