package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/agentwatt/agentwatt/internal/kvbucket"
)

// casTries bounds the re-read and retry loop of a compare-and-set update.
// Conflicts come from a handful of writers (intake, one runner, the
// dead-letter watcher, a maintainer); 32 consecutive losses mean something
// is wrong.
const casTries = 32

// errNoChange, returned by an update function, ends the update without
// writing: the record already says what the caller wanted.
var errNoChange = errors.New("no change")

// Get reads a job record.
func (q *Queue) Get(ctx context.Context, id string) (*Job, error) {
	if err := checkJobID(id); err != nil {
		return nil, err
	}
	e, err := q.jobs.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, fmt.Errorf("job %s: %w", id, ErrJobNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get job %s: %w", id, err)
	}
	return decodeJob(e)
}

func decodeJob(e jetstream.KeyValueEntry) (*Job, error) {
	var j Job
	if err := json.Unmarshal(e.Value(), &j); err != nil {
		return nil, fmt.Errorf("job %s: decode record: %w", e.Key(), err)
	}
	j.Revision = e.Revision()
	return &j, nil
}

// List returns the jobs that match f, oldest first. It reads every record:
// fine for thousands of jobs, which is what the service holds.
func (q *Queue) List(ctx context.Context, f Filter) ([]*Job, error) {
	keys, err := kvbucket.Keys(ctx, q.jobs)
	if err != nil {
		return nil, err
	}
	var out []*Job
	for _, k := range keys {
		j, err := q.Get(ctx, k)
		if errors.Is(err, ErrJobNotFound) || errors.Is(err, ErrInvalid) {
			continue // deleted meanwhile, or not a job key
		}
		if err != nil {
			return nil, err
		}
		if f.match(j) {
			out = append(out, j)
		}
	}
	slices.SortFunc(out, func(a, b *Job) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// update is the one way a job record changes: read, let fn change the copy,
// write it back with compare-and-set on the revision it was read at, and on a
// conflict start again from a fresh read. fn may run more than once. It
// returns errNoChange to leave the record as it is (update then returns the
// record and no error). After a write, the transitions fn added are
// published as state events.
func (q *Queue) update(ctx context.Context, id string, fn func(j *Job) error) (*Job, error) {
	for try := 1; ; try++ {
		rctx, cancel := q.requestCtx(ctx)
		j, err := q.Get(rctx, id)
		cancel()
		if err != nil {
			return nil, err
		}
		seen := len(j.History)
		if err := fn(j); errors.Is(err, errNoChange) {
			return j, nil
		} else if err != nil {
			return nil, err
		}
		j.UpdatedAt = q.now().UTC()
		data, err := json.Marshal(j)
		if err != nil {
			return nil, fmt.Errorf("job %s: encode record: %w", id, err)
		}
		rctx, cancel = q.requestCtx(ctx)
		rev, err := q.jobs.Update(rctx, id, data, j.Revision)
		cancel()
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) && try < casTries {
			q.log.Debug().Str("job", id).Int("try", try).Msg("job record changed meanwhile; retrying")
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("update job %s: %w", id, err)
		}
		j.Revision = rev
		q.publishTransitions(ctx, j, j.History[seen:])
		return j, nil
	}
}

// requestCtx bounds one request by the queue's RequestTimeout.
func (q *Queue) requestCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, q.cfg.RequestTimeout)
}

// publishTransitions announces state changes on the events stream. The record
// is the truth; an event that fails to publish is logged, not retried.
func (q *Queue) publishTransitions(ctx context.Context, j *Job, ts []Transition) {
	for _, t := range ts {
		ev := Event{Time: t.At, Kind: EventState, From: t.From, State: t.To, Attempt: t.Attempt, By: t.By, Message: t.Reason}
		if err := q.PublishEvent(ctx, j.ID, ev); err != nil {
			q.log.Warn().Err(err).Str("job", j.ID).Str("state", string(t.To)).Msg("publish state event")
		}
	}
}

// Transition changes a job's state, fenced by attempt: it is refused with
// ErrStaleAttempt unless attempt is the record's current attempt, and with
// ErrBadTransition unless the table allows it. It is recorded as done by
// Config.Actor. States that need the job's message (queued, running) are
// reached only through Enqueue, Release, Retry and the worker.
func (q *Queue) Transition(ctx context.Context, id string, attempt int, to State, reason string) (*Job, error) {
	return q.TransitionBy(ctx, id, attempt, to, q.cfg.Actor, reason)
}

// TransitionBy is Transition recording who made the change.
func (q *Queue) TransitionBy(ctx context.Context, id string, attempt int, to State, by, reason string) (*Job, error) {
	return q.update(ctx, id, func(j *Job) error {
		if j.Attempt != attempt {
			return &StaleAttemptError{Job: id, Attempt: attempt, Current: j.Attempt}
		}
		if to == Queued || to == Running {
			return fmt.Errorf("%w (use Release, Retry or a worker lease)", &TransitionError{Job: id, From: j.State, To: to})
		}
		return j.apply(to, by, reason, q.now().UTC())
	})
}

// WatchJob calls fn with the job's record now and after every change. It
// returns nil when fn returns ErrStop, fn's error when it returns another,
// and ctx.Err() when ctx ends.
func (q *Queue) WatchJob(ctx context.Context, id string, fn func(*Job) error) error {
	if err := checkJobID(id); err != nil {
		return err
	}
	w, err := q.jobs.Watch(ctx, id)
	if err != nil {
		return fmt.Errorf("watch job %s: %w", id, err)
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				return fmt.Errorf("watch job %s: watcher closed", id)
			}
			if e == nil || e.Operation() != jetstream.KeyValuePut {
				continue // end of the initial values, or a delete
			}
			j, err := decodeJob(e)
			if err != nil {
				return err
			}
			if err := fn(j); errors.Is(err, ErrStop) {
				return nil
			} else if err != nil {
				return err
			}
		}
	}
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
