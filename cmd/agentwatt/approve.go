package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentwatt/agentwatt/internal/termtext"
	"github.com/agentwatt/agentwatt/publish"
	"github.com/agentwatt/agentwatt/queue"
)

func newApproveCmd(a *app) *cobra.Command {
	var (
		nf    natsFlags
		s3    s3Flags
		mf    maintainerFlags
		note  string
		local bool
		pub   string
	)
	cmd := &cobra.Command{
		Use:   "approve JOB",
		Short: "Approve a verified job and publish it on the leaderboard",
		Long: `approve publishes a verified job's recomputed results and records the approval
(who, how, when, the note, the sha256 of the verdict.json approved) in the job
record and the publication: verified → published. Only a job the verifier
accepted can be approved.

Only a maintainer approves: the command reads a maintainer token from
--token-file, else env AGENTWATT_TOKEN ('agentwatt maintainer add NAME' issues
one), checks it against the accounts on the same NATS and records the
maintainer's name, approved via maintainer-token. A vendor's token, an
unknown or revoked one is refused.

Publishing writes to object storage: the job's entry published/history/<date>-<job>.json
and published/runners.json (the enrolled keys, for offline verification) first,
then published/results.json in one replace — readers see the old or the new
board, never a mix — then published/regressions.json (each regression or
improvement against the configuration's previous framework version), then
the static site under published/site/ (a page per
result, the method, results.json and .csv, the leaderboard last). The static
pages link bundle files relative to the bucket's root, or under --public-url
(the bucket's public https address) when it is given. A retest
of the same configuration appends to its history and becomes its latest result.

What a result is — simulated (the job's pool is sim), its profile, hence
hardware — comes from the job record, never from the bundle's claims; a
verdict that disagrees with the record is not published. Only
official-profile, non-simulated results are hardware results; --local
(the local stack and demo) also publishes simulated and quick results, badged
"simulated — not hardware" on the site.

JOB is a job id or a unique prefix of it (at least 4 hex digits, as git and
docker take abbreviated ids); an ambiguous prefix lists the jobs it matches.`,
		Example: `  agentwatt approve 3f9a0c2e --token-file ~/.agentwatt/maintainer.token --note "numbers match the vendor's own run"
  AGENTWATT_TOKEN=awm_… agentwatt approve 3f9a0c2e --local`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			q, closeQ, err := connectQueue(ctx, a, &nf)
			if err != nil {
				return err
			}
			defer closeQ()
			by, err := authenticateMaintainer(ctx, a, q, &mf, "approve")
			if err != nil {
				return err
			}
			fl, err := openFleet(ctx, q, a.log)
			if err != nil {
				return err
			}
			store, err := openStore(ctx, &s3)
			if err != nil {
				return err
			}
			id, err := q.Resolve(ctx, args[0])
			if err != nil {
				return err
			}
			ps, err := publicStore(store, pub)
			if err != nil {
				return fmt.Errorf("--public-url %w", err)
			}
			job, lb, err := publish.Approve(ctx, q, fl, ps, id, publish.Approval{By: by, Via: publish.ViaMaintainerToken, Note: note, At: time.Now()}, local)
			if err != nil {
				return err
			}
			if a.json() {
				b, err := json.MarshalIndent(map[string]any{"job": job, "results": lb.Results}, "", "  ")
				if err != nil {
					return err
				}
				_, err = fmt.Fprintf(a.out, "%s\n", termtext.JSON(b))
				return err
			}
			fmt.Fprintf(a.out, "%s: %s by %s; %d results on the board (%s)\n", esc(job.ID), esc(job.State), esc(by), len(lb.Results), store.URL(publish.SiteIndexKey))
			return nil
		},
	}
	cmd.ValidArgsFunction = completeJobIDs(a, &nf, queue.Verified)
	addNATSFlags(cmd.Flags(), &nf)
	addS3Flags(cmd.Flags(), &s3)
	addMaintainerFlags(cmd.Flags(), &mf)
	cmd.Flags().StringVar(&note, "note", "", "why, recorded with the approval")
	cmd.Flags().StringVar(&pub, "public-url", "", "the bucket's public http(s) address: the static site links bundle files there")
	cmd.Flags().BoolVar(&local, "local", false, "also publish simulated and non-official results, badged (local stack, demo)")
	return cmd
}

// publicStore is the store publication writes to: with --public-url (the
// bucket's public http(s) address) the static pages link bundle files
// there, else relative to the bucket's root. Only an http(s) URL with a
// host is taken: the address ends up in every page's links.
func publicStore(store publish.PublishStore, publicURL string) (publish.PublishStore, error) {
	if publicURL == "" {
		return store, nil
	}
	u, err := url.Parse(publicURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("%q: want the bucket's public http(s) address", publicURL)
	}
	return publish.PublicStore{PublishStore: store, URLBase: publicURL}, nil
}
