package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/spf13/cobra"

	"github.com/agentwatt/agentwatt/bots"
	"github.com/agentwatt/agentwatt/bots/retest"
	"github.com/agentwatt/agentwatt/queue"
)

// retestBotFlags are `bot retest`'s settings.
type retestBotFlags struct {
	nf                        natsFlags
	s3                        s3Flags
	tokenFile, apiURL, fwFile string
	poll, every               time.Duration
	once, registryAuth        bool
	registryPrivate           bool
	autoApprove, local        bool
	release                   string
	replicas, maxQueued       int
}

func newBotRetestCmd(a *app) *cobra.Command {
	var f retestBotFlags
	cmd := &cobra.Command{
		Use:   "retest",
		Short: "Retest published configurations on new framework releases, and on a schedule",
		Long: `retest watches the GitHub releases of the frameworks in frameworks.yaml (built in:
vllm, sglang, dynamo, trtllm; --frameworks FILE replaces the list) and
queues a retest of every published configuration whose submission says
retest.on_new_framework_release for that framework: the same spec with
framework.version set to the release's version and engine.image set to
retest.image_template with {version} substituted, pinned to the digest the
registry serves for it (a HEAD of the manifest, anonymous unless
--registry-auth; public addresses only unless --registry-allow-private). An image not in the registry yet is kept pending and tried
again with backoff (up to 14 days); nothing is queued with a tag. The job's
trigger is retest:<framework>@<version>, its vendor the configuration's, and
it goes through the same runner, verifier and approval as any job.

The first poll of a framework records its newest release and retests nothing.
The last release handled and GitHub's ETag are kept in the NATS KV bucket
agentwatt-retest, so a restart neither misses nor repeats a release. Polls
send If-None-Match: an unchanged list is a 304, which costs no rate limit when
authenticated. Unauthenticated, GitHub allows 60 requests an hour per IP (one
poll is a request per framework); with --github-token-file, 5,000.

A retest counts against its vendor's queued jobs like a submission: while
the vendor has --max-queued jobs queued (the intake's cap), a release's retest
stays pending and is tried again each poll, and a scheduled one waits for the
next poll.

A configuration whose latest result is older than its submission's
retest.every, or than --every (default 168h; 0 turns it off) when it names
none and is opted in to release retests, is retested as published (same
image digest), trigger retest:scheduled@<date>. A configuration whose latest
publication was retracted is not retested.

A maintainer approves a verified retest as any job. With --auto-approve (an
operator's setting, off by default) each poll also publishes every verified
retest of a configuration whose latest publication is still the job it was
derived from, recorded as approved_via retest-auto by
"agentwatt-retest (automatic: --auto-approve)"; other verified retests wait
for a maintainer.

--release FRAMEWORK@VERSION handles one release given by hand, as if a poll had
found it, and exits; polls remember nothing of it. It is how the simulated
engine, whose releases are on no GitHub, is retested on the local stack: a
sim submission with retest.on_new_framework_release (and no image_template)
runs its sim_profile again at the new framework.version, labelled simulated.`,
		Example: `  # once, for cron or to see what it would queue (releases, jobs, pending images)
  agentwatt bot retest --once --nats nats://127.0.0.1:4222 --s3-endpoint 127.0.0.1:9000

  # the daemon, authenticated, with the docker credentials for private registries
  export AGENTWATT_GITHUB_TOKEN_FILE=/etc/agentwatt/github-token
  agentwatt bot retest --poll 10m --every 168h --registry-auth

  # on the local stack (. ~/.agentwatt/env): the sim "releases" version 2
  agentwatt bot retest --release sim@2 --auto-approve --local`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runRetestBot(cmd.Context(), a, &f)
		},
	}
	fs := cmd.Flags()
	addNATSFlags(fs, &f.nf)
	addS3Flags(fs, &f.s3)
	fs.StringVar(&f.tokenFile, "github-token-file", os.Getenv("AGENTWATT_GITHUB_TOKEN_FILE"), "file holding a GitHub token (read-only, public repositories); without one, 60 requests an hour (env AGENTWATT_GITHUB_TOKEN_FILE)")
	fs.StringVar(&f.apiURL, "github-api-url", envOr("AGENTWATT_GITHUB_API_URL", retest.DefaultAPIURL), "GitHub's REST API (env AGENTWATT_GITHUB_API_URL)")
	fs.StringVar(&f.fwFile, "frameworks", "", "frameworks.yaml to follow instead of the built-in list")
	fs.DurationVar(&f.poll, "poll", retest.DefaultPoll, "time between two polls")
	fs.DurationVar(&f.every, "every", retest.DefaultEvery, "retest configurations whose latest result is older than this (0: no scheduled retests)")
	fs.BoolVar(&f.once, "once", false, "poll once, print what was done and exit")
	fs.StringVar(&f.release, "release", "", "handle FRAMEWORK@VERSION now, as if a poll had found that release, then exit (the sim's releases on the local stack: sim@2)")
	fs.BoolVar(&f.autoApprove, "auto-approve", false, "publish verified retests of configurations that stand published on the job they derive from (off: a maintainer approves)")
	fs.BoolVar(&f.local, "local", false, "with --auto-approve, also publish simulated and non-official results, badged (local stack)")
	fs.BoolVar(&f.registryAuth, "registry-auth", false, "resolve images with the docker credentials (~/.docker/config.json and its helpers) instead of anonymously")
	fs.BoolVar(&f.registryPrivate, "registry-allow-private", false, "also reach registries on loopback, private and link-local addresses (a local registry); by default only public addresses, since image templates are vendors'")
	fs.IntVar(&f.maxQueued, "max-queued", bots.DefaultMaxQueued, "jobs one vendor may have queued at once, as the intake's --max-queued: a retest past it waits")
	fs.IntVar(&f.replicas, "replicas", 0, "replicas of the state bucket: 1, or 3 on a NATS cluster (0: the queue's as they are)")
	return cmd
}

func runRetestBot(ctx context.Context, a *app, f *retestBotFlags) error {
	fwData, fwName := retest.DefaultFrameworks, "frameworks.yaml (built in)"
	if f.fwFile != "" {
		b, err := os.ReadFile(f.fwFile)
		if err != nil {
			return fmt.Errorf("--frameworks: %w", err)
		}
		fwData, fwName = b, f.fwFile
	}
	fws, err := retest.ParseFrameworks(fwName, fwData)
	if err != nil {
		return err
	}
	var token string
	if f.tokenFile != "" {
		b, err := readSecretFile("--github-token-file", f.tokenFile)
		if err != nil {
			return err
		}
		token = string(b)
	}
	if f.maxQueued < 1 {
		return fmt.Errorf("--max-queued %d: want at least 1 (the intake's --max-queued)", f.maxQueued)
	}
	cfg := retest.Config{Frameworks: fws, APIURL: f.apiURL, Token: token, Poll: f.poll, Every: f.every, Replicas: f.replicas,
		PrivateRegistries: f.registryPrivate, MaxQueued: f.maxQueued}
	if f.registryAuth {
		cfg.Keychain = authn.DefaultKeychain
	}
	q, closeQ, err := connectQueueConfig(ctx, a, &f.nf, queue.Config{Replicas: f.replicas})
	if err != nil {
		return err
	}
	defer closeQ()
	if cfg.Store, err = openStore(ctx, &f.s3); err != nil {
		return err
	}
	cfg.Queue = q
	if f.autoApprove {
		if cfg.Keys, err = openFleet(ctx, q, a.log); err != nil {
			return err
		}
		cfg.AutoApprove, cfg.Local = true, f.local
	}
	w, err := retest.New(ctx, cfg, a.log)
	if err != nil {
		return err
	}
	if f.once || f.release != "" {
		var rep *retest.Report
		if f.release != "" {
			fw, version, _ := strings.Cut(f.release, "@")
			rep, err = w.Release(ctx, fw, version)
		} else {
			rep, err = w.RunOnce(ctx)
		}
		if rep != nil {
			if a.json() {
				enc := json.NewEncoder(a.out)
				enc.SetIndent("", "  ")
				_ = enc.Encode(rep)
			} else {
				rep.Print(a.out)
			}
		}
		return err
	}
	a.log.Info().Int("frameworks", len(fws)).Dur("poll", f.poll).Dur("every", f.every).Msg("retest watcher started")
	g := runGroup{log: a.log}
	g.add(ctx, w)
	g.untilDone(ctx, nil)
	return g.Run()
}
