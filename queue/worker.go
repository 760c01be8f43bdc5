package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
)

// Worker takes jobs of one pool for one runner, one at a time.
type Worker struct {
	q      *Queue
	pool   string
	runner string
	log    zerolog.Logger
	// PollWait is how long one pull request waits on the server (default
	// 5s). A message arrives as soon as it is queued; PollWait only bounds
	// how long a canceled Next keeps a pull request open.
	PollWait time.Duration
}

// NewWorker returns a worker that takes jobs of pool for the runner runnerID.
// All runners of a pool share its durable consumer.
func (q *Queue) NewWorker(pool, runnerID string) *Worker {
	return &Worker{
		q: q, pool: pool, runner: runnerID, PollWait: 5 * time.Second,
		log: q.log.With().Str("pool", pool).Str("runner", runnerID).Logger(),
	}
}

// Next blocks until it holds a job, and returns its lease: the job is running
// under a new attempt (attempt+1, compare-and-set on the record) and the
// lease heartbeats the message until it is completed, failed, released or
// abandoned. Messages that carry nothing to run (a canceled job, a stale
// duplicate, a job that already finished) are acknowledged and skipped.
// Transient errors are logged and retried; Next returns only a lease or
// ctx's error.
func (w *Worker) Next(ctx context.Context) (*Lease, error) {
	backoff := newBackoff(100*time.Millisecond, 5*time.Second)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		l, err := w.TryNext(ctx, w.PollWait)
		switch {
		case err == nil:
			return l, nil
		case errors.Is(err, ErrNoMessage):
			backoff.reset()
		case ctx.Err() != nil:
			return nil, ctx.Err()
		default:
			w.log.Warn().Err(err).Msg("fetch job; retrying")
			if err := sleepCtx(ctx, backoff.next()); err != nil {
				return nil, err
			}
		}
	}
}

// TryNext is one poll of Next: it waits up to wait for a message and returns
// ErrNoMessage when none came or the one that came carried nothing to run.
func (w *Worker) TryNext(ctx context.Context, wait time.Duration) (*Lease, error) {
	if !ValidPool(w.pool) {
		return nil, invalidf("pool %q", w.pool)
	}
	if w.runner == "" {
		return nil, invalidf("runner id is empty")
	}
	cons, err := w.q.poolConsumer(ctx, w.pool, true)
	if err != nil {
		return nil, err
	}
	msg, err := fetchOne(ctx, cons, wait)
	if err != nil || msg == nil {
		return nil, err
	}
	return w.claim(ctx, msg)
}

// fetchOne pulls at most one message, waiting up to wait (never Consume:
// prefetched messages would burn their AckWait in a buffer).
func fetchOne(ctx context.Context, cons jetstream.Consumer, wait time.Duration) (jetstream.Msg, error) {
	fctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	batch, err := cons.Fetch(1, jetstream.FetchContext(fctx))
	if err != nil {
		return nil, fmt.Errorf("fetch: %w", err)
	}
	var msg jetstream.Msg
	for m := range batch.Messages() {
		msg = m
	}
	if msg != nil {
		return msg, nil
	}
	err = batch.Error()
	switch {
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case err == nil, errors.Is(err, context.DeadlineExceeded):
		return nil, ErrNoMessage
	}
	return nil, fmt.Errorf("fetch: %w", err)
}

// claimOutcome is what a worker does with a message after reading the record.
type claimOutcome int

const (
	claimRun          claimOutcome = iota // the job is ours: run it
	claimDrop                             // nothing to run: ack the message
	claimCancel                           // it was canceling: now canceled, ack
	claimEnsureVerify                     // uploaded, the ack was lost: request verify again, ack
)

// claim turns a delivered message into a lease, or disposes of it.
func (w *Worker) claim(ctx context.Context, msg jetstream.Msg) (*Lease, error) {
	md, err := msg.Metadata()
	if err != nil {
		return nil, fmt.Errorf("message metadata: %w", err)
	}
	seq := md.Sequence.Stream
	id := msg.Headers().Get(headerJob)
	if id == "" {
		var jm jobMessage
		_ = json.Unmarshal(msg.Data(), &jm)
		id = jm.Job
	}
	log := w.log.With().Str("job", id).Uint64("seq", seq).Uint64("delivery", md.NumDelivered).Logger()
	if checkJobID(id) != nil {
		log.Warn().Msg("job message without a valid job id; dropping")
		return nil, settle(ctx, msg)
	}

	var out claimOutcome
	update := func(j *Job) error {
		now := w.q.now().UTC()
		out = claimDrop
		if j.Seq != 0 && j.Seq != seq {
			return errNoChange // a stale duplicate of the job's message
		}
		switch j.State {
		case Queued:
			out = claimRun
			j.Seq = seq
			j.Deliveries = md.NumDelivered
			j.Attempt++
			j.Runner = w.runner
			return j.apply(Running, w.runner, fmt.Sprintf("taken by runner %s", w.runner), now)
		case Running:
			// The server redelivered the message: the runner of the current
			// attempt stopped heartbeating for a whole AckWait.
			out = claimRun
			j.Seq = seq
			j.Deliveries = md.NumDelivered
			lost := fmt.Sprintf("attempt %d of runner %s lost its lease: no heartbeat for %s", j.Attempt, j.Runner, w.q.cfg.AckWait)
			if err := j.apply(Queued, w.runner, lost, now); err != nil {
				return err
			}
			j.Attempt++
			j.Runner = w.runner
			return j.apply(Running, w.runner, fmt.Sprintf("taken over by runner %s", w.runner), now)
		case Canceling:
			out = claimCancel
			return j.apply(Canceled, w.runner, "canceled; its message was delivered again", now)
		case Uploaded:
			out = claimEnsureVerify
		}
		return errNoChange
	}

	var j *Job
	deadline := time.Now().Add(w.q.cfg.HeartbeatEvery)
	backoff := newBackoff(100*time.Millisecond, 2*time.Second)
	for {
		j, err = w.q.update(ctx, id, update)
		if err == nil || errors.Is(err, ErrJobNotFound) || errors.Is(err, ErrBadTransition) || ctx.Err() != nil {
			break
		}
		if time.Now().After(deadline) {
			// Give the message back so that another try comes soon rather
			// than after a whole AckWait.
			_ = msg.NakWithDelay(time.Second)
			return nil, fmt.Errorf("claim job %s: %w", id, err)
		}
		log.Warn().Err(err).Msg("claim job; retrying")
		_ = msg.InProgress()
		if err := sleepCtx(ctx, backoff.next()); err != nil {
			return nil, err
		}
	}
	switch {
	case errors.Is(err, ErrJobNotFound):
		log.Warn().Msg("job message without a job record; dropping")
		return nil, settle(ctx, msg)
	case err != nil:
		return nil, fmt.Errorf("claim job %s: %w", id, err)
	case out == claimRun:
		log.Info().Int("attempt", j.Attempt).Msg("job taken")
		return newLease(w, msg, j), nil
	case out == claimEnsureVerify:
		if err := w.q.RequestVerify(ctx, VerifyRequest{Job: j.ID, Attempt: j.Attempt}); err != nil {
			return nil, err
		}
	}
	log.Debug().Str("state", string(j.State)).Msg("job message carries nothing to run; acknowledged")
	return nil, settle(ctx, msg)
}

// settle acknowledges a message that carries nothing to run and returns
// ErrNoMessage, so that the caller polls again.
func settle(ctx context.Context, msg jetstream.Msg) error {
	if err := msg.DoubleAck(ctx); err != nil {
		return fmt.Errorf("ack: %w", err)
	}
	return ErrNoMessage
}

// backoff doubles from min up to max, with ±25% jitter so that runners that
// failed together do not retry together.
type backoff struct{ min, max, cur time.Duration }

func newBackoff(min, max time.Duration) *backoff { return &backoff{min: min, max: max} }

func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.min
	} else {
		b.cur = min(2*b.cur, b.max)
	}
	return b.cur*3/4 + rand.N(b.cur/2+1)
}

func (b *backoff) reset() { b.cur = 0 }
