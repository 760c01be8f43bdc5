package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/agentwatt/agentwatt/internal/kvbucket"
)

// Runner is a runner's liveness entry, as stored (JSON) in BucketRunners.
// Runners refresh it more often than Config.RunnerTTL; an entry that is not
// refreshed expires.
type Runner struct {
	ID      string `json:"id"`
	Pool    string `json:"pool"`
	Host    string `json:"host,omitempty"`
	Version string `json:"version,omitempty"`
	KeyName string `json:"key_name,omitempty"` // the enrolled key it signs with
	Job     string `json:"job,omitempty"`      // the job it runs now
	Attempt int    `json:"attempt,omitempty"`
	// Instance is the cloud instance the runner runs on (an EC2 instance
	// id), as the runner reports it; the scaler maps busy runners to the
	// instances it protects from scale-in.
	Instance  string          `json:"instance,omitempty"`
	Inventory json.RawMessage `json:"inventory,omitempty"` // hardware, driver, software
	StartedAt time.Time       `json:"started_at"`
	SeenAt    time.Time       `json:"seen_at"`
}

var runnerIDRe = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$`)

// Register writes (or refreshes) a runner's liveness entry; SeenAt is
// set to now.
func (f *Fleet) Register(ctx context.Context, info Runner) error {
	if !runnerIDRe.MatchString(info.ID) || strings.HasSuffix(info.ID, ".") {
		return invalidf("runner id %q", info.ID)
	}
	info.SeenAt = f.now().UTC()
	if info.StartedAt.IsZero() {
		info.StartedAt = info.SeenAt
	}
	data, err := json.Marshal(info)
	if err != nil {
		return fmt.Errorf("encode runner %s: %w", info.ID, err)
	}
	if _, err := f.runners.Put(ctx, info.ID, data); err != nil {
		return fmt.Errorf("register runner %s: %w", info.ID, err)
	}
	return nil
}

// Deregister removes a runner's liveness entry (clean shutdown).
func (f *Fleet) Deregister(ctx context.Context, id string) error {
	if err := f.runners.Delete(ctx, id); err != nil {
		return fmt.Errorf("deregister runner %s: %w", id, err)
	}
	return nil
}

// Runners returns the live runners by id.
func (f *Fleet) Runners(ctx context.Context) ([]Runner, error) {
	ids, err := kvbucket.Keys(ctx, f.runners)
	if err != nil {
		return nil, err
	}
	var out []Runner
	for _, id := range ids {
		e, err := f.runners.Get(ctx, id)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue // expired meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("get runner %s: %w", id, err)
		}
		var r Runner
		if err := json.Unmarshal(e.Value(), &r); err != nil {
			return nil, fmt.Errorf("decode runner %s: %w", id, err)
		}
		out = append(out, r)
	}
	return out, nil
}
