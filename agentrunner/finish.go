package agentrunner

import (
	"context"
	"errors"
	"os"

	"github.com/agentwatt/agentwatt/queue"
)

// endKind is how an attempt ends.
type endKind string

const (
	endComplete endKind = "uploaded"
	endFailed   endKind = "failed"
	endCanceled endKind = "canceled"
	endReleased endKind = "released"
)

// end bundles what was measured and ends the attempt: a complete bundle is
// uploaded (waiting for the store as long as it takes) and the job
// completed; an incomplete one (failure, cancel) is uploaded within
// UploadWait — the spool keeps it otherwise — and the job failed or its
// cancel acknowledged; on a runner shutdown it is spooled and the job
// released.
func (jr *jobRun) end(ctx context.Context, m *measured, kind endKind, reason string) {
	log := jr.log.With().Str("outcome", string(kind)).Logger()
	if reason != "" {
		log = log.With().Str("reason", reason).Logger()
	}
	jr.announce(PhaseBundle)
	sealed := true
	if err := jr.seal(ctx, m, kind, reason); err != nil {
		log.Error().Err(err).Msg("seal bundle")
		sealed = false
		if kind == endComplete {
			kind, reason = endFailed, "bundle: "+err.Error()
		}
	}
	var dir string
	if sealed {
		dir = jr.bw.Dir()
	}
	attempt := jr.lease.Attempt()
	switch kind {
	case endComplete:
		jr.announce(PhaseUpload)
		// As long as it takes, but a runner shutdown leaves the bundle in
		// the spool and the job with this attempt (spool.go picks it up).
		err := jr.r.uploadUntil(jr.shutdown, dir, jr.job.ID, attempt, jr.lease.Lost())
		switch {
		case errors.Is(err, ErrStale):
			jr.lost(ctx)
			return
		case err != nil: // the runner is stopping: the spool keeps the bundle
			log.Warn().Err(err).Msg("upload interrupted; the bundle stays spooled and the job with this attempt")
			jr.lease.Abandon()
			jr.r.metrics.jobs.WithLabelValues("abandoned").Inc()
			return
		}
		if _, err := jr.lease.Complete(ctx); err != nil {
			switch {
			case errors.Is(err, queue.ErrStaleAttempt):
				jr.lost(ctx)
				return
			case errors.Is(err, queue.ErrJobCanceled):
				log.Info().Msg("canceled while uploading; the bundle is stored, the job canceled")
				kind = endCanceled
			default:
				log.Error().Err(err).Msg("complete job")
			}
		}
		jr.r.removeSpool(jr.job.ID, attempt)
	case endFailed, endCanceled:
		if sealed {
			jr.announce(PhaseUpload)
			uctx, cancel := context.WithTimeout(ctx, jr.r.cfg.UploadWait)
			err := jr.r.uploadUntil(uctx, dir, jr.job.ID, attempt, jr.lease.Lost())
			cancel()
			if errors.Is(err, ErrStale) {
				jr.lost(ctx)
				return
			}
			if err == nil {
				jr.r.removeSpool(jr.job.ID, attempt)
			} else {
				log.Warn().Err(err).Msg("bundle not uploaded yet; the spool keeps it")
			}
		}
		var err error
		if kind == endFailed {
			_, err = jr.lease.Fail(ctx, reason)
		} else {
			_, err = jr.lease.AckCanceled(ctx)
		}
		if err != nil && !errors.Is(err, queue.ErrJobCanceled) {
			log.Error().Err(err).Msg("end job")
		}
	case endReleased:
		if _, err := jr.lease.Release(ctx, reason); err != nil && !errors.Is(err, queue.ErrJobCanceled) {
			log.Error().Err(err).Msg("release job")
		}
	}
	jr.r.metrics.jobs.WithLabelValues(string(kind)).Inc()
	jr.announce(PhaseDone)
	_ = os.RemoveAll(jr.work)
	log.Info().Msg("job ended")
}

// releaseBroken ends an attempt whose runner group broke under it (a
// member gone, its part or power file lost, the leader's lease lost):
// what it measured is incomplete in a way no bundle can say, so nothing
// of it is sealed or uploaded; the job is released and redelivered like
// any lost lease, to run again once the group is whole.
func (jr *jobRun) releaseBroken(ctx context.Context, cause error) {
	jr.log.Warn().Err(cause).Msg("group broke: releasing the job; nothing of this attempt is uploaded")
	if _, err := jr.lease.Release(ctx, cause.Error()); err != nil && !errors.Is(err, queue.ErrJobCanceled) {
		jr.log.Error().Err(err).Msg("release job")
	}
	jr.r.removeSpool(jr.job.ID, jr.lease.Attempt())
	_ = os.RemoveAll(jr.work)
	jr.r.metrics.jobs.WithLabelValues(string(endReleased)).Inc()
	jr.announce(PhaseDone)
}

// lost ends an attempt the queue has fenced: nothing of it is uploaded.
func (jr *jobRun) lost(context.Context) {
	jr.log.Warn().Msg("attempt fenced by a newer one; dropping its spool")
	jr.lease.Abandon()
	jr.r.removeSpool(jr.job.ID, jr.lease.Attempt())
	_ = os.RemoveAll(jr.work)
	jr.r.metrics.jobs.WithLabelValues("lost").Inc()
}
