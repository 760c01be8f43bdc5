package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
)

// Lease is a runner's hold on one attempt of one job, from Worker.Next until
// Complete, Fail, Release or AckCanceled. While it is held it heartbeats the
// message and watches the job record. Every change it makes is fenced by its
// attempt: once another runner has taken the job over, the lease's
// transitions fail with ErrStaleAttempt and it never acknowledges the
// message (the server would accept a late ack).
type Lease struct {
	q       *Queue
	msg     jetstream.Msg
	job     *Job
	attempt int
	runner  string
	log     zerolog.Logger

	hb        *heartbeat
	stopWatch context.CancelFunc
	watchDone chan struct{}

	canceled, lost       chan struct{}
	cancelOnce, lostOnce sync.Once
	finishing            atomic.Bool // the lease itself is moving the job on
	mu                   sync.Mutex
	finished             bool
}

func newLease(w *Worker, msg jetstream.Msg, j *Job) *Lease {
	l := &Lease{
		q: w.q, msg: msg, job: j.clone(), attempt: j.Attempt, runner: w.cfg.Runner,
		log:       w.log.With().Str("job", j.ID).Int("attempt", j.Attempt).Logger(),
		canceled:  make(chan struct{}),
		lost:      make(chan struct{}),
		watchDone: make(chan struct{}),
	}
	l.putKey()
	l.hb = startHeartbeat(msg, w.q.cfg.HeartbeatEvery, l.log, l.putKey)
	ctx, cancel := context.WithCancel(context.Background())
	l.stopWatch = cancel
	go l.watch(ctx)
	return l
}

// leaseKey is a running attempt's entry in the leases bucket, under
// leaseKeyName. The lease writes it when taken and on every heartbeat; the
// bucket's TTL (AckWait) removes it when the heartbeats stop, and the sweeper
// then releases the job. One key per attempt: a stale runner that still
// heartbeats keeps only its own attempt's key alive.
type leaseKey struct {
	Job     string `json:"job"`
	Attempt int    `json:"attempt"`
	Runner  string `json:"runner"`
}

func leaseKeyName(job string, attempt int) string { return fmt.Sprintf("%s.%d", job, attempt) }

// putKey refreshes the lease's key. A failed put is covered by the next
// heartbeat, as long as AckWait spans several intervals.
func (l *Lease) putKey() {
	data, _ := json.Marshal(leaseKey{Job: l.job.ID, Attempt: l.attempt, Runner: l.runner})
	ctx, cancel := context.WithTimeout(context.Background(), l.q.cfg.HeartbeatEvery)
	defer cancel()
	if _, err := l.q.leases.Put(ctx, leaseKeyName(l.job.ID, l.attempt), data); err != nil {
		l.log.Debug().Err(err).Msg("refresh lease key")
	}
}

// deleteKey removes the lease's key once the lease has moved the job on.
func (l *Lease) deleteKey(ctx context.Context) {
	if err := l.q.leases.Delete(ctx, leaseKeyName(l.job.ID, l.attempt)); err != nil {
		l.log.Debug().Err(err).Msg("delete lease key; it expires")
	}
}

// Job is the record as it was when the lease was taken.
func (l *Lease) Job() *Job { return l.job.clone() }

// Attempt is the lease's attempt number (1 for the first run).
func (l *Lease) Attempt() int { return l.attempt }

// Canceled is closed when the job is asked to cancel (state canceling). The
// runner stops the run and calls AckCanceled.
func (l *Lease) Canceled() <-chan struct{} { return l.canceled }

// Lost is closed when the job no longer belongs to this attempt: another
// runner took it over after this one's heartbeats stopped reaching the
// server, or it was failed from outside. The runner stops; there is nothing
// left to acknowledge.
func (l *Lease) Lost() <-chan struct{} { return l.lost }

// watch follows the job record until the lease ends, re-watching after
// transient errors.
func (l *Lease) watch(ctx context.Context) {
	defer close(l.watchDone)
	bo := newBackoff(200*time.Millisecond, 5*time.Second)
	for {
		err := l.q.WatchJob(ctx, l.job.ID, func(j *Job) error {
			if j.Attempt != l.attempt {
				l.markLost()
				return ErrStop
			}
			switch j.State {
			case Canceling:
				l.cancelOnce.Do(func() { close(l.canceled) })
			case Queued, Failed, Canceled:
				if !l.finishing.Load() {
					l.markLost()
					return ErrStop
				}
			}
			return nil
		})
		if err == nil || ctx.Err() != nil {
			return
		}
		l.log.Debug().Err(err).Msg("watch job; retrying")
		if sleepCtx(ctx, bo.next()) != nil {
			return
		}
	}
}

func (l *Lease) markLost() {
	l.lostOnce.Do(func() {
		l.log.Warn().Msg("lease lost: the job moved on without this attempt")
		close(l.lost)
	})
}

// Transition moves the job on under this lease's attempt, e.g. to a state a
// later issue adds between running and uploaded. Ending the lease goes
// through Complete, Fail, Release or AckCanceled, which also settle the
// message.
func (l *Lease) Transition(ctx context.Context, to State, reason string) (*Job, error) {
	return l.q.TransitionBy(ctx, l.job.ID, l.attempt, to, l.runner, reason)
}

// Event publishes an event for the job, stamped with this attempt.
func (l *Lease) Event(ctx context.Context, ev Event) error {
	ev.Attempt = l.attempt
	if ev.By == "" {
		ev.By = l.runner
	}
	return l.q.PublishEvent(ctx, l.job.ID, ev)
}

// Complete records that the attempt's bundle is uploaded (running →
// uploaded), requests its verification and acknowledges the message. It is
// safe to call again after an error. If the job was canceling, it is
// canceled instead and Complete returns ErrJobCanceled.
func (l *Lease) Complete(ctx context.Context) (*Job, error) {
	return l.end(ctx, Uploaded, "bundle uploaded", func(ctx context.Context, j *Job) error {
		if err := l.q.RequestVerify(ctx, VerifyRequest{Job: j.ID, Attempt: l.attempt}); err != nil {
			return err
		}
		return ackOnce(l.msg.DoubleAck(ctx))
	})
}

// Fail records that the attempt failed (running → failed, with reason) and
// terminates the message, so that it is not delivered again. If the job was
// canceling, it is canceled instead and Fail returns ErrJobCanceled.
func (l *Lease) Fail(ctx context.Context, reason string) (*Job, error) {
	return l.end(ctx, Failed, reason, func(_ context.Context, j *Job) error {
		return ackOnce(l.msg.TermWithReason(termReason(j.ID, l.attempt, reason)))
	})
}

// Release gives the job back to the pool (running → queued), for a runner
// that shuts down or cannot run it after all; the message is nak'ed and goes
// to the next runner as a new attempt. A release counts as a delivery
// against MaxDeliver. If the job was canceling, it is canceled instead and
// Release returns ErrJobCanceled.
func (l *Lease) Release(ctx context.Context, reason string) (*Job, error) {
	return l.end(ctx, Queued, reason, func(context.Context, *Job) error {
		return ackOnce(l.msg.Nak())
	})
}

// AckCanceled confirms a cancel (canceling → canceled) after the runner has
// stopped, and acknowledges the message.
func (l *Lease) AckCanceled(ctx context.Context) (*Job, error) {
	return l.end(ctx, Canceled, "canceled; runner stopped", func(ctx context.Context, _ *Job) error {
		return ackOnce(l.msg.DoubleAck(ctx))
	})
}

// Abandon stops heartbeating and watching without settling the message: its
// lease key expires after AckWait, the sweeper (or the next runner the
// server redelivers the message to) queues the job again, and the next
// runner takes it as a new attempt. Later calls on the lease stay fenced by
// its attempt.
func (l *Lease) Abandon() { l.stop() }

// end is the one path by which a lease ends: a fenced compare-and-set to
// (or, if the job is canceling, to canceled), then settle on the message.
// A repeated call after an error finds the record already moved and only
// settles. ErrStaleAttempt ends the lease without settling.
func (l *Lease) end(ctx context.Context, to State, reason string, settle func(context.Context, *Job) error) (*Job, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.finished {
		return nil, ErrLeaseFinished
	}
	l.finishing.Store(true)
	var canceled bool
	j, err := l.q.update(ctx, l.job.ID, func(j *Job) error {
		canceled = false
		if j.Attempt != l.attempt {
			return &StaleAttemptError{Job: j.ID, Attempt: l.attempt, Current: j.Attempt}
		}
		now := l.q.now().UTC()
		switch {
		case j.State == to:
			return errNoChange // done by an earlier call whose reply was lost
		case j.State == Queued:
			// The sweeper gave the job back while this lease's key had
			// expired; the next runner takes it as a new attempt.
			return fmt.Errorf("job %s: attempt %d was released after its lease expired: %w", j.ID, l.attempt, ErrStaleAttempt)
		case j.State == Canceled:
			canceled = true
			return errNoChange
		case j.State == Canceling:
			canceled = true
			return j.apply(Canceled, l.runner, "canceled while running", now)
		}
		if to == Queued {
			j.Runner = ""
		}
		return j.apply(to, l.runner, reason, now)
	})
	if errors.Is(err, ErrStaleAttempt) {
		l.stop()
		l.finished = true
		return nil, err
	}
	if err != nil {
		l.finishing.Store(false)
		return nil, err
	}
	if canceled {
		actx, cancel := l.q.requestCtx(ctx)
		defer cancel()
		if err := ackOnce(l.msg.DoubleAck(actx)); err != nil {
			return j, fmt.Errorf("ack canceled job %s: %w", j.ID, err)
		}
		l.stop()
		l.deleteKey(ctx)
		l.finished = true
		if to == Canceled {
			return j, nil
		}
		return j, fmt.Errorf("job %s: %w", j.ID, ErrJobCanceled)
	}
	sctx, cancel := l.q.requestCtx(ctx)
	defer cancel()
	if err := settle(sctx, j); err != nil {
		return j, fmt.Errorf("job %s → %s: %w", j.ID, to, err)
	}
	l.stop()
	l.deleteKey(ctx)
	l.finished = true
	l.log.Info().Str("state", string(j.State)).Msg("lease ended")
	return j, nil
}

// stop ends the heartbeat and the watch; it is idempotent.
func (l *Lease) stop() {
	l.hb.Stop()
	l.stopWatch()
	<-l.watchDone
}

// ackOnce treats "already acknowledged" as success: a repeated end after a
// lost reply acknowledges a message the client already marked as done.
func ackOnce(err error) error {
	if errors.Is(err, jetstream.ErrMsgAlreadyAckd) {
		return nil
	}
	return err
}
