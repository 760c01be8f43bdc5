package accounts

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/internal/kvbucket"
)

// BucketVendors is the KV bucket of vendors, maintainers and token hashes.
// Its name is part of the contract: existing deployments keep their tokens.
const BucketVendors = "agentwatt-vendors"

// Config configures the Store. The zero value gives the defaults.
type Config struct {
	// Replicas of the bucket: 1, 3 or 5; 0 binds to the bucket as it is and
	// creates a missing one with 1 (the CLI), as queue.Config.Replicas.
	Replicas int
}

// Validate checks a config as the caller set it, naming the bad field. It
// changes nothing.
func (c Config) Validate() error {
	if err := kvbucket.CheckReplicas(c.Replicas); err != nil {
		return invalidf("Replicas %v", err)
	}
	return nil
}

// Store holds the vendors, maintainers and their tokens. It is safe for
// concurrent use.
type Store struct {
	kv  jetstream.KeyValue
	log zerolog.Logger
	now func() time.Time
}

// Open binds to the bucket on js, creating it where missing. The caller
// owns js's connection (usually the queue's: queue.Queue.JetStream).
func Open(ctx context.Context, js jetstream.JetStream, cfg Config, log zerolog.Logger) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	kv, err := kvbucket.Ensure(ctx, js, jetstream.KeyValueConfig{
		Bucket:      BucketVendors,
		Description: "agentwatt vendors and their hashed API tokens",
		Storage:     jetstream.FileStorage,
	}, cfg.Replicas)
	if err != nil {
		return nil, err
	}
	return &Store{kv: kv, now: time.Now, log: log.With().Str("component", "accounts").Logger()}, nil
}
