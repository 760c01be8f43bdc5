package retest

import (
	"context"
	"errors"
	"fmt"

	"github.com/agentwatt/agentwatt/publish"
	"github.com/agentwatt/agentwatt/queue"
)

// AutoApprover is who an automatic approval of a retest names.
const AutoApprover = "agentwatt-retest (automatic: --auto-approve)"

// autoApprovable are the verified retests whose configuration still
// stands on the job they were derived from: its latest publication, not
// retracted. A retest of an older publication (a newer one came since) is
// left for a maintainer.
func autoApprovable(verified []*queue.Job, configs []published) []*queue.Job {
	standing := make(map[string]bool, len(configs))
	for _, c := range configs {
		standing[c.Job] = true
	}
	var out []*queue.Job
	for _, j := range verified {
		if j.State == queue.Verified && j.RetestOf != "" && standing[j.RetestOf] {
			out = append(out, j)
		}
	}
	return out
}

// autoApprove publishes the verified retests that autoApprovable picks,
// as `agentwatt approve` does, recorded as approved via retest-auto.
func (p *poll) autoApprove(ctx context.Context) error {
	w := p.w
	verified, err := w.cfg.Queue.List(ctx, queue.Filter{State: queue.Verified})
	if err != nil {
		return err
	}
	var retests []*queue.Job
	for _, j := range verified {
		if j.RetestOf != "" {
			retests = append(retests, j)
		}
	}
	if len(retests) == 0 {
		return nil
	}
	configs, err := p.published(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, j := range autoApprovable(retests, configs) {
		_, _, err := publish.Approve(ctx, w.cfg.Queue, w.cfg.Keys, w.cfg.Store, j.ID,
			publish.Approval{By: AutoApprover, Via: publish.ViaRetestAuto, Note: "retest of " + j.RetestOf, At: w.cfg.Now()}, w.cfg.Local)
		if err != nil {
			p.rep.Errors = append(p.rep.Errors, fmt.Sprintf("auto-approve %s: %v", j.ID, err))
			errs = append(errs, fmt.Errorf("auto-approve %s: %w", j.ID, err))
			continue
		}
		p.rep.Approved = append(p.rep.Approved, j.ID)
		w.log.Info().Str("job", j.ID).Str("retest_of", j.RetestOf).Msg("retest approved automatically")
	}
	return errors.Join(errs...)
}
