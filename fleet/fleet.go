package fleet

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/internal/kvbucket"
)

// Bucket names. They are part of the contract: existing deployments keep
// their enrolled keys.
const (
	BucketKeys    = "agentwatt-runner-keys" // enrolled keys, no TTL
	BucketRunners = "agentwatt-runners"     // liveness, with TTL
	// BucketEnrolTokens holds the enrolment tokens' records (sha256 of
	// the token, pool, expiry, use), TTL 7 days.
	BucketEnrolTokens = "agentwatt-enrol-tokens"
)

// Config configures the Fleet. The zero value gives the defaults.
type Config struct {
	// Replicas of the buckets: 1, 3 or 5; 0 binds to the buckets as they
	// are and creates missing ones with 1 (the CLI), as
	// queue.Config.Replicas.
	Replicas int
	// RunnerTTL is how long a runner's liveness entry lives without a
	// refresh (default 90s). A runner refreshes it every RunnerTTL/3.
	RunnerTTL time.Duration
}

// Validate checks a config as the caller set it, naming the bad field. It
// changes nothing.
func (c Config) Validate() error {
	var errs []error
	if err := kvbucket.CheckReplicas(c.Replicas); err != nil {
		errs = append(errs, invalidf("Replicas %v", err))
	}
	if c.RunnerTTL < 0 {
		errs = append(errs, invalidf("RunnerTTL %s: want a positive duration (0: the default)", c.RunnerTTL))
	}
	return errors.Join(errs...)
}

// withDefaults fills the zero fields with their defaults.
func (c Config) withDefaults() Config {
	if c.RunnerTTL == 0 {
		c.RunnerTTL = 90 * time.Second
	}
	return c
}

// Fleet holds the enrolled runner keys and the runners' liveness. It is
// safe for concurrent use.
type Fleet struct {
	keys, runners, tokens jetstream.KeyValue
	cfg                   Config
	log                   zerolog.Logger
	now                   func() time.Time
}

// Open binds to the fleet's buckets on js, creating them where missing.
// The caller owns js's connection (usually the queue's:
// queue.Queue.JetStream).
func Open(ctx context.Context, js jetstream.JetStream, cfg Config, log zerolog.Logger) (*Fleet, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	f := &Fleet{cfg: cfg, now: time.Now, log: log.With().Str("component", "fleet").Logger()}
	var err error
	if f.runners, err = kvbucket.Ensure(ctx, js, jetstream.KeyValueConfig{
		Bucket:      BucketRunners,
		Description: "agentwatt runner liveness: registration, inventory, current job",
		TTL:         cfg.RunnerTTL,
		Storage:     jetstream.FileStorage,
	}, cfg.Replicas); err != nil {
		return nil, err
	}
	if f.keys, err = kvbucket.Ensure(ctx, js, jetstream.KeyValueConfig{
		Bucket:      BucketKeys,
		Description: "agentwatt enrolled runner signing keys (ed25519)",
		History:     5,
		Storage:     jetstream.FileStorage,
	}, cfg.Replicas); err != nil {
		return nil, err
	}
	if f.tokens, err = kvbucket.Ensure(ctx, js, jetstream.KeyValueConfig{
		Bucket:      BucketEnrolTokens,
		Description: "agentwatt runner enrolment tokens (sha256 only), single use",
		TTL:         tokenBucketTTL,
		Storage:     jetstream.FileStorage,
	}, cfg.Replicas); err != nil {
		return nil, err
	}
	return f, nil
}

// Config returns the configuration in effect (defaults applied).
func (f *Fleet) Config() Config { return f.cfg }
