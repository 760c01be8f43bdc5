package queue

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// PoolConsumerPrefix + pool is the durable consumer of a pool's jobs on
// StreamJobs: what external scalers (KEDA's nats-jetstream trigger) watch.
const PoolConsumerPrefix = "pool-"

// PoolDepth is how many jobs of a pool wait for a runner and how many
// runners hold, as JetStream counts them on the pool's consumer.
type PoolDepth struct {
	// Waiting is the consumer's pending count: messages not yet delivered.
	Waiting int
	// Running is its ack-pending count: delivered, not yet acknowledged
	// (a job runs until its runner completes, fails or releases it).
	Running int
}

// PoolDepth reads the pool consumer's counts. It creates nothing: a pool
// whose consumer does not exist yet (nothing was ever queued for it and no
// runner polled it) has none waiting and none running.
func (q *Queue) PoolDepth(ctx context.Context, pool string) (PoolDepth, error) {
	if !ValidPool(pool) {
		return PoolDepth{}, invalidf("pool %q", pool)
	}
	c, err := q.js.Consumer(ctx, StreamJobs, poolConsumerName(pool))
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return PoolDepth{}, nil
	}
	if err != nil {
		return PoolDepth{}, fmt.Errorf("pool %s consumer: %w", pool, err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		return PoolDepth{}, fmt.Errorf("pool %s consumer info: %w", pool, err)
	}
	return PoolDepth{Waiting: int(info.NumPending), Running: info.NumAckPending}, nil
}
