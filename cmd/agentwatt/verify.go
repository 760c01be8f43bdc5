package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/agentwatt/agentwatt/agentrunner/accuracy"
	"github.com/agentwatt/agentwatt/blob"
	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/fleet"
	"github.com/agentwatt/agentwatt/queue"
	"github.com/agentwatt/agentwatt/verifier"
	"github.com/agentwatt/agentwatt/workload"
	"github.com/agentwatt/agentwatt/workload/blobstore"
)

func newVerifyCmd(a *app) *cobra.Command {
	var (
		s3               s3Flags
		nf               natsFlags
		workloadFile     string
		keysFile         string
		workloadCacheDir string
	)
	cmd := &cobra.Command{
		Use:   "verify BUNDLE",
		Short: "Recompute a bundle's numbers from its raw traces and judge them",
		Long: `Verify one attempt's bundle as the verifier daemon does, offline: anyone can
recompute any published number.

BUNDLE is a directory or an s3://bucket/runs/<job>/<attempt>/ URL (with the
--s3-* options). The checks: integrity (every file listed with its sha256 and
size, no unlisted file, manifest.json equal to the signed statement, the
signature by an enrolled runner key); the binding (the key's pools cover
the result — a sim runner's key signs only simulated results — and the
inventory, the simulated flag and the power samples' source agree; with the
queue, the spec digest, pool, rules, profile, workload, runner and simulated
flag equal the job record's); recomputation of every probe, tier,
N_max, the confirmation window's energy and average power, Agents/MW, agents
per GPU, tok/s and J/token from requests.jsonl.zst, power.jsonl.zst,
probes.json and the workload only, compared with summary.json (more than the
rules' runner-claim tolerance apart, or any different pass/fail, rejects);
the rules (window lengths, error share, client health, forced output
lengths, prompt tokens within tolerance of the workload's targets, power
gaps, resets, cross-check and bounds); accuracy against the GSM8K reference
answers and the model's reference score.

Keys, the first that answers: --keys FILE (a runners.json, which lists each
key's pools, or one public key as 'agentwatt runner trust' takes it, which
vouches for simulated results only); the enrolled keys in the queue at
--nats when it is reachable (then, when the queue knows the job, the bundle
is checked against its record: current attempt, spec, pool, rules, profile,
workload, runner); for an s3:// bundle,
published/runners.json of the same bucket. An explicit --nats that cannot be
reached is an error; the default one is only tried. The workload: --workload FILE, else the embedded default
when the manifest names it, else the registry of the bundle's bucket.

Exit status: 0 verified, 1 rejected, 2 could not verify (I/O, bad arguments).`,
		Example: `  agentwatt verify ./runs/job-1234/1 --keys runners.json
  agentwatt verify s3://agentwatt/runs/job-1234/1/ --s3-endpoint 127.0.0.1:9000
  agentwatt verify -o json ./bundle --keys runner.pub --workload my.jsonl.zst`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			in := verifyInputs{workloadFile: workloadFile, keysFile: keysFile, cacheDir: workloadCacheDir,
				nats: &nf, natsExplicit: cmd.Flags().Changed("nats")}
			v, err := runVerify(ctx, a, args[0], &s3, in)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			if a.json() {
				if err := printQueueJSON(a.out, v); err != nil {
					return &exitError{code: 2, err: err}
				}
			} else if err := verifier.WriteText(a.out, v); err != nil {
				return &exitError{code: 2, err: err}
			}
			if !v.Verified() {
				return &exitError{code: 1}
			}
			return nil
		},
	}
	addS3Flags(cmd.Flags(), &s3)
	addNATSFlags(cmd.Flags(), &nf)
	cmd.Flags().StringVar(&workloadFile, "workload", "", "the workload file the bundle names (default: the embedded default or the bucket's registry)")
	cmd.Flags().StringVar(&keysFile, "keys", "", "enrolled runner keys: a runners.json (keys and their pools) or one public key (simulated results only)")
	cmd.Flags().StringVar(&workloadCacheDir, "workload-cache", filepath.Join(os.TempDir(), "agentwatt-workloads"), "where workloads fetched from the registry are kept")
	return cmd
}

type verifyInputs struct {
	workloadFile, keysFile, cacheDir string
	nats                             *natsFlags
	natsExplicit                     bool // --nats was given: unreachable is an error
}

// runVerify resolves the bundle, keys, workload and references, then
// verifies.
func runVerify(ctx context.Context, a *app, arg string, s3 *s3Flags, in verifyInputs) (*verifier.Verdict, error) {
	var (
		src   bundle.Source
		store *blob.Store
	)
	if strings.HasPrefix(arg, "s3://") {
		bucket, prefix, err := blob.ParseURL(arg)
		if err != nil {
			return nil, err
		}
		s3.bucket = bucket
		if store, err = openStore(ctx, s3); err != nil {
			return nil, err
		}
		src = verifier.StoreSource(store, prefix)
	} else {
		st, err := os.Stat(arg)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			return nil, fmt.Errorf("%s: not a directory or an s3:// URL", arg)
		}
		src = bundle.DirSource(arg)
	}
	// The manifest is peeked at, untrusted, to learn the job and the
	// workload. One that cannot be read is "could not verify"; one that
	// does not decode (an invalid file name, a bad field) is the bundle's
	// fault: Verify rejects it on integrity, before any workload is needed.
	m, err := verifier.PeekManifest(ctx, src)
	if errors.Is(err, verifier.ErrUnreadable) {
		return nil, err
	}
	malformed := err != nil
	if malformed {
		a.log.Info().Err(err).Msg("manifest.json does not decode; the integrity check judges it")
		m = &bundle.Manifest{}
	}
	keys, scopes, jobs, err := verifyKeys(ctx, a, store, m.Job, in)
	if err != nil {
		return nil, err
	}
	wl := &workload.Workload{}
	if !malformed {
		if wl, err = verifyWorkload(ctx, store, m, in); err != nil {
			return nil, err
		}
	}
	refs, err := gsm8kReferences()
	if err != nil {
		return nil, err
	}
	opts := verifier.Options{Trusted: keys, Scopes: scopes, Workload: wl, References: refs, Log: a.log}
	if jobs != nil {
		opts.Jobs = jobs
	}
	return verifier.Verify(ctx, src, opts)
}

// verifyKeys finds the enrolled runner keys and their scopes: --keys FILE,
// else the queue's enrolled keys when NATS answers, else the bucket's
// published runners.json. jobs is the queue when it knows the bundle's job
// (the bundle is then checked against the job's record).
func verifyKeys(ctx context.Context, a *app, store *blob.Store, job string, in verifyInputs) (map[string]ed25519.PublicKey, map[string]verifier.KeyScope, *queue.Queue, error) {
	if in.keysFile != "" {
		data, err := os.ReadFile(in.keysFile)
		if err != nil {
			return nil, nil, nil, err
		}
		keys, scopes, err := verifier.ParseKeys(data)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("%s: %w", in.keysFile, err)
		}
		return keys, scopes, nil, nil
	}
	if in.nats != nil {
		enrolled, q, err := queueKeys(ctx, a, in.nats, job)
		switch {
		case err == nil:
			return verifier.PublicKeys(enrolled), verifier.Scopes(enrolled), q, nil
		case in.natsExplicit:
			return nil, nil, nil, fmt.Errorf("enrolled keys from %s: %w", in.nats.url, err)
		default:
			a.log.Info().Err(err).Str("nats", in.nats.url).Msg("queue not reachable; enrolled keys from elsewhere")
		}
	}
	if store != nil {
		data, err := store.GetBytes(ctx, verifier.RunnersKey, 16<<20)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("enrolled keys: %s: %w (pass --keys FILE or --nats URL)", verifier.RunnersKey, err)
		}
		keys, scopes, err := verifier.ParseKeys(data)
		return keys, scopes, nil, err
	}
	return nil, nil, nil, fmt.Errorf("%w: pass --keys FILE (a runners.json or a public key) or --nats URL (the queue the runner was enrolled in)", verifier.ErrNoKeys)
}

// queueKeys reads the enrolled keys from the queue at f. The queue is kept
// open (and returned) only when it knows job; the connection closes when ctx
// ends.
func queueKeys(ctx context.Context, a *app, f *natsFlags, job string) (map[string]fleet.Key, *queue.Queue, error) {
	nc, err := queue.Connect(f.url, f.creds, a.log)
	if err != nil {
		return nil, nil, err
	}
	keys, q, err := readQueueKeys(ctx, a, nc, job)
	if q != nil {
		context.AfterFunc(ctx, nc.Close)
	} else {
		nc.Close()
	}
	return keys, q, err
}

// readQueueKeys is queueKeys on an open connection; q is nil unless the
// queue knows job.
func readQueueKeys(ctx context.Context, a *app, nc *nats.Conn, job string) (map[string]fleet.Key, *queue.Queue, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	// A read-only command must not create the queue's streams on a NATS
	// server that has none: look before binding.
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, nil, err
	}
	if _, err := js.KeyValue(ctx, queue.BucketJobs); errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, nil, fmt.Errorf("no agentwatt queue there (bucket %s not found)", queue.BucketJobs)
	} else if err != nil {
		return nil, nil, err
	}
	q, err := queue.Open(ctx, nc, queue.Config{}, a.log)
	if err != nil {
		return nil, nil, err
	}
	fl, err := openFleet(ctx, q, a.log)
	if err != nil {
		return nil, nil, err
	}
	enrolled, err := fl.TrustedKeys(ctx)
	if err != nil {
		return nil, nil, err
	}
	if len(enrolled) == 0 {
		return nil, nil, fmt.Errorf("%w: the queue has no enrolled runner keys ('agentwatt runner trust' enrols one)", verifier.ErrNoKeys)
	}
	switch _, err := q.Get(ctx, job); {
	case err == nil:
		return enrolled, q, nil
	case errors.Is(err, queue.ErrJobNotFound), errors.Is(err, queue.ErrInvalid):
		a.log.Info().Str("job", job).Msg("the queue does not know this job: the bundle is not checked against a job record")
		return enrolled, nil, nil
	default:
		return nil, nil, err
	}
}

func verifyWorkload(ctx context.Context, store *blob.Store, m *bundle.Manifest, in verifyInputs) (*workload.Workload, error) {
	if in.workloadFile != "" {
		return workload.Load(in.workloadFile)
	}
	if m.Workload.Digest == "" {
		return nil, fmt.Errorf("%w: the bundle pins no digest for workload %s (pass --workload FILE)", verifier.ErrNoWorkload, m.Workload.Name)
	}
	var reg workload.Resolver // none without object storage: only the built-in sample
	if store != nil {
		reg = blobstore.NewRegistry(store, in.cacheDir)
	}
	wl, _, err := workload.NewLoader(reg).Load(ctx, m.Workload.Name, workload.Digest(m.Workload.Digest))
	if store == nil && errors.Is(err, workload.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s@%s (pass --workload FILE)", verifier.ErrNoWorkload, m.Workload.Name, m.Workload.Digest)
	}
	return wl, err
}

// gsm8kReferences are the embedded GSM8K test split's reference answers.
func gsm8kReferences() ([]verifier.Reference, error) {
	qs, err := accuracy.GSM8K()
	if err != nil {
		return nil, err
	}
	refs := make([]verifier.Reference, len(qs))
	for i, q := range qs {
		refs[i] = verifier.Reference{ID: q.ID, Expected: q.Expected}
	}
	return refs, nil
}
