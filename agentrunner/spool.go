package agentrunner

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/queue"
)

// scanLoop uploads what the spool holds: at start (bundles a previous run
// of the runner left) and every ScanEvery.
func (r *Runner) scanLoop(ctx context.Context) {
	for {
		r.ScanSpool(ctx)
		if sleepCtx(ctx, r.cfg.ScanEvery) != nil {
			return
		}
	}
}

// ScanSpool goes through the spooled bundles once. For each attempt that no
// job of this process holds:
//   - unsealed (a runner died mid-job): removed, it is evidence of nothing;
//   - fenced (the job record is at a newer attempt): removed, never uploaded;
//   - incomplete (failed, canceled, released): uploaded, then removed;
//   - complete: uploaded; a job still running under this attempt (the
//     runner restarted before it completed) moves to uploaded and its
//     verification is requested; then removed.
//
// What cannot be done now (store or queue unreachable) is tried again next
// scan. It returns how many bundles remain spooled.
func (r *Runner) ScanSpool(ctx context.Context) int {
	r.scanMu.Lock()
	defer r.scanMu.Unlock()
	jobs, _ := os.ReadDir(filepath.Join(r.spoolDir(), "runs"))
	left := 0
	for _, j := range jobs {
		atts, _ := os.ReadDir(filepath.Join(r.spoolDir(), "runs", j.Name()))
		for _, a := range atts {
			attempt, err := strconv.Atoi(a.Name())
			if err != nil || !a.IsDir() {
				continue
			}
			if r.isActive(j.Name(), attempt) {
				left++
				continue
			}
			if !r.scanOne(ctx, j.Name(), attempt) {
				left++
			}
		}
	}
	r.metrics.uploadBacklog.Set(float64(left))
	return left
}

// scanOne handles one spooled attempt and reports whether it is gone.
func (r *Runner) scanOne(ctx context.Context, job string, attempt int) bool {
	dir := r.bundleDir(job, attempt)
	log := r.log.With().Str("job", job).Int("attempt", attempt).Logger()
	if !bundle.IsSealed(dir) {
		log.Warn().Msg("removing an unsealed spool left by a runner that stopped mid-job")
		r.removeSpool(job, attempt)
		return true
	}
	rec, err := r.fenced(ctx, job, attempt)
	switch {
	case errors.Is(err, ErrStale):
		log.Warn().Int("current_attempt", rec.Attempt).Msg("spooled bundle of a fenced attempt; removing it, not uploading")
		r.removeSpool(job, attempt)
		return true
	case err != nil:
		log.Debug().Err(err).Msg("spool: job record unavailable; later")
		return false
	}
	data, err := os.ReadFile(filepath.Join(dir, bundle.ManifestFile))
	if err != nil {
		log.Warn().Err(err).Msg("spool: unreadable manifest")
		return false
	}
	m, err := bundle.DecodeManifest(bundle.ManifestFile, data)
	if err != nil {
		log.Warn().Err(err).Msg("spool: bad manifest; removing it")
		r.removeSpool(job, attempt)
		return true
	}
	uctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if err := r.uploadBundle(uctx, dir, job, attempt); err != nil {
		r.metrics.uploadErrors.Inc()
		log.Info().Err(err).Msg("spool: upload failed; later")
		return false
	}
	log.Info().Bool("incomplete", m.Incomplete).Msg("spooled bundle uploaded")
	if !m.Incomplete && rec.State == queue.Running {
		if _, err := r.cfg.Queue.TransitionBy(ctx, job, attempt, queue.Uploaded, r.cfg.ID, "bundle uploaded from the runner's spool"); err != nil {
			log.Warn().Err(err).Msg("spool: mark job uploaded; later")
			return false
		}
		if err := r.cfg.Queue.RequestVerify(ctx, queue.VerifyRequest{Job: job, Attempt: attempt}); err != nil {
			log.Warn().Err(err).Msg("spool: request verification")
		}
	}
	r.removeSpool(job, attempt)
	return true
}
