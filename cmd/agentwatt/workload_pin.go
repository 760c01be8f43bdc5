package main

import (
	"context"
	"errors"

	"github.com/agentwatt/agentwatt/bots"
	"github.com/agentwatt/agentwatt/workload"
)

// registryPinner pins a submission's workload reference to a digest in the
// workload registry: a bare name to what its latest points at, a
// name@sha256 to itself once the registry is known to hold it. A built-in
// workload the registry does not hold pins to the built-in's digest (every
// runner and verifier has its bytes).
type registryPinner struct{ reg *workload.Registry }

var _ bots.WorkloadResolver = registryPinner{}

func (p registryPinner) ResolveDigest(ctx context.Context, ref string) (string, error) {
	r, err := workload.ParseRef(ref)
	if err != nil {
		return "", err
	}
	if r.Digest == "" {
		d, err := p.reg.Latest(ctx, r.Name)
		if errors.Is(err, workload.ErrNotFound) && workload.IsBuiltin(r.Name) {
			d, err = workload.BuiltinDigest(r.Name)
		}
		return string(d), err
	}
	if b, err := workload.BuiltinDigest(r.Name); err == nil && b == r.Digest {
		return string(r.Digest), nil
	}
	if _, err := p.reg.Stats(ctx, r); err != nil {
		return "", err
	}
	return string(r.Digest), nil
}
