package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// jobMessage is the payload of a message on AGENTWATT_JOBS. The record in KV
// carries everything else.
type jobMessage struct {
	Job  string `json:"job"`
	Pool string `json:"pool"`
}

// headerJob names the job on job and dead-letter messages.
const headerJob = "Agentwatt-Job"

// Enqueue creates the job record and queues it (or holds it, with
// NewJob.Held). The job id is JobID(SpecDigest, Trigger): an identical
// resubmission returns the existing job with created=false and publishes
// nothing new. If an earlier Enqueue stopped between writing the record and
// publishing the message, the resubmission finishes the dispatch.
func (q *Queue) Enqueue(ctx context.Context, nj NewJob) (job *Job, created bool, err error) {
	return q.enqueue(ctx, nj, "")
}

func (q *Queue) enqueue(ctx context.Context, nj NewJob, retryOf string) (*Job, bool, error) {
	if err := nj.validate(); err != nil {
		return nil, false, err
	}
	now := q.now().UTC()
	state, reason := Queued, "submitted"
	if nj.Held {
		state, reason = Held, "submitted; held for a maintainer"
	}
	if retryOf != "" {
		reason = "retry of " + retryOf
	}
	by := nj.By
	if by == "" {
		by = nj.Vendor
	}
	j := &Job{
		ID: JobID(nj.SpecDigest, nj.Trigger), State: state,
		Pool: nj.Pool, Vendor: nj.Vendor, Name: nj.Name, Profile: nj.Profile,
		SpecDigest: nj.SpecDigest, Trigger: nj.Trigger,
		Workload: nj.Workload, WorkloadDigest: nj.WorkloadDigest,
		Spec: nj.Spec, Reason: reason, SubmittedBy: by, RetryOf: retryOf, RetestOf: nj.RetestOf,
		PullRequest: nj.PullRequest,
		History:     []Transition{{To: state, At: now, By: by, Reason: reason}},
		CreatedAt:   now, UpdatedAt: now,
	}
	data, err := json.Marshal(j)
	if err != nil {
		return nil, false, fmt.Errorf("encode job: %w", err)
	}
	rev, err := q.jobs.Create(ctx, j.ID, data)
	if errors.Is(err, jetstream.ErrKeyExists) {
		existing, err := q.Get(ctx, j.ID)
		if err != nil {
			return nil, false, err
		}
		if existing.State == Queued && existing.Seq == 0 {
			existing, err = q.dispatch(ctx, existing)
		}
		return existing, false, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("create job %s: %w", j.ID, err)
	}
	j.Revision = rev
	q.log.Info().Str("job", j.ID).Str("pool", j.Pool).Str("vendor", j.Vendor).Str("state", string(state)).Msg("job created")
	q.publishTransitions(ctx, j, j.History)
	if state == Queued {
		j, err = q.dispatch(ctx, j)
	}
	return j, true, err
}

// dispatch publishes the job's message (Nats-Msg-Id = job id, so a repeated
// dispatch inside the dedup window is dropped by the stream) and records its
// stream sequence in the job record.
func (q *Queue) dispatch(ctx context.Context, j *Job) (*Job, error) {
	if _, err := q.poolConsumer(ctx, j.Pool, false); err != nil {
		return nil, err
	}
	payload, _ := json.Marshal(jobMessage{Job: j.ID, Pool: j.Pool})
	msg := &nats.Msg{Subject: SubjectJobsPrefix + j.Pool, Data: payload, Header: nats.Header{}}
	msg.Header.Set(headerJob, j.ID)
	ack, err := q.js.PublishMsg(ctx, msg, jetstream.WithMsgID(j.ID))
	if err != nil {
		return nil, fmt.Errorf("publish job %s: %w", j.ID, err)
	}
	return q.update(ctx, j.ID, func(r *Job) error {
		if r.Seq != 0 {
			return errNoChange // a worker took the message and recorded it first
		}
		r.Seq = ack.Sequence
		return nil
	})
}

// Cancel asks for a job to stop. A running job becomes canceling: its runner
// sees that through its lease (Lease.Canceled), stops, and acknowledges with
// Lease.AckCanceled (or, if the runner is gone, the next worker that receives
// the message finishes it). A queued job becomes canceling, its message is
// deleted from the work queue and it becomes canceled at once; should that
// be interrupted, the next worker that receives the message finishes the
// cancel. A held job becomes canceled. Canceling a canceling or canceled job
// changes nothing; other states are refused with ErrBadTransition.
func (q *Queue) Cancel(ctx context.Context, id, by string) (*Job, error) {
	var wasQueued bool
	j, err := q.update(ctx, id, func(j *Job) error {
		wasQueued = j.State == Queued
		switch j.State {
		case Held:
			return j.apply(Canceled, by, "canceled while held", q.now().UTC())
		case Canceling, Canceled:
			return errNoChange
		}
		return j.apply(Canceling, by, "cancel requested", q.now().UTC())
	})
	if err != nil || !wasQueued || j.State != Canceling {
		return j, err
	}
	if j.Seq != 0 {
		if err := q.jobsStream.DeleteMsg(ctx, j.Seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			q.log.Warn().Err(err).Str("job", id).Uint64("seq", j.Seq).Msg("delete canceled job's message; a worker will finish the cancel")
			return j, nil
		}
	}
	attempt := j.Attempt
	return q.update(ctx, id, func(j *Job) error {
		if j.State != Canceling || j.Attempt != attempt {
			return errNoChange // a worker got there first
		}
		return j.apply(Canceled, by, "canceled before it ran", q.now().UTC())
	})
}

// Retry re-runs a failed or canceled job as a new job under the trigger
// "retry:<old id>", queued at once; the old job keeps its history and points
// to the new one (RetriedAs). Retrying the same job again returns the same
// new job. Other states are refused with ErrBadTransition.
func (q *Queue) Retry(ctx context.Context, id, by string) (*Job, error) {
	old, err := q.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if old.State != Failed && old.State != Canceled {
		return nil, fmt.Errorf("retry: %w", &TransitionError{Job: id, From: old.State, To: Queued})
	}
	nj := NewJob{
		Vendor: old.Vendor, Name: old.Name, Pool: old.Pool, Spec: old.Spec,
		SpecDigest: old.SpecDigest, Trigger: "retry:" + old.ID,
		Workload: old.Workload, WorkloadDigest: old.WorkloadDigest, Profile: old.Profile,
		By: by, PullRequest: old.PullRequest,
	}
	j, _, err := q.enqueue(ctx, nj, old.ID)
	if err != nil {
		return nil, err
	}
	if _, err := q.update(ctx, old.ID, func(r *Job) error {
		if r.RetriedAs == j.ID {
			return errNoChange
		}
		r.RetriedAs = j.ID
		return nil
	}); err != nil {
		return j, fmt.Errorf("retry: link %s to %s: %w", old.ID, j.ID, err)
	}
	q.log.Info().Str("job", j.ID).Str("retry_of", old.ID).Str("by", by).Msg("job retried")
	return j, nil
}

// Release queues a held job. Releasing a queued job whose dispatch was
// interrupted finishes the dispatch; other states are refused with
// ErrBadTransition.
func (q *Queue) Release(ctx context.Context, id, by string) (*Job, error) {
	j, err := q.update(ctx, id, func(j *Job) error {
		if j.State == Queued && j.Seq == 0 {
			return errNoChange
		}
		return j.apply(Queued, by, "released", q.now().UTC())
	})
	if err != nil {
		return nil, err
	}
	return q.dispatch(ctx, j)
}
