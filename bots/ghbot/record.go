package ghbot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/agentwatt/agentwatt/queue"
)

// prRecord is what the bot keeps of one pull request (BucketPRs).
type prRecord struct {
	Repo         string    `json:"repo"`
	RepoID       int64     `json:"repo_id"`
	Number       int       `json:"number"`
	Installation int64     `json:"installation"`
	Author       string    `json:"author"`
	HeadSHA      string    `json:"head_sha"`
	HeadSeen     time.Time `json:"head_seen"` // when the bot learned of HeadSHA
	Closed       bool      `json:"closed,omitempty"`
	// Vendors are the vendor folders the head touches.
	Vendors []string `json:"vendors,omitempty"`
	// Valid is whether the head's submissions passed agentwatt/validate.
	Valid bool `json:"valid,omitempty"`
	// Trusted: the author may run the head without /ok-to-test.
	Trusted bool `json:"trusted,omitempty"`
	// OKToTest is the head SHA a maintainer allowed to run, and who.
	OKToTest   string `json:"ok_to_test,omitempty"`
	OKToTestBy string `json:"ok_to_test_by,omitempty"`
	Held       bool   `json:"held,omitempty"`
	HeldBy     string `json:"held_by,omitempty"`
	// Approve is a maintainer's /approve of the head, applied to each of
	// its jobs when it is verified.
	Approve   *pendingApproval `json:"approve,omitempty"`
	CommentID int64            `json:"comment_id,omitempty"`
	Jobs      []prJob          `json:"jobs,omitempty"`
}

type pendingApproval struct {
	SHA string    `json:"sha"`
	By  string    `json:"by"`
	At  time.Time `json:"at"`
}

// prJob is one job of the pull request and its check run.
type prJob struct {
	ID       string      `json:"id"`
	SHA      string      `json:"sha"`
	Path     string      `json:"path"`
	Pool     string      `json:"pool"`
	CheckRun int64       `json:"check_run,omitempty"`
	State    queue.State `json:"state"`
}

// mayRun reports whether the head may run: a trusted author, or a
// maintainer's /ok-to-test of this very SHA.
func (r *prRecord) mayRun() bool {
	return r.Valid && !r.Closed && (r.Trusted || (r.OKToTest != "" && r.OKToTest == r.HeadSHA))
}

// job returns the record's entry of job id.
func (r *prRecord) job(id string) *prJob {
	for i := range r.Jobs {
		if r.Jobs[i].ID == id {
			return &r.Jobs[i]
		}
	}
	return nil
}

// headJobs are the jobs of the head SHA.
func (r *prRecord) headJobs() []prJob {
	var out []prJob
	for _, j := range r.Jobs {
		if j.SHA == r.HeadSHA {
			out = append(out, j)
		}
	}
	return out
}

// errNoRecord: the bot has not seen the pull request open.
var errNoRecord = errors.New("no record of the pull request")

func (b *Bot) loadPR(ctx context.Context, key string) (*prRecord, uint64, error) {
	e, err := b.prs.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, errNoRecord
	}
	if err != nil {
		return nil, 0, fmt.Errorf("pull request record %s: %w", key, err)
	}
	var r prRecord
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		return nil, 0, fmt.Errorf("pull request record %s: %w", key, err)
	}
	return &r, e.Revision(), nil
}

// updatePR applies fn to the record (a new one when init is given and none
// exists) with compare-and-set, retrying on a concurrent change.
func (b *Bot) updatePR(ctx context.Context, key string, init *prRecord, fn func(*prRecord) error) (*prRecord, error) {
	for try := 0; ; try++ {
		r, rev, err := b.loadPR(ctx, key)
		if errors.Is(err, errNoRecord) && init != nil {
			c := *init
			r, rev, err = &c, 0, nil
		}
		if err != nil {
			return nil, err
		}
		if err := fn(r); err != nil {
			return r, err
		}
		data, err := json.Marshal(r)
		if err != nil {
			return nil, err
		}
		if rev == 0 {
			_, err = b.prs.Create(ctx, key, data)
		} else {
			_, err = b.prs.Update(ctx, key, data, rev)
		}
		if err == nil {
			return r, nil
		}
		if try == 8 || !(errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch)) {
			return nil, fmt.Errorf("pull request record %s: %w", key, err)
		}
	}
}
