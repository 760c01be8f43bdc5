package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/spf13/cobra"

	"github.com/agentwatt/agentwatt/blob"
	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/publish"
	"github.com/agentwatt/agentwatt/queue"
	"github.com/agentwatt/agentwatt/verifier"
	"github.com/agentwatt/agentwatt/verifyd"
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
		Use:   "verify BUNDLE|JOB",
		Short: "Recompute a bundle's numbers from its raw traces and judge them",
		Long: `Verify one attempt's bundle as the verifier daemon does, offline: anyone can
recompute any published number.

BUNDLE is a directory or an s3://bucket/runs/<job>/<attempt>/ URL (with the
--s3-* options), or a job id (or a unique prefix of it, at least 4 hex
digits) that the queue at --nats knows: its current attempt's bundle in
--s3-bucket. The checks: integrity (every file listed with its sha256 and
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
  agentwatt verify 3f2a9c0e --s3-endpoint 127.0.0.1:9000 --nats nats://127.0.0.1:4222
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

// jobPrefixRe is what a JOB argument looks like: a job id or a prefix of it.
var jobPrefixRe = regexp.MustCompile(`^[0-9a-fA-F]{4,32}$`)

// bundleOfJob returns the s3:// URL, in bucket, of the bundle of the current
// attempt of the job that arg (an id or a unique prefix) names in the queue.
func bundleOfJob(ctx context.Context, a *app, nf *natsFlags, bucket, arg string) (string, error) {
	q, closeQ, err := connectQueue(ctx, a, nf)
	if err != nil {
		return "", fmt.Errorf("%s is no directory; as a job id: %w", arg, err)
	}
	defer closeQ()
	id, err := q.Resolve(ctx, arg)
	if err != nil {
		return "", err
	}
	j, err := q.Get(ctx, id)
	if err != nil {
		return "", err
	}
	switch j.State {
	case queue.Held, queue.Queued, queue.Running, queue.Canceling:
		return "", fmt.Errorf("job %s is %s: it has no bundle to verify yet", id, j.State)
	}
	if j.Attempt < 1 {
		return "", fmt.Errorf("job %s (%s) never ran: it has no bundle", id, j.State)
	}
	return "s3://" + bucket + "/" + bundle.Prefix(id, j.Attempt), nil
}

type verifyInputs struct {
	workloadFile, keysFile, cacheDir string
	nats                             *natsFlags
	natsExplicit                     bool // --nats was given: unreachable is an error
}

// runVerify opens the bundle (a directory or an s3:// URL) and verifies
// it as verifyd.Offline does: keys, workload and references found there.
func runVerify(ctx context.Context, a *app, arg string, s3 *s3Flags, in verifyInputs) (*bundle.Verdict, error) {
	act := startActivity(a.errOut, a.log, "verifying "+esc(arg))
	defer act.stop()
	off := verifyd.Offline{
		Keys:         verifyd.KeySources{File: in.keysFile, NATSRequired: in.natsExplicit},
		WorkloadFile: in.workloadFile,
		Log:          act.log,
	}
	if in.nats != nil {
		off.Keys.NATS, off.Keys.NATSCreds = in.nats.url, in.nats.creds
	}
	var src bundle.Source
	if strings.HasPrefix(arg, "s3://") {
		bucket, prefix, err := blob.ParseURL(arg)
		if err != nil {
			return nil, err
		}
		s3.bucket = bucket
		store, err := openStore(ctx, s3)
		if err != nil {
			return nil, err
		}
		src = verifyd.StoreSource(store, prefix)
		off.Keys.Published = publish.RunnersFile(store)
		off.Registry = blobstore.NewRegistry(store, in.cacheDir)
	} else {
		st, err := os.Stat(arg)
		if errors.Is(err, fs.ErrNotExist) && jobPrefixRe.MatchString(arg) && in.nats != nil {
			url, err := bundleOfJob(ctx, a, in.nats, s3.bucket, arg)
			if err != nil {
				return nil, err
			}
			return runVerify(ctx, a, url, s3, in)
		}
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			return nil, fmt.Errorf("%s: not a directory or an s3:// URL", arg)
		}
		src = bundle.DirSource(arg)
	}
	return off.Verify(ctx, src)
}
