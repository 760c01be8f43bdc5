package verifyd

import (
	"context"
	"time"

	"github.com/agentwatt/agentwatt/queue"
	"github.com/agentwatt/agentwatt/verifier"
)

// JobOf is the part of the queue's record of a job that the verifier
// binds a bundle to.
func JobOf(j *queue.Job) *verifier.Job {
	return &verifier.Job{ID: j.ID, Attempt: j.Attempt, Pool: j.Pool, Profile: j.Profile, WorkloadDigest: j.WorkloadDigest,
		Runner: j.Runner, SpecDigest: j.SpecDigest, Spec: j.Spec, Started: attemptStarted(j)}
}

// attemptStarted is when the queue leased j's current attempt: its last
// transition to running of that attempt; zero if there is none.
func attemptStarted(j *queue.Job) time.Time {
	for i := len(j.History) - 1; i >= 0; i-- {
		if h := j.History[i]; h.To == queue.Running && h.Attempt == j.Attempt {
			return h.At
		}
	}
	return time.Time{}
}

// JobRecords is what Jobs reads: the queue's records (*queue.Queue).
type JobRecords interface {
	Get(ctx context.Context, id string) (*queue.Job, error)
}

// Jobs gives the verifier the queue's record of a job.
type Jobs struct{ Queue JobRecords }

var _ verifier.JobSource = Jobs{}

// Get reads the record of job id.
func (j Jobs) Get(ctx context.Context, id string) (*verifier.Job, error) {
	rec, err := j.Queue.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	return JobOf(rec), nil
}
