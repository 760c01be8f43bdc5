package verifyd

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/fleet"
	"github.com/agentwatt/agentwatt/queue"
	"github.com/agentwatt/agentwatt/verifier"
	"github.com/agentwatt/agentwatt/workload"
)

// Queue is what the daemon needs from the queue: verify requests, the
// job's record and its transitions.
type Queue interface {
	JobRecords
	NextVerify(ctx context.Context, wait time.Duration) (*queue.VerifyLease, error)
	Transition(ctx context.Context, id string, attempt int, to queue.State, reason string) (*queue.Job, error)
}

var _ Queue = (*queue.Queue)(nil)

// KeySource lists the enrolled runner keys and their pools (a
// *fleet.Fleet), read afresh for every verification.
type KeySource interface {
	TrustedKeys(ctx context.Context) (map[string]fleet.Key, error)
}

var _ KeySource = (*fleet.Fleet)(nil)

// Store is what the daemon needs from object storage: reading bundles and
// writing verdict.json beside them.
type Store interface {
	ObjectStore
	PutBytes(ctx context.Context, key string, b []byte, contentType string) error
}

// WorkloadResolver fetches the workload name@digest names.
type WorkloadResolver func(ctx context.Context, name, digest string) (*workload.Workload, error)

// Config configures the verifier daemon. Queue, Keys, Store and Workloads
// are required; the rest have defaults.
type Config struct {
	Queue Queue
	Keys  KeySource
	Store Store
	// Workloads fetches the workload a bundle pins (RegistryWorkloads).
	Workloads WorkloadResolver
	// References are the accuracy set's answers; default GSM8KReferences.
	References []verifier.Reference
	// Wait is how long one fetch waits for a request (default 5s);
	// RetryDelay how long a request that could not be verified (I/O) waits
	// before another try (default 30s).
	Wait       time.Duration
	RetryDelay time.Duration
	Log        zerolog.Logger
}

// Validate names the first field that is missing or out of range. It does
// not fill defaults: New does.
func (c Config) Validate() error {
	switch {
	case c.Queue == nil:
		return fmt.Errorf("%w: Queue is required", ErrInvalidConfig)
	case c.Keys == nil:
		return fmt.Errorf("%w: Keys is required", ErrInvalidConfig)
	case c.Store == nil:
		return fmt.Errorf("%w: Store is required", ErrInvalidConfig)
	case c.Workloads == nil:
		return fmt.Errorf("%w: Workloads is required", ErrInvalidConfig)
	case c.Wait < 0:
		return fmt.Errorf("%w: Wait %s: want 0 (default) or more", ErrInvalidConfig, c.Wait)
	case c.RetryDelay < 0:
		return fmt.Errorf("%w: RetryDelay %s: want 0 (default) or more", ErrInvalidConfig, c.RetryDelay)
	}
	return nil
}

// withDefaults fills what the caller left zero.
func (c Config) withDefaults() (Config, error) {
	if c.Wait == 0 {
		c.Wait = 5 * time.Second
	}
	if c.RetryDelay == 0 {
		c.RetryDelay = 30 * time.Second
	}
	if c.References == nil {
		refs, err := GSM8KReferences()
		if err != nil {
			return c, err
		}
		c.References = refs
	}
	return c, nil
}

// ErrInvalidConfig: a Config that Validate refuses.
var ErrInvalidConfig = errors.New("invalid verifier config")
