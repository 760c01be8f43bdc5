package retest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// ErrImageNotFound: the registry has no image under the reference (yet).
var ErrImageNotFound = errors.New("image not in the registry")

// ErrPrivateAddress: a registry (or the token service it names) resolved to
// a loopback, private or link-local address, which the watcher does not
// reach unless told to (Config.PrivateRegistries).
var ErrPrivateAddress = errors.New("registry address is not public")

// publicOnly is a transport that connects only to public addresses. The
// registry host comes from a vendor's image_template, and the registry
// names its token service: without it a submission could make the
// control plane send requests to the services beside it (cloud metadata,
// NATS, the bucket). The check is on the address dialled, after DNS, so a
// name that resolves to a private address is refused too.
func publicOnly() http.RoundTripper {
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second,
		Control: func(_, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			ip := net.ParseIP(host)
			if ip == nil || !publicIP(ip) {
				return fmt.Errorf("%w: %s", ErrPrivateAddress, host)
			}
			return nil
		}}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = d.DialContext
	return t
}

// cgnat is the shared address space of carrier-grade NAT (RFC 6598).
var cgnat = &net.IPNet{IP: net.IPv4(100, 64, 0, 0), Mask: net.CIDRMask(10, 32)}

func publicIP(ip net.IP) bool {
	return ip.IsGlobalUnicast() && !ip.IsPrivate() && !cgnat.Contains(ip)
}

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
