package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentwatt/agentwatt/bots"
	"github.com/agentwatt/agentwatt/bots/ghbot"
	"github.com/agentwatt/agentwatt/queue"
	"github.com/agentwatt/agentwatt/workload/blobstore"
)

func newBotCmd(*app) *cobra.Command {
	return &cobra.Command{
		Use:   "bot",
		Short: "Run a bot that brings submissions in from elsewhere (GitHub pull requests)",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
}

// githubBotFlags are `bot github`'s settings; each has an environment
// variable, so that the secrets' paths need not be on a command line.
type githubBotFlags struct {
	nf                              natsFlags
	s3                              s3Flags
	listen, repo, publicURL, apiURL string
	evidenceURL                     string
	appID                           int64
	keyFile, secretFile, cacheDir   string
	local                           bool
	replicas                        int
	scfg                            bots.ServerConfig
}

func newBotGitHubCmd(a *app) *cobra.Command {
	var f githubBotFlags
	cmd := &cobra.Command{
		Use:   "github",
		Short: "Run the GitHub App: vendors submit by pull request, maintainers approve by comment",
		Long: `github runs the GitHub App of a submissions repository (--repo): a webhook
server at POST /webhook on --listen, and the workers that act on what it
receives. Set the App's webhook URL to https://YOUR-HOST/webhook, content type
application/json, with the secret in --webhook-secret-file; subscribe it to the
pull_request and issue_comment events; give it Checks: write, Pull requests:
write, Issues: write, Contents: read, and Members: read (organization) when
VENDORS.yaml or MAINTAINERS names teams (docs/operations.md).

The repository holds submissions/<vendor>/<name>.yaml. VENDORS.yaml lists who
may submit for each vendor (GitHub logins or org/team) and MAINTAINERS the
maintainers; both are read from the default branch, never from a pull request.

For each pull request into the default branch, on open, push and reopen:
  - the changed submissions/**.yaml are read at the head SHA through the API
    (nothing is checked out or run) and validated as 'agentwatt validate'
    does; check run agentwatt/validate carries each problem on its line and
    column. A file in the folder of a vendor its author is not listed for
    fails it.
  - an author listed for the vendor (or a maintainer) has each head queued at
    once; anyone else's waits for a maintainer's /ok-to-test, which covers the
    head it was written for only. A new push cancels the old head's jobs;
    closing without merging cancels them all.
  - each job has a check run, agentwatt/benchmark (POOL): queued, in progress
    with its phase and probe, completed with the verdict (agents per tier,
    Agents/MW, agents per GPU, the bundle, the verify command). One comment on
    the pull request shows every job and is edited as they end.

Commands in a new comment, one a line: /retest, /cancel (the vendor's people
and maintainers); /ok-to-test [SHA], /hold, /unhold, /approve, /approve cancel,
/retract REASON (maintainers). /approve publishes the head's verified jobs as
'agentwatt approve' does, under the maintainer's GitHub login, and each job of
that head verified later. A denied command is answered with the reason.

Deliveries are checked before anything is read from them: X-Hub-Signature-256
(HMAC-SHA256 of the body with the secret), a delivery id not seen in 7 days,
at most 4 MiB, events pull_request, issue_comment and ping only. An accepted
delivery is kept in NATS (stream AGENTWATT_GITHUB) before the 202, so a
restart loses none. Run one bot per submissions repository.`,
		Example: `  # the App's settings, then the bot beside the server and the verifier
  export AGENTWATT_GITHUB_APP_ID=123456
  export AGENTWATT_GITHUB_PRIVATE_KEY_FILE=/etc/agentwatt/github-app.pem
  export AGENTWATT_GITHUB_WEBHOOK_SECRET_FILE=/etc/agentwatt/github-webhook-secret
  agentwatt bot github --repo agentwatt/submissions --listen 0.0.0.0:8090 \
    --nats nats://127.0.0.1:4222 --s3-endpoint 127.0.0.1:9000 \
    --public-url https://agentwatt.example

  # on the local stack (. ~/.agentwatt/env first): results publish badged
  agentwatt bot github --repo me/submissions --local --public-url http://127.0.0.1:8080`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runGitHubBot(cmd.Context(), a, &f)
		},
	}
	fs := cmd.Flags()
	addNATSFlags(fs, &f.nf)
	addS3Flags(fs, &f.s3)
	appID, _ := strconv.ParseInt(os.Getenv("AGENTWATT_GITHUB_APP_ID"), 10, 64)
	fs.StringVar(&f.listen, "listen", envOr("AGENTWATT_BOT_LISTEN", "127.0.0.1:8090"), "address of the webhook server (env AGENTWATT_BOT_LISTEN)")
	fs.Int64Var(&f.appID, "app-id", appID, "the GitHub App's id (env AGENTWATT_GITHUB_APP_ID)")
	fs.StringVar(&f.keyFile, "private-key-file", os.Getenv("AGENTWATT_GITHUB_PRIVATE_KEY_FILE"), "the App's private key, PEM (env AGENTWATT_GITHUB_PRIVATE_KEY_FILE)")
	fs.StringVar(&f.secretFile, "webhook-secret-file", os.Getenv("AGENTWATT_GITHUB_WEBHOOK_SECRET_FILE"), "file holding the App's webhook secret; required (env AGENTWATT_GITHUB_WEBHOOK_SECRET_FILE)")
	fs.StringVar(&f.repo, "repo", os.Getenv("AGENTWATT_GITHUB_REPO"), "the submissions repository, owner/name (env AGENTWATT_GITHUB_REPO)")
	fs.StringVar(&f.publicURL, "public-url", os.Getenv("AGENTWATT_PUBLIC_URL"), "base URL of the leaderboard site, for links in check runs (env AGENTWATT_PUBLIC_URL)")
	fs.StringVar(&f.evidenceURL, "evidence-url", os.Getenv("AGENTWATT_EVIDENCE_URL"), "the bucket's public http(s) address: the static site links bundle files there, as approve's --public-url (env AGENTWATT_EVIDENCE_URL)")
	fs.StringVar(&f.apiURL, "github-api-url", envOr("AGENTWATT_GITHUB_API_URL", ghbot.DefaultAPIURL), "GitHub's REST API; https://HOST/api/v3/ for GitHub Enterprise Server (env AGENTWATT_GITHUB_API_URL)")
	fs.BoolVar(&f.local, "local", false, "also publish simulated and non-official results, badged (local stack)")
	fs.IntVar(&f.replicas, "replicas", 0, "replicas of the bot's stream and buckets: 1, or 3 on a NATS cluster (0: the queue's as they are)")
	fs.StringVar(&f.cacheDir, "workload-cache", filepath.Join(os.TempDir(), "agentwatt-workloads"), "where workloads fetched from the registry are kept")
	fs.IntVar(&f.scfg.MaxConns, "max-conns", 256, "connections served at once; more wait to be accepted")
	return cmd
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// readSecretFile reads a secret's file, trimmed of surrounding space, and
// refuses one that others may read.
func readSecretFile(flag, path string) ([]byte, error) {
	if path == "" {
		return nil, fmt.Errorf("%s is required", flag)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s %s: mode %v: others can read it; chmod 600 it", flag, path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	b = []byte(strings.TrimSpace(string(b)))
	if len(b) == 0 {
		return nil, fmt.Errorf("%s %s is empty", flag, path)
	}
	return b, nil
}

func runGitHubBot(ctx context.Context, a *app, f *githubBotFlags) error {
	secret, err := readSecretFile("--webhook-secret-file", f.secretFile)
	if err != nil {
		return fmt.Errorf("%w: the bot checks every delivery's X-Hub-Signature-256 with the App's webhook secret", err)
	}
	key, err := readSecretFile("--private-key-file", f.keyFile)
	if err != nil {
		return err
	}
	q, closeQ, err := connectQueueConfig(ctx, a, &f.nf, queue.Config{Replicas: f.replicas})
	if err != nil {
		return err
	}
	defer closeQ()
	fl, err := openFleet(ctx, q, a.log)
	if err != nil {
		return err
	}
	store, err := openStore(ctx, &f.s3)
	if err != nil {
		return err
	}
	ps, err := publicStore(store, f.evidenceURL)
	if err != nil {
		return fmt.Errorf("--evidence-url %w", err)
	}
	bot, err := ghbot.New(ctx, ghbot.Config{
		AppID: f.appID, PrivateKey: key, WebhookSecret: secret, Repo: f.repo, PublicURL: f.publicURL, APIURL: f.apiURL,
		Queue: q, Keys: fl, Store: ps, Workloads: registryPinner{blobstore.NewRegistry(store, f.cacheDir)}, Local: f.local,
	}, a.log)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/webhook", bot.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	web, err := newHTTPService(f.listen, mux, f.scfg, 10*time.Second)
	if err != nil {
		return err
	}
	g := runGroup{log: a.log}
	g.add(ctx, web)
	g.add(ctx, bot)
	g.untilDone(ctx, nil)
	a.log.Info().Str("addr", web.URL()+"/webhook").Str("repo", f.repo).Msg("GitHub bot listening")
	return g.Run()
}
