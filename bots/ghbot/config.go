package ghbot

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/agentwatt/agentwatt/publish"
	"github.com/agentwatt/agentwatt/queue"
	"github.com/agentwatt/agentwatt/verifyd"
)

// DefaultAPIURL is GitHub's REST API. GitHub Enterprise Server's is
// https://HOST/api/v3/.
const DefaultAPIURL = "https://api.github.com/"

// WorkloadResolver pins a workload reference to the digest it names today
// (as the intake does).
type WorkloadResolver interface {
	ResolveDigest(ctx context.Context, ref string) (string, error)
}

// Config configures the bot. Validate checks it; New fills the defaults.
type Config struct {
	// AppID and PrivateKey (PEM) are the GitHub App's.
	AppID      int64
	PrivateKey []byte
	// WebhookSecret is the App's webhook secret; the bot refuses to start
	// without one.
	WebhookSecret []byte
	// Repo is the submissions repository, owner/name. Deliveries for any
	// other repository are answered and ignored.
	Repo string
	// PublicURL is the leaderboard site's base URL, for links to results.
	PublicURL string
	// APIURL is GitHub's REST API (default DefaultAPIURL).
	APIURL string
	// Transport carries the bot's requests to GitHub (default
	// http.DefaultTransport).
	Transport http.RoundTripper

	Queue     *queue.Queue
	Keys      verifyd.KeySource    // enrolled runner keys, for publication
	Store     publish.PublishStore // where results publish
	Workloads WorkloadResolver     // nil leaves workload references as written
	// Local publishes simulated and non-official results too (badged), as
	// `agentwatt approve --local` does.
	Local bool

	// MaxBody bounds a delivery's body (default 4 MiB; GitHub's pull-request
	// payloads are tens of KiB).
	MaxBody int64
	// DeliveryTTL is how long a delivery id is remembered, so that a replay
	// inside it is refused (default 7 days).
	DeliveryTTL time.Duration
	// ProgressEvery is the least time between two progress updates of one
	// job's check run (default 15s); state changes are reported at once.
	ProgressEvery time.Duration
	// RegressionsEvery is how often published/regressions.json is read for
	// regressions to report (default 1 minute).
	RegressionsEvery time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Validate reports the first field that is missing or wrong.
func (c Config) Validate() error {
	switch {
	case len(c.WebhookSecret) == 0:
		return errors.New("github bot: a webhook secret is required: every delivery's X-Hub-Signature-256 is checked against it")
	case len(c.WebhookSecret) < 16:
		return fmt.Errorf("github bot: the webhook secret is %d bytes; use at least 16 random bytes", len(c.WebhookSecret))
	case c.AppID <= 0:
		return errors.New("github bot: the GitHub App id is required")
	case len(c.PrivateKey) == 0:
		return errors.New("github bot: the GitHub App's private key is required")
	case !repoRe.MatchString(c.Repo):
		return fmt.Errorf("github bot: submissions repository %q: want owner/name", c.Repo)
	case c.Queue == nil || c.Keys == nil || c.Store == nil:
		return errors.New("github bot: the queue, the runner keys and the store are required")
	case c.MaxBody < 0 || c.DeliveryTTL < 0 || c.ProgressEvery < 0 || c.RegressionsEvery < 0:
		return errors.New("github bot: limits must not be negative")
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("github bot: public URL %q: want http(s)://host[/path]", c.PublicURL)
		}
	}
	if c.APIURL != "" {
		if u, err := url.Parse(c.APIURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("github bot: GitHub API URL %q: want http(s)://host[/path]/", c.APIURL)
		}
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.APIURL == "" {
		c.APIURL = DefaultAPIURL
	}
	if c.Transport == nil {
		c.Transport = http.DefaultTransport
	}
	if c.MaxBody == 0 {
		c.MaxBody = 4 << 20
	}
	if c.DeliveryTTL == 0 {
		c.DeliveryTTL = 7 * 24 * time.Hour
	}
	if c.ProgressEvery == 0 {
		c.ProgressEvery = 15 * time.Second
	}
	if c.RegressionsEvery == 0 {
		c.RegressionsEvery = time.Minute
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	c.PublicURL = strings.TrimSuffix(c.PublicURL, "/")
	return c
}
