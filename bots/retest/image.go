package retest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// ErrImageNotFound: the registry has no image under the reference (yet).
var ErrImageNotFound = errors.New("image not in the registry")

// imageOf substitutes version into a spec's retest.image_template.
func imageOf(template, version string) string {
	return strings.ReplaceAll(template, "{version}", version)
}

// resolver pins an image reference to the digest the registry serves for it
// now, through the registry API (a HEAD of the manifest: no pull).
type resolver struct {
	keychain  authn.Keychain
	transport http.RoundTripper
}

// resolve returns ref@sha256:… for a tag reference.
func (r resolver) resolve(ctx context.Context, ref string) (string, error) {
	tag, err := name.NewTag(ref, name.StrictValidation)
	if err != nil {
		return "", fmt.Errorf("image %q: %w", ref, err)
	}
	opts := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(r.keychain)}
	if r.transport != nil {
		opts = append(opts, remote.WithTransport(r.transport))
	}
	desc, err := remote.Head(tag, opts...)
	var terr *transport.Error
	if errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound {
		return "", fmt.Errorf("%s: %w", ref, ErrImageNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", ref, err)
	}
	if desc.Digest.Algorithm != "sha256" {
		return "", fmt.Errorf("resolve %s: digest %s: want sha256", ref, desc.Digest)
	}
	return ref + "@" + desc.Digest.String(), nil
}
