package publish

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/queue"
	"github.com/agentwatt/agentwatt/verifyd"
)

// Via is how an approver proved who they are.
type Via string

// The ways to approve (and retract).
const (
	// ViaMaintainerToken: a maintainer's API token (agentwatt approve, the API).
	ViaMaintainerToken Via = "maintainer-token"
	// ViaGitHub: a maintainer's GitHub login (the pull-request bot's /approve).
	ViaGitHub Via = "github"
	// ViaDemo: agentwatt demo's automatic approval of its own simulated run.
	ViaDemo Via = "demo"
	// ViaRetestAuto: the retest watcher's automatic approval of a verified
	// retest of a configuration that stands published (agentwatt bot retest
	// --auto-approve, an operator's setting).
	ViaRetestAuto Via = "retest-auto"
)

// Validate checks v is one of the known ways.
func (v Via) Validate() error {
	switch v {
	case ViaMaintainerToken, ViaGitHub, ViaDemo, ViaRetestAuto:
		return nil
	}
	return fmt.Errorf("approval via %q: want %s, %s, %s or %s", v, ViaMaintainerToken, ViaGitHub, ViaDemo, ViaRetestAuto)
}

// ApproveQueue is what approval needs from the queue.
type ApproveQueue interface {
	Get(ctx context.Context, id string) (*queue.Job, error)
	TransitionBy(ctx context.Context, id string, attempt int, to queue.State, by, reason string) (*queue.Job, error)
}

var _ ApproveQueue = (*queue.Queue)(nil)

// Approve publishes a verified job and records the approval (who, when,
// note) in its record: verified → published. Only a verified job can be
// approved. Publication comes first; a failed record update leaves the job
// verified, and approving it again republishes the same entries.
func Approve(ctx context.Context, q ApproveQueue, keys verifyd.KeySource, store PublishStore, id string, ap Approval, local bool) (*queue.Job, *Leaderboard, error) {
	if ap.By == "" {
		return nil, nil, fmt.Errorf("approve %s: who approves is required", id)
	}
	if err := ap.Via.Validate(); err != nil {
		return nil, nil, fmt.Errorf("approve %s: %w", id, err)
	}
	if ap.At.IsZero() {
		ap.At = time.Now()
	}
	job, err := q.Get(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	if job.State != queue.Verified {
		return nil, nil, fmt.Errorf("approve %s: %w (state %s)", id, ErrNotVerified, job.State)
	}
	data, err := store.GetBytes(ctx, bundle.Key(job.ID, job.Attempt, bundle.VerdictFile), 64<<20)
	if err != nil {
		return nil, nil, fmt.Errorf("approve %s: verdict: %w", id, err)
	}
	sum := sha256.Sum256(data)
	ap.VerdictSHA256 = hex.EncodeToString(sum[:])
	v, err := bundle.DecodeVerdict(data)
	if err != nil {
		return nil, nil, err
	}
	if !v.Verified() || v.Job != job.ID || v.Attempt != job.Attempt {
		return nil, nil, fmt.Errorf("approve %s: %w: the verdict is %s for attempt %d of %s", id, ErrNotVerified, v.Status, v.Attempt, v.Job)
	}
	enrolled, err := keys.TrustedKeys(ctx)
	if err != nil {
		return nil, nil, err
	}
	lb, err := Publish(ctx, store, PublishInput{Job: job, Verdict: v, Approval: ap, Runners: verifyd.RunnersOf(enrolled, ap.At), Local: local})
	if err != nil {
		return nil, nil, err
	}
	reason := "approved via " + string(ap.Via)
	if ap.Note != "" {
		reason += ": " + ap.Note
	}
	job, err = q.TransitionBy(ctx, id, job.Attempt, queue.Published, ap.By, reason)
	if err != nil {
		return nil, nil, fmt.Errorf("approve %s: published, but recording the approval failed (approve again): %w", id, err)
	}
	return job, lb, nil
}
