package power

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// ErrHTTPSource is the error class of the HTTP power sources (Redfish,
// meter): a refused URL, a failed request, a reply that is not what the
// source reads.
var ErrHTTPSource = errors.New("power source")

// ErrAuth: the BMC or meter refused the credentials (HTTP 401 or 403).
var ErrAuth = errors.New("authentication failed")

// httpGetter makes the bounded GET requests of an HTTP power source: one
// origin (scheme and host), redirects only within it, a timeout per
// request, a body size limit, and Basic credentials sent only to that
// origin.
type httpGetter struct {
	origin     *url.URL
	client     *http.Client
	tr         *http.Transport
	user, pass string
	maxBody    int64
}

// newHTTPGetter checks base (an absolute http or https URL without user
// info; plain http only where allowHTTP) and prepares the client.
// insecure skips TLS verification; rootCAs, when set, replaces the
// system's roots (tests, a site CA).
func newHTTPGetter(base string, allowHTTP, insecure bool, rootCAs *x509.CertPool, timeout time.Duration, maxBody int64) (*httpGetter, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("%w: URL %q: %w", ErrHTTPSource, base, err)
	}
	switch {
	case u.Scheme != "https" && !(u.Scheme == "http" && allowHTTP):
		want := "https"
		if allowHTTP {
			want = "http or https"
		}
		return nil, fmt.Errorf("%w: URL %q: want %s", ErrHTTPSource, base, want)
	case u.Host == "":
		return nil, fmt.Errorf("%w: URL %q has no host", ErrHTTPSource, base)
	case u.User != nil:
		return nil, fmt.Errorf("%w: URL %q carries credentials: put them in the credentials file", ErrHTTPSource, u.Redacted())
	}
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	tr := &http.Transport{
		Proxy:                 nil, // the BMC or meter is on the operator's network, never behind an environment proxy
		DialContext:           (&net.Dialer{Timeout: timeout}).DialContext,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		MaxIdleConnsPerHost:   1,
		IdleConnTimeout:       30 * time.Second,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: rootCAs, InsecureSkipVerify: insecure}, //nolint:gosec // an explicit operator choice, logged loudly
	}
	g := &httpGetter{origin: &url.URL{Scheme: u.Scheme, Host: u.Host}, tr: tr, maxBody: maxBody}
	g.client = &http.Client{Transport: tr, Timeout: timeout, CheckRedirect: g.checkRedirect}
	return g, nil
}

// checkRedirect follows at most three redirects, each within the origin:
// credentials never leave for another host.
func (g *httpGetter) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 3 {
		return fmt.Errorf("%w: more than 3 redirects", ErrHTTPSource)
	}
	if !g.sameOrigin(req.URL) {
		return fmt.Errorf("%w: refused redirect to %s: another origin than %s", ErrHTTPSource, req.URL.Redacted(), g.origin)
	}
	return nil
}

func (g *httpGetter) sameOrigin(u *url.URL) bool {
	return u.Scheme == g.origin.Scheme && strings.EqualFold(u.Host, g.origin.Host)
}

// resolve makes ref (an absolute path the device named, like a Redfish
// @odata.id) a URL of the origin; a reference to another origin is an
// error.
func (g *httpGetter) resolve(ref string) (*url.URL, error) {
	r, err := url.Parse(ref)
	if err != nil {
		return nil, fmt.Errorf("%w: reference %q: %w", ErrHTTPSource, ref, err)
	}
	u := g.origin.ResolveReference(r)
	if !g.sameOrigin(u) || u.User != nil {
		return nil, fmt.Errorf("%w: reference %q leaves %s", ErrHTTPSource, ref, g.origin)
	}
	u.Fragment = ""
	return u, nil
}

// get fetches u and returns its body (at most maxBody bytes; a longer one
// is an error, not a truncated read).
func (g *httpGetter) get(ctx context.Context, u *url.URL, accept string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrHTTPSource, err)
	}
	req.Header.Set("Accept", accept)
	if g.user != "" || g.pass != "" {
		req.SetBasicAuth(g.user, g.pass)
	}
	resp, err := g.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: GET %s: %w", ErrHTTPSource, u.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, g.maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("%w: GET %s: read body: %w", ErrHTTPSource, u.Path, err)
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return nil, fmt.Errorf("%w: GET %s: HTTP %d: %w (check the credentials file)", ErrHTTPSource, u.Path, resp.StatusCode, ErrAuth)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("%w: GET %s: HTTP %d: %s", ErrHTTPSource, u.Path, resp.StatusCode, snippet(body))
	case int64(len(body)) > g.maxBody:
		return nil, fmt.Errorf("%w: GET %s: body larger than %d bytes", ErrHTTPSource, u.Path, g.maxBody)
	}
	return body, nil
}

// close drops idle connections.
func (g *httpGetter) close() { g.tr.CloseIdleConnections() }

// snippet is the start of a body for an error message, printable only.
func snippet(b []byte) string {
	b = b[:min(len(b), 120)]
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, strings.TrimSpace(string(b)))
}

// integrator turns a series of power readings into a cumulative energy
// (mJ) by trapezoids between consecutive readings, for a device that has
// no energy counter of its own.
type integrator struct {
	have  bool
	lastT int64
	lastW float64
	mJ    float64
}

// add takes a reading of w watts at run-clock time t (ns) and returns the
// energy so far. A reading not after the last one adds nothing.
func (in *integrator) add(t int64, w float64) float64 {
	if in.have && t > in.lastT {
		in.mJ += (in.lastW + w) / 2 * float64(t-in.lastT) / 1e6
	}
	if !in.have || t > in.lastT {
		in.have, in.lastT, in.lastW = true, t, w
	}
	return in.mJ
}
