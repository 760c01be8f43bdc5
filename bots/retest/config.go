package retest

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/agentwatt/agentwatt/bots"
	"github.com/agentwatt/agentwatt/queue"
	"github.com/agentwatt/agentwatt/verifyd"
)

// DefaultAPIURL is GitHub's REST API.
const DefaultAPIURL = "https://api.github.com/"

// Defaults of Config.
const (
	DefaultPoll  = 10 * time.Minute
	DefaultEvery = 168 * time.Hour
	// By is who a retest is submitted by in the job record.
	By = "agentwatt-retest"
)

// Config configures a Watcher. Validate checks it; New fills the defaults.
type Config struct {
	// Frameworks are the entries of frameworks.yaml (ParseFrameworks).
	Frameworks []Framework
	// APIURL is GitHub's REST API (default DefaultAPIURL); Token, when set,
	// authenticates (5,000 requests an hour instead of 60, and a 304 costs
	// none); Transport carries the requests (default http.DefaultTransport).
	APIURL    string
	Token     string
	Transport http.RoundTripper
	// Keychain gives registry credentials (default authn.DefaultKeychain's
	// anonymous counterpart: anonymous); RegistryTransport carries the
	// registry requests (default: go-containerregistry's).
	Keychain          authn.Keychain
	RegistryTransport http.RoundTripper
	// PrivateRegistries lets the default registry transport reach
	// loopback, private and link-local addresses (a registry on the local
	// network); by default only public addresses are dialled.
	PrivateRegistries bool

	// AutoApprove publishes each verified retest of a configuration that
	// stands published on the job it derives from (off by default: a
	// maintainer approves). Keys are the enrolled runner keys publication
	// needs; Local also publishes simulated results (local stack).
	AutoApprove bool
	Keys        verifyd.KeySource
	Local       bool

	Queue    *queue.Queue
	JS       jetstream.JetStream // for the state bucket; default Queue.JetStream()
	Replicas int                 // of the state bucket; 0 binds to what exists
	Store    Store               // the publication

	// MaxQueued is the jobs one vendor may have queued at once, the
	// intake's --max-queued (default bots.DefaultMaxQueued): a retest that
	// would queue past it waits (a release's stays pending, a scheduled one
	// waits for a later poll).
	MaxQueued int

	// Poll is the time between two polls of Run (default DefaultPoll).
	Poll time.Duration
	// Every retests each opted-in configuration whose latest result is older
	// than it (0: no scheduled retests). Set by the command (default 168h).
	Every time.Duration
	// PendingFor is how long a retest waits for its image before it is
	// given up (default 14 days).
	PendingFor time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Validate reports the first setting that is missing or wrong.
func (c Config) Validate() error {
	switch {
	case len(c.Frameworks) == 0:
		return errors.New("retest: no frameworks to watch")
	case c.Queue == nil:
		return errors.New("retest: a queue is required")
	case c.Store == nil:
		return errors.New("retest: the publication's store is required")
	case c.AutoApprove && c.Keys == nil:
		return errors.New("retest: auto-approval publishes, and needs the enrolled runner keys")
	case c.Poll < 0 || (c.Poll > 0 && c.Poll < 10*time.Second):
		return fmt.Errorf("retest: poll %v: want at least 10s", c.Poll)
	case c.Every < 0:
		return fmt.Errorf("retest: every %v: want 0 (off) or more", c.Every)
	case c.MaxQueued < 0:
		return fmt.Errorf("retest: max queued %d: want 0 (the default, %d) or more", c.MaxQueued, bots.DefaultMaxQueued)
	}
	if c.APIURL != "" {
		u, err := url.Parse(c.APIURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("retest: GitHub API URL %q: want http(s)://HOST/", c.APIURL)
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
	if c.Keychain == nil {
		c.Keychain = anonymous{}
	}
	if c.RegistryTransport == nil && !c.PrivateRegistries {
		c.RegistryTransport = publicOnly()
	}
	if c.JS == nil {
		c.JS = c.Queue.JetStream()
	}
	if c.Poll == 0 {
		c.Poll = DefaultPoll
	}
	if c.MaxQueued == 0 {
		c.MaxQueued = bots.DefaultMaxQueued
	}
	if c.PendingFor == 0 {
		c.PendingFor = 14 * 24 * time.Hour
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// anonymous is a keychain with no credentials.
type anonymous struct{}

func (anonymous) Resolve(authn.Resource) (authn.Authenticator, error) { return authn.Anonymous, nil }
