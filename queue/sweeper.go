package queue

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
)

// sweeperActor is recorded as "by" on the transitions the sweeper makes.
const sweeperActor = "sweeper"

// Sweeper notices lost leases without waiting for a runner. The server
// redelivers an unacknowledged job message, and sends the MAX_DELIVERIES
// advisory, only when some runner of the pool pulls; with none polling, a job
// whose runner died would stay running. Every SweepEvery the sweeper looks at
// the running and canceling jobs: one whose current attempt has no lease key
// (its heartbeats stopped for AckWait, so the key expired) is given back to
// its pool (running → queued, attempt kept: the next runner takes it as
// attempt+1, and the lost runner's lease is fenced), failed as a dead letter
// when its message has no delivery left, and a canceling one is canceled.
// Every change is a compare-and-set that re-checks the attempt and the key,
// so two sweepers (two servers) never release a job twice. Run one or more per
// deployment (the intake server and the local stack run one).
type Sweeper struct {
	q   *Queue
	log zerolog.Logger
}

// Sweeper returns the lease sweeper; Run runs it.
func (q *Queue) Sweeper() *Sweeper {
	return &Sweeper{q: q, log: q.log.With().Str("component", "sweeper").Logger()}
}

// Run sweeps every SweepEvery until ctx ends, then returns nil.
func (s *Sweeper) Run(ctx context.Context) error {
	t := time.NewTicker(s.q.cfg.SweepEvery)
	defer t.Stop()
	for {
		if _, err := s.q.sweep(ctx, s.log); err != nil && ctx.Err() == nil {
			s.log.Warn().Err(err).Msg("sweep leases; next round retries")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// sweep is one round: it returns how many jobs it moved on.
func (q *Queue) sweep(ctx context.Context, log zerolog.Logger) (int, error) {
	jobs, err := q.List(ctx, Filter{})
	if err != nil {
		return 0, err
	}
	moved := 0
	var errs []error
	for _, j := range jobs {
		if j.State != Running && j.State != Canceling {
			continue
		}
		ok, err := q.sweepJob(ctx, j.ID, log)
		if err != nil {
			errs = append(errs, fmt.Errorf("job %s: %w", j.ID, err))
		}
		if ok {
			moved++
		}
	}
	return moved, errors.Join(errs...)
}

// sweepJob moves one job on if its current attempt's lease is lost, and
// reports whether it did.
func (q *Queue) sweepJob(ctx context.Context, id string, log zerolog.Logger) (bool, error) {
	var wrote bool
	j, err := q.update(ctx, id, func(j *Job) error {
		wrote = false
		if j.State != Running && j.State != Canceling {
			return errNoChange
		}
		lost, err := q.leaseLost(ctx, j)
		if err != nil {
			return err
		}
		if !lost {
			return errNoChange
		}
		to, reason := q.afterLostLease(ctx, j)
		if to == Queued {
			j.Runner = ""
		}
		if err := j.apply(to, sweeperActor, reason, q.now().UTC()); err != nil {
			return err
		}
		wrote = true
		return nil
	})
	if err != nil || !wrote {
		return false, err
	}
	log.Warn().Str("job", id).Int("attempt", j.Attempt).Str("state", string(j.State)).Str("reason", j.Reason).Msg("lost lease swept")
	if j.State == Queued || j.Seq == 0 {
		return true, nil // the message stays: its next delivery runs the job
	}
	// Failed or canceled: nothing will run the message again.
	return true, q.buryJobMessage(ctx, j)
}

// afterLostLease says where a job whose lease is lost goes: a canceling job
// is canceled; a running one is queued again while its message has
// deliveries left, and failed as a dead letter otherwise.
func (q *Queue) afterLostLease(ctx context.Context, j *Job) (State, string) {
	gone := fmt.Sprintf("attempt %d lost its lease: no heartbeat for %s", j.Attempt, q.cfg.AckWait)
	if j.Runner != "" {
		gone = fmt.Sprintf("attempt %d of runner %s lost its lease: no heartbeat for %s", j.Attempt, j.Runner, q.cfg.AckWait)
	}
	switch {
	case j.State == Canceling && j.Runner == "":
		return Canceled, "canceled; no runner holds it" // a cancel of a queued job, interrupted
	case j.State == Canceling:
		return Canceled, "canceled; its runner is gone (" + gone + ")"
	case j.Deliveries >= uint64(q.cfg.MaxDeliver):
		return Failed, fmt.Sprintf("dead letter: %s, and its message was delivered %d times (MaxDeliver %d)", gone, j.Deliveries, q.cfg.MaxDeliver)
	case !q.jobMessageExists(ctx, j.Seq):
		return Failed, gone + ", and its message is gone"
	}
	return Queued, gone + "; queued again"
}

// leaseLost reports whether j's current attempt has no lease key. A record
// written less than AckWait ago (by the server's clock) is not judged: the
// worker writes the key just after it moves the record to running.
func (q *Queue) leaseLost(ctx context.Context, j *Job) (bool, error) {
	e, err := q.jobs.Get(ctx, j.ID)
	if err != nil {
		return false, err
	}
	if e.Revision() != j.Revision || q.now().Sub(e.Created()) < q.cfg.AckWait {
		return false, nil
	}
	_, err = q.leases.Get(ctx, leaseKeyName(j.ID, j.Attempt))
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return true, nil
	case err != nil:
		return false, fmt.Errorf("read lease: %w", err)
	}
	return false, nil
}

// jobMessageExists reports whether the work queue still holds message seq.
// On an error other than "not found" it says yes: the job is then queued
// again, which a later dead letter can still fail, rather than failed.
func (q *Queue) jobMessageExists(ctx context.Context, seq uint64) bool {
	if seq == 0 {
		return false
	}
	_, err := q.jobsStream.GetMsg(ctx, seq)
	return !errors.Is(err, jetstream.ErrMsgNotFound)
}

// buryJobMessage keeps a copy of a swept job's message in AGENTWATT_DEAD
// and deletes it from the work queue, as the dead-letter watcher does for an
// advised one.
func (q *Queue) buryJobMessage(ctx context.Context, j *Job) error {
	raw, err := q.jobsStream.GetMsg(ctx, j.Seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read dead message %d: %w", j.Seq, err)
	}
	if err := q.copyDead(ctx, StreamJobs, raw, j.ID, j.Reason, j.Deliveries); err != nil {
		return err
	}
	if err := q.jobsStream.DeleteMsg(ctx, j.Seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		return fmt.Errorf("delete dead message %d: %w", j.Seq, err)
	}
	return nil
}
