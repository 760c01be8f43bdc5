package verifyd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/queue"
	"github.com/agentwatt/agentwatt/verifier"
	"github.com/agentwatt/agentwatt/workload"
)

// Daemon consumes agentwatt.verify: each request's bundle is fetched from
// the store and judged by verifier.Verify, its verdict written beside it,
// and the job moved to verified or rejected (attempt-fenced).
type Daemon struct{ cfg Config }

// New checks cfg, fills its defaults and returns a daemon; Run starts it.
func New(cfg Config) (*Daemon, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Daemon{cfg: cfg}, nil
}

// Run handles verify requests until ctx ends.
func (d *Daemon) Run(ctx context.Context) error {
	for {
		lease, err := d.cfg.Queue.NextVerify(ctx, d.cfg.Wait)
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, queue.ErrNoMessage):
			continue
		case err != nil:
			d.cfg.Log.Warn().Err(err).Msg("fetch verify request")
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(time.Second):
			}
			continue
		}
		d.handle(ctx, lease)
	}
}

// handle verifies one request. A bundle that could not be read is handed
// back for a later try; everything else ends with a verdict.
func (d *Daemon) handle(ctx context.Context, lease *queue.VerifyLease) {
	req := lease.Request()
	log := d.cfg.Log.With().Str("job", req.Job).Int("attempt", req.Attempt).Logger()
	v, err := d.Once(ctx, req)
	switch {
	case errors.Is(err, errJudged):
		log.Info().Err(err).Msg("verify request already judged")
		_ = lease.Ack(ctx)
		return
	case errors.Is(err, queue.ErrStaleAttempt):
		log.Info().Err(err).Msg("verify request for a superseded attempt; dropping it")
		_ = lease.Term("stale attempt")
		return
	case err != nil:
		log.Warn().Err(err).Msg("could not verify; retrying later")
		_ = lease.Nak(d.cfg.RetryDelay)
		return
	}
	log.Info().Str("status", v.Status).Msg("verdict")
	if err := lease.Ack(ctx); err != nil {
		log.Warn().Err(err).Msg("ack verify request")
	}
}

// Once verifies one request: the job moves uploaded → verifying (unless a
// previous try got that far), the bundle is verified, verdict.json is
// written beside it, and the job moves to verified or rejected.
func (d *Daemon) Once(ctx context.Context, req queue.VerifyRequest) (*bundle.Verdict, error) {
	q := d.cfg.Queue
	job, err := q.Get(ctx, req.Job)
	if err != nil {
		return nil, err
	}
	if job.Attempt != req.Attempt {
		return nil, fmt.Errorf("%w: request for attempt %d, the job is at %d", queue.ErrStaleAttempt, req.Attempt, job.Attempt)
	}
	switch job.State {
	case queue.Verified, queue.Rejected, queue.Published:
		// Judged by an earlier try whose ack was lost.
		return nil, fmt.Errorf("%w: job %s is already %s", errJudged, job.ID, job.State)
	}
	if job.State == queue.Uploaded {
		if _, err := q.Transition(ctx, req.Job, req.Attempt, queue.Verifying, "verifier took it"); err != nil {
			return nil, err
		}
	} else if job.State != queue.Verifying {
		return nil, fmt.Errorf("%w: job %s is %s", queue.ErrStaleAttempt, job.ID, job.State)
	}
	enrolled, err := d.cfg.Keys.TrustedKeys(ctx)
	if err != nil {
		return nil, err
	}
	keys := EnrolledKeys(enrolled)
	src := StoreSource(d.cfg.Store, req.Bundle)
	opts := keys.Options(verifier.Options{Jobs: Jobs{q}, References: d.cfg.References, Log: d.cfg.Log, Workload: placeholderWorkload})
	if m, err := verifier.PeekManifest(ctx, src); err == nil {
		if opts.Workload, err = d.cfg.Workloads(ctx, m.Workload.Name, m.Workload.Digest); err != nil {
			return nil, fmt.Errorf("workload %s@%s: %w", m.Workload.Name, m.Workload.Digest, err)
		}
	} // else: no readable manifest; integrity rejects before a workload is needed
	v, err := verifier.Verify(ctx, src, opts)
	if err != nil {
		return nil, err
	}
	if v.Job != req.Job || v.Attempt != req.Attempt {
		if v.Job != "" {
			v.Status = bundle.StatusRejected
			v.Checks = append(v.Checks, bundle.Check{Name: verifier.CheckAttempt, Reason: fmt.Sprintf("the bundle is job %s attempt %d, the request names %s attempt %d", v.Job, v.Attempt, req.Job, req.Attempt)})
		}
		v.Job, v.Attempt = req.Job, req.Attempt
	}
	data, err := v.Marshal()
	if err != nil {
		return nil, err
	}
	if err := d.cfg.Store.PutBytes(ctx, strings.TrimSuffix(req.Bundle, "/")+"/"+bundle.VerdictFile, data, "application/json"); err != nil {
		return nil, fmt.Errorf("write verdict: %w", err)
	}
	to, reason := queue.Verified, "verified: every number recomputed"
	if !v.Verified() {
		to, reason = queue.Rejected, "rejected: "+failSummary(v)
	}
	if _, err := q.Transition(ctx, req.Job, req.Attempt, to, reason); err != nil {
		return nil, err
	}
	return v, nil
}

// errJudged: a redelivered request whose job already has its verdict.
var errJudged = errors.New("already judged")

// placeholderWorkload stands in when the manifest cannot be read: Verify
// rejects on integrity before it needs a workload.
var placeholderWorkload = &workload.Workload{}

func failSummary(v *bundle.Verdict) string {
	var parts []string
	for _, c := range v.Failed() {
		r := c.Reason
		if len(r) > 300 {
			r = r[:300] + "…"
		}
		parts = append(parts, c.Name+": "+r)
	}
	if len(parts) > 5 {
		parts = append(parts[:5], fmt.Sprintf("… and %d more", len(parts)-5))
	}
	return strings.Join(parts, "; ")
}
