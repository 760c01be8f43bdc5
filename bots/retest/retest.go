package retest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/agentwatt/agentwatt/bots"
	"github.com/agentwatt/agentwatt/queue"
	"github.com/agentwatt/agentwatt/spec"
)

// specOf reads the spec of a published job from its queue record (the
// published submission leaves out the contact, env and secrets a retest
// needs). A record without a readable spec is nil: nothing to retest.
func (w *Watcher) specOf(ctx context.Context, job string) (*spec.Submission, error) {
	j, err := w.cfg.Queue.Get(ctx, job)
	if errors.Is(err, queue.ErrJobNotFound) {
		w.log.Warn().Str("job", job).Msg("published job has no queue record; not retested")
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var sub spec.Submission
	if len(j.Spec) == 0 || json.Unmarshal(j.Spec, &sub) != nil {
		w.log.Warn().Str("job", job).Msg("published job's spec is unreadable; not retested")
		return nil, nil
	}
	return &sub, nil
}

// optedIn reports whether sub asks to be retested on framework's releases.
// The simulated engine has no image: its retest runs the same sim_profile
// at the new framework.version (a demonstration of the loop, labelled
// simulated like every sim result).
func optedIn(sub *spec.Submission, framework string) bool {
	return sub.Retest != nil && sub.Retest.OnNewFrameworkRelease && sub.Framework.Name == framework &&
		(sub.Retest.ImageTemplate != "" || sub.Engine.Sim())
}

// numericRe: a version of dotted numbers only, e.g. 0.11.0.
var numericRe = regexp.MustCompile(`^[0-9]{1,9}(\.[0-9]{1,9})*$`)

// older reports whether version a is older than b, when both are dotted
// numbers; other versions (0.5.4.post1, 1.0.0rc3) are not compared.
func older(a, b string) bool {
	if !numericRe.MatchString(a) || !numericRe.MatchString(b) {
		return false
	}
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < max(len(as), len(bs)); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			return x < y
		}
	}
	return false
}

// try resolves a pending retest's image and queues it, or keeps it pending
// with its next try backed off.
func (p *poll) try(ctx context.Context, pd Pending, sub *spec.Submission) error {
	w := p.w
	p.tried[pd.key()] = true
	pinned, err := "", error(nil)
	if !sub.Engine.Sim() {
		pinned, err = w.reg.resolve(ctx, pd.Image)
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		pd.Tries++
		pd.LastError = err.Error()
		pd.NextTry = w.cfg.Now().UTC().Add(w.backoff(pd.Tries))
		lvl := w.log.Warn()
		if errors.Is(err, ErrImageNotFound) {
			lvl = w.log.Info()
		}
		lvl.Str("framework", pd.Framework).Str("version", pd.Version).Str("of", pd.Of).Str("image", pd.Image).
			Time("next_try", pd.NextTry).Err(err).Msg("retest image not resolved; pending")
		p.rep.Pending = append(p.rep.Pending, pd)
		return w.state.put(ctx, pd.key(), pd)
	}
	next := *sub
	next.Framework.Version = pd.Version
	if pinned != "" {
		next.Engine.Image = pinned
	}
	q, err := w.enqueue(ctx, &next, "retest:"+pd.Framework+"@"+pd.Version, pd.Of)
	if errors.Is(err, ErrQueuedFull) {
		// The vendor's queue is at the cap: wait for a runner to take a
		// job, trying again each poll.
		pd.Tries++
		pd.LastError = err.Error()
		pd.NextTry = w.cfg.Now().UTC().Add(w.cfg.Poll)
		w.log.Info().Str("framework", pd.Framework).Str("version", pd.Version).Str("of", pd.Of).Err(err).Msg("retest waits for room in the vendor's queue; pending")
		p.rep.Pending = append(p.rep.Pending, pd)
		return w.state.put(ctx, pd.key(), pd)
	}
	if err != nil {
		var probs spec.Problems
		if errors.As(err, &probs) || errors.Is(err, queue.ErrInvalid) {
			// Not something a later try changes: report it and drop it.
			p.rep.Refused = append(p.rep.Refused, fmt.Sprintf("%s@%s of %s: %v", pd.Framework, pd.Version, pd.Of, err))
			w.log.Warn().Str("of", pd.Of).Err(err).Msg("retest refused")
			return w.state.del(ctx, pd.key())
		}
		return err
	}
	p.rep.Queued = append(p.rep.Queued, *q)
	return w.state.del(ctx, pd.key())
}

// backoff is the wait before try n+1 of a pending image: the poll interval,
// doubled each try, at most 6 hours.
func (w *Watcher) backoff(tries int) time.Duration {
	d := w.cfg.Poll
	for i := 1; i < tries && d < 6*time.Hour; i++ {
		d *= 2
	}
	return min(d, 6*time.Hour)
}

// ErrQueuedFull: the retest's vendor has Config.MaxQueued jobs queued; the
// retest waits.
var ErrQueuedFull = errors.New("the vendor's queued jobs are at the cap")

// enqueue validates sub and queues it as a retest of the published job of.
// A retest measures each tier's N_max spec.RetestRepeats times unless the
// submission names its own benchmark.repeats: its spread is what a
// regression must exceed. A new job is not queued while the vendor has
// Config.MaxQueued jobs queued (ErrQueuedFull), as the intake refuses one;
// a job that exists already (the same retest) is returned as it is.
//
// The count and the enqueue are two steps: the intake in another process
// may queue a job between them, so the cap can be passed by the
// submissions in flight at that moment, at most one each.
func (w *Watcher) enqueue(ctx context.Context, sub *spec.Submission, trigger, of string) (*Queued, error) {
	if sub.Benchmark.Repeats == 0 {
		c := *sub
		c.Benchmark.Repeats = spec.RetestRepeats
		sub = &c
	}
	if err := sub.Validate(); err != nil {
		return nil, err
	}
	canon, err := sub.Canonical()
	if err != nil {
		return nil, err
	}
	_, err = w.cfg.Queue.Get(ctx, queue.JobID(sub.Digest(), trigger))
	switch {
	case errors.Is(err, queue.ErrJobNotFound):
		n, full, err := bots.QueuedFull(ctx, w.cfg.Queue, sub.Metadata.Vendor, w.cfg.MaxQueued)
		if err != nil {
			return nil, err
		}
		if full {
			return nil, fmt.Errorf("%w: vendor %q has %d jobs queued, the most it may have at once is %d", ErrQueuedFull, sub.Metadata.Vendor, n, w.cfg.MaxQueued)
		}
	case err != nil:
		return nil, err
	}
	j, created, err := w.cfg.Queue.Enqueue(ctx, queue.NewJob{
		Vendor: sub.Metadata.Vendor, Name: sub.Metadata.Name, Pool: sub.Pool(),
		Spec: canon, SpecDigest: sub.Digest(), Trigger: trigger,
		Workload: sub.WorkloadName(), WorkloadDigest: sub.WorkloadDigest(), Profile: sub.Benchmark.Profile,
		By: By, RetestOf: of,
	})
	if err != nil {
		return nil, err
	}
	w.log.Info().Str("job", j.ID).Str("of", of).Str("trigger", trigger).Str("image", sub.Engine.Image).Bool("created", created).Msg("retest queued")
	return &Queued{Job: j.ID, Trigger: trigger, Of: of, Image: sub.Engine.Image, Created: created}, nil
}

// retryPending tries again the pending images that are due; one waiting
// longer than Config.PendingFor, or whose configuration is no longer
// published as it was (retracted), is given up.
func (p *poll) retryPending(ctx context.Context) error {
	w := p.w
	pend, err := w.state.pending(ctx)
	if err != nil {
		return err
	}
	now := w.cfg.Now()
	for _, pd := range pend {
		if p.tried[pd.key()] {
			continue
		}
		if now.Before(pd.NextTry) {
			p.rep.Pending = append(p.rep.Pending, pd)
			continue
		}
		configs, err := p.published(ctx)
		if err != nil {
			return err
		}
		live := false
		for _, c := range configs {
			live = live || c.Config == pd.Config
		}
		if !live || now.Sub(pd.Since) > w.cfg.PendingFor {
			w.log.Warn().Str("of", pd.Of).Str("image", pd.Image).Bool("retracted", !live).Msg("pending retest given up")
			p.rep.Refused = append(p.rep.Refused, fmt.Sprintf("%s@%s of %s: given up (image %s)", pd.Framework, pd.Version, pd.Of, pd.Image))
			if err := w.state.del(ctx, pd.key()); err != nil {
				return err
			}
			continue
		}
		sub, err := w.specOf(ctx, pd.Of)
		if err != nil {
			return err
		}
		if sub == nil {
			if err := w.state.del(ctx, pd.key()); err != nil {
				return err
			}
			continue
		}
		if err := p.try(ctx, pd, sub); err != nil {
			return err
		}
	}
	return nil
}

// scheduled retests, as published (same image digest), each configuration
// that asks for retests and whose latest result is older than its
// retest.every, or the watcher's Config.Every when it names none (0: off),
// once per that interval: drift of drivers and hardware shows too.
func (p *poll) scheduled(ctx context.Context) error {
	w := p.w
	configs, err := p.published(ctx)
	if err != nil {
		return err
	}
	now := w.cfg.Now().UTC()
	for _, c := range configs {
		sub, err := w.specOf(ctx, c.Job)
		if err != nil {
			return err
		}
		every := scheduleOf(sub, w.cfg.Every)
		if every <= 0 || now.Sub(c.Date) < every {
			continue
		}
		var last scheduledState
		if _, err := w.state.get(ctx, scheduledKey(c.Config), &last); err != nil {
			return err
		}
		if now.Sub(last.At) < every {
			continue
		}
		q, err := w.enqueue(ctx, sub, "retest:scheduled@"+now.Format("2006-01-02"), c.Job)
		if errors.Is(err, ErrQueuedFull) {
			// Not marked done: the next poll tries again.
			w.log.Info().Str("of", c.Job).Err(err).Msg("scheduled retest waits for room in the vendor's queue")
			p.rep.Deferred = append(p.rep.Deferred, fmt.Sprintf("scheduled retest of %s: %v; next poll", c.Job, err))
			continue
		}
		if err != nil {
			w.log.Warn().Str("of", c.Job).Err(err).Msg("scheduled retest refused")
			p.rep.Refused = append(p.rep.Refused, fmt.Sprintf("scheduled retest of %s: %v", c.Job, err))
			continue
		}
		p.rep.Queued = append(p.rep.Queued, *q)
		if err := w.state.put(ctx, scheduledKey(c.Config), scheduledState{Job: q.Job, At: now}); err != nil {
			return err
		}
	}
	return nil
}

// scheduleOf is how often sub is retested as published: its retest.every,
// or def for a configuration opted in to release retests that names none;
// 0 for one that asks for no retests.
func scheduleOf(sub *spec.Submission, def time.Duration) time.Duration {
	switch {
	case sub == nil || sub.Retest == nil:
		return 0
	case sub.Retest.Every != nil:
		return sub.Retest.Every.Duration
	case optedIn(sub, sub.Framework.Name):
		return def
	}
	return 0
}
