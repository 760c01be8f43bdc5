package verifier

import (
	"context"
	"fmt"
	"io"

	"github.com/agentwatt/agentwatt/bundle"
)

// PeekManifest reads a bundle's manifest.json without trusting it: only to
// learn which workload to fetch before Verify checks everything.
func PeekManifest(ctx context.Context, src bundle.Source) (*bundle.Manifest, error) {
	rc, err := src.Open(ctx, bundle.ManifestFile)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnreadable, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, bundle.DefaultLimits.Manifest))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnreadable, err)
	}
	return bundle.DecodeManifest(bundle.ManifestFile, data)
}
