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

// WorkerConfig configures a Worker.
type WorkerConfig struct {
	// Pool is the pool whose jobs the worker takes; Runner the id of the
	// runner it takes them for (recorded on each attempt). Both required.
	Pool, Runner string
	// PollWait is how long one pull request waits on the server (default
	// 5s). A message arrives as soon as it is queued; PollWait only bounds
	// how long a canceled Next keeps a pull request open.
	PollWait time.Duration
}

// Validate checks a worker config as the caller set it; each error names
// the field. It changes nothing.
func (c WorkerConfig) Validate() error {
	var errs []error
	if !ValidPool(c.Pool) {
		errs = append(errs, invalidf("Pool %q: want lower-case letters, digits, '-' or '_'", c.Pool))
	}
	if c.Runner == "" {
		errs = append(errs, invalidf("Runner is empty"))
	}
	if c.PollWait < 0 {
		errs = append(errs, invalidf("PollWait %s: want a positive duration (0: the default)", c.PollWait))
	}
	return errors.Join(errs...)
}

// withDefaults fills the zero fields with their defaults.
func (c WorkerConfig) withDefaults() WorkerConfig {
	if c.PollWait == 0 {
		c.PollWait = 5 * time.Second
	}
	return c
}

// Worker takes jobs of one pool for one runner, one at a time.
type Worker struct {
	q   *Queue
	cfg WorkerConfig
	log zerolog.Logger
}

// NewWorker returns a worker that takes jobs of cfg.Pool for the runner
// cfg.Runner. All runners of a pool share its durable consumer.
func (q *Queue) NewWorker(cfg WorkerConfig) (*Worker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	cfg = cfg.withDefaults()
	return &Worker{
		q: q, cfg: cfg,
		log: q.log.With().Str("pool", cfg.Pool).Str("runner", cfg.Runner).Logger(),
	}, nil
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
		l, err := w.TryNext(ctx, w.cfg.PollWait)
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
	cons, err := w.q.poolConsumer(ctx, w.cfg.Pool, true)
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
			j.Runner = w.cfg.Runner
			return j.apply(Running, w.cfg.Runner, fmt.Sprintf("taken by runner %s", w.cfg.Runner), now)
		case Running:
			// The server redelivered the message: the runner of the current
			// attempt stopped heartbeating for a whole AckWait.
			out = claimRun
			j.Seq = seq
			j.Deliveries = md.NumDelivered
			lost := fmt.Sprintf("attempt %d of runner %s lost its lease: no heartbeat for %s", j.Attempt, j.Runner, w.q.cfg.AckWait)
			if err := j.apply(Queued, w.cfg.Runner, lost, now); err != nil {
				return err
			}
			j.Attempt++
			j.Runner = w.cfg.Runner
			return j.apply(Running, w.cfg.Runner, fmt.Sprintf("taken over by runner %s", w.cfg.Runner), now)
		case Canceling:
			out = claimCancel
			return j.apply(Canceled, w.cfg.Runner, "canceled; its message was delivered again", now)
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
