package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// RunnerInfo is a runner's liveness entry. Runners refresh it more often than
// Config.RunnerTTL; an entry that is not refreshed expires.
type RunnerInfo struct {
	ID        string          `json:"id"`
	Pool      string          `json:"pool"`
	Host      string          `json:"host,omitempty"`
	Version   string          `json:"version,omitempty"`
	KeyName   string          `json:"key_name,omitempty"` // the enrolled key it signs with
	Job       string          `json:"job,omitempty"`      // the job it runs now
	Attempt   int             `json:"attempt,omitempty"`
	Inventory json.RawMessage `json:"inventory,omitempty"` // hardware, driver, software
	StartedAt time.Time       `json:"started_at"`
	SeenAt    time.Time       `json:"seen_at"`
}

var runnerIDRe = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$`)

// RegisterRunner writes (or refreshes) a runner's liveness entry; SeenAt is
// set to now.
func (q *Queue) RegisterRunner(ctx context.Context, info RunnerInfo) error {
	if !runnerIDRe.MatchString(info.ID) || strings.HasSuffix(info.ID, ".") {
		return invalidf("runner id %q", info.ID)
	}
	info.SeenAt = q.now().UTC()
	if info.StartedAt.IsZero() {
		info.StartedAt = info.SeenAt
	}
	data, err := json.Marshal(info)
	if err != nil {
		return fmt.Errorf("encode runner %s: %w", info.ID, err)
	}
	if _, err := q.runners.Put(ctx, info.ID, data); err != nil {
		return fmt.Errorf("register runner %s: %w", info.ID, err)
	}
	return nil
}

// DeregisterRunner removes a runner's liveness entry (clean shutdown).
func (q *Queue) DeregisterRunner(ctx context.Context, id string) error {
	if err := q.runners.Delete(ctx, id); err != nil {
		return fmt.Errorf("deregister runner %s: %w", id, err)
	}
	return nil
}

// ListRunners returns the live runners by id.
func (q *Queue) ListRunners(ctx context.Context) ([]RunnerInfo, error) {
	ids, err := bucketKeys(ctx, q.runners)
	if err != nil {
		return nil, err
	}
	var out []RunnerInfo
	for _, id := range ids {
		e, err := q.runners.Get(ctx, id)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue // expired meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("get runner %s: %w", id, err)
		}
		var r RunnerInfo
		if err := json.Unmarshal(e.Value(), &r); err != nil {
			return nil, fmt.Errorf("decode runner %s: %w", id, err)
		}
		out = append(out, r)
	}
	return out, nil
}
