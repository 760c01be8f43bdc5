package verifyd

import (
	"context"
	"errors"
	"fmt"

	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/verifier"
	"github.com/agentwatt/agentwatt/workload"
)

// Offline is one verification as `agentwatt verify` runs it: the inputs
// the daemon has at hand (keys, workload, references) are looked for.
type Offline struct {
	// Keys are where the enrolled keys come from (FindKeys); Keys.Job is
	// filled from the bundle's manifest.
	Keys KeySources
	// WorkloadFile is the workload to verify against; empty: the built-in
	// the manifest pins by digest, else Registry.
	WorkloadFile string
	// Registry is the workload registry of the bundle's bucket; nil: none
	// (only the built-ins).
	Registry workload.Resolver
	Log      zerolog.Logger
}

// Verify peeks at src's manifest (untrusted) to learn the job and the
// workload, finds the keys, the workload and the GSM8K references, and
// verifies. A manifest that cannot be read is "could not verify"; one that
// does not decode is the bundle's fault: verifier.Verify rejects it on
// integrity, before any workload is needed.
func (o Offline) Verify(ctx context.Context, src bundle.Source) (*bundle.Verdict, error) {
	m, err := verifier.PeekManifest(ctx, src)
	if errors.Is(err, verifier.ErrUnreadable) {
		return nil, err
	}
	malformed := err != nil
	if malformed {
		o.Log.Info().Err(err).Msg("manifest.json does not decode; the integrity check judges it")
		m = &bundle.Manifest{}
	}
	ks := o.Keys
	ks.Job, ks.Log = m.Job, o.Log
	keys, err := FindKeys(ctx, ks)
	if err != nil {
		return nil, err
	}
	wl := &workload.Workload{}
	if !malformed {
		if wl, err = o.workload(ctx, m); err != nil {
			return nil, err
		}
	}
	refs, err := GSM8KReferences()
	if err != nil {
		return nil, err
	}
	return verifier.Verify(ctx, src, keys.Options(verifier.Options{Workload: wl, References: refs, Log: o.Log}))
}

// workload loads the workload m names: WorkloadFile, else by its pinned
// digest through workload.Loader.
func (o Offline) workload(ctx context.Context, m *bundle.Manifest) (*workload.Workload, error) {
	if o.WorkloadFile != "" {
		return workload.Load(o.WorkloadFile)
	}
	if m.Workload.Digest == "" {
		return nil, fmt.Errorf("%w: the bundle pins no digest for workload %s (pass --workload FILE)", verifier.ErrNoWorkload, m.Workload.Name)
	}
	wl, _, err := workload.NewLoader(o.Registry).Load(ctx, m.Workload.Name, workload.Digest(m.Workload.Digest))
	if o.Registry == nil && errors.Is(err, workload.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s@%s (pass --workload FILE)", verifier.ErrNoWorkload, m.Workload.Name, m.Workload.Digest)
	}
	return wl, err
}
