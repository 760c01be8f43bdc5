package verifyd

import (
	"context"
	"fmt"

	"github.com/agentwatt/agentwatt/verifier"
	"github.com/agentwatt/agentwatt/workload"
)

// RegistryWorkloads loads the workload a bundle pins by digest: a
// built-in (found by its digest), or reg (the registry of the bundle's bucket) through
// workload.Loader. A bundle that pins no digest is refused.
func RegistryWorkloads(reg workload.Resolver) WorkloadResolver {
	l := workload.NewLoader(reg)
	return func(ctx context.Context, name, digest string) (*workload.Workload, error) {
		if digest == "" {
			return nil, fmt.Errorf("%w: the bundle pins no digest for workload %s", verifier.ErrNoWorkload, name)
		}
		wl, _, err := l.Load(ctx, name, workload.Digest(digest))
		return wl, err
	}
}
