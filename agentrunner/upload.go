package agentrunner

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/queue"
)

// bundleDir is the spool directory of one attempt's bundle.
func (r *Runner) bundleDir(job string, attempt int) string {
	return filepath.Join(r.spoolDir(), "runs", job, strconv.Itoa(attempt))
}

// removeSpool drops an attempt's spooled bundle (uploaded, or fenced).
func (r *Runner) removeSpool(job string, attempt int) {
	if err := os.RemoveAll(r.bundleDir(job, attempt)); err != nil {
		r.log.Warn().Err(err).Str("job", job).Int("attempt", attempt).Msg("remove spooled bundle")
	}
	_ = os.Remove(filepath.Join(r.spoolDir(), "runs", job)) // only when empty
}

// selfCheck verifies a sealed bundle as the verifier would, with the
// runner's own key, before it leaves the node.
func (r *Runner) selfCheck(ctx context.Context, dir string) error {
	b, err := bundle.OpenDir(ctx, dir)
	if err != nil {
		return err
	}
	pub := r.cfg.Key.Public().(ed25519.PublicKey)
	if _, problems := b.VerifyIntegrity(ctx, bundle.Trusted(pub)); len(problems) > 0 {
		return fmt.Errorf("bundle self-check: %w", errors.Join(problemErrors(problems)...))
	}
	return nil
}

func problemErrors(ps []bundle.Problem) []error {
	errs := make([]error, len(ps))
	for i, p := range ps {
		errs[i] = p
	}
	return errs
}

// fenced asks the job record whether attempt still holds the job: ErrStale
// when a newer attempt does.
func (r *Runner) fenced(ctx context.Context, job string, attempt int) (*queue.Job, error) {
	rec, err := r.cfg.Queue.Get(ctx, job)
	if err != nil {
		return nil, err
	}
	if rec.Attempt != attempt {
		return rec, fmt.Errorf("%w: job %s is at attempt %d, this bundle is attempt %d", ErrStale, job, rec.Attempt, attempt)
	}
	return rec, nil
}

// uploadBundle puts every file of a sealed bundle under
// runs/<job>/<attempt>/, manifest.dsse.json last, and checks that each is
// stored with its size. A bundle is only "there" once its envelope is.
func (r *Runner) uploadBundle(ctx context.Context, dir, job string, attempt int) error {
	names, sizes, err := bundleFiles(dir)
	if err != nil {
		return err
	}
	sort.Slice(names, func(i, j int) bool {
		// The envelope last: its presence means the bundle is complete.
		if (names[i] == bundle.EnvelopeFile) != (names[j] == bundle.EnvelopeFile) {
			return names[j] == bundle.EnvelopeFile
		}
		return names[i] < names[j]
	})
	if len(names) == 0 || names[len(names)-1] != bundle.EnvelopeFile {
		return fmt.Errorf("%s: not a sealed bundle", dir)
	}
	for _, name := range names {
		if err := r.cfg.Store.PutFile(ctx, bundle.Key(job, attempt, name), filepath.Join(dir, filepath.FromSlash(name))); err != nil {
			return fmt.Errorf("upload %s: %w", name, err)
		}
	}
	for _, name := range names {
		info, err := r.cfg.Store.Stat(ctx, bundle.Key(job, attempt, name))
		if err != nil {
			return fmt.Errorf("check %s: %w", name, err)
		}
		if info.Size != sizes[name] {
			return fmt.Errorf("check %s: stored %d bytes, spooled %d", name, info.Size, sizes[name])
		}
	}
	return nil
}

// uploadUntil uploads a sealed bundle, retrying with capped backoff until
// it is stored, ctx ends or the attempt is fenced (ErrStale; lost closes
// when the lease learns it first). The job record is checked before every
// try: a fenced attempt never uploads.
func (r *Runner) uploadUntil(ctx context.Context, dir, job string, attempt int, lost <-chan struct{}) error {
	log := r.log.With().Str("job", job).Int("attempt", attempt).Logger()
	wait := time.Second
	for try := 1; ; try++ {
		if isClosed(lost) {
			return fmt.Errorf("%w: the lease was lost", ErrStale)
		}
		_, err := r.fenced(ctx, job, attempt)
		if errors.Is(err, ErrStale) {
			return err
		}
		if err == nil {
			if err = r.uploadBundle(ctx, dir, job, attempt); err == nil {
				log.Info().Str("prefix", bundle.Prefix(job, attempt)).Msg("bundle uploaded")
				return nil
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r.metrics.uploadErrors.Inc()
		log.Warn().Err(err).Int("try", try).Dur("retry_in", wait).Msg("upload bundle; retrying")
		if err := sleepCtx(ctx, wait/2+rand.N(wait/2+1)); err != nil {
			return err
		}
		wait = min(2*wait, r.cfg.UploadRetryMax)
	}
}

// bundleFiles lists a spooled bundle's files by their bundle names: the
// top level and a group's power/ folder (bundle.MemberPowerFile), the one
// folder a bundle has. Only regular files whose names bundle.ValidName
// accepts (or the manifest and its envelope) are listed: a link or a
// stray name in the spool is refused, never followed out of it.
func bundleFiles(dir string) (names []string, sizes map[string]int64, err error) {
	sizes = map[string]int64{}
	var walk func(sub string) error
	walk = func(sub string) error {
		ents, err := os.ReadDir(filepath.Join(dir, filepath.FromSlash(sub)))
		if err != nil {
			return err
		}
		for _, e := range ents {
			name := sub + e.Name()
			if strings.HasPrefix(e.Name(), ".") {
				continue // a temporary file
			}
			if sub == "" && e.IsDir() && name == bundlePowerDir {
				if err := walk(name + "/"); err != nil {
					return err
				}
				continue
			}
			if !e.Type().IsRegular() {
				return fmt.Errorf("%s: %s is not a regular file", dir, name)
			}
			if !bundle.ValidName(name) && name != bundle.ManifestFile && name != bundle.EnvelopeFile {
				return fmt.Errorf("%s: %s: %w", dir, name, bundle.ErrInvalidName)
			}
			info, err := e.Info()
			if err != nil {
				return err
			}
			names = append(names, name)
			sizes[name] = info.Size()
		}
		return nil
	}
	if err := walk(""); err != nil {
		return nil, nil, err
	}
	return names, sizes, nil
}

// bundlePowerDir is the folder of a group bundle's member power files
// (bundle.MemberPowerFile).
const bundlePowerDir = "power"
