package main

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentwatt/agentwatt/internal/termtext"
	"github.com/agentwatt/agentwatt/publish"
	"github.com/agentwatt/agentwatt/queue"
)

func newRetractCmd(a *app) *cobra.Command {
	var (
		nf     natsFlags
		s3     s3Flags
		mf     maintainerFlags
		reason string
		pub    string
	)
	cmd := &cobra.Command{
		Use:   "retract JOB --reason TEXT",
		Short: "Take a published result off the leaderboard, keeping it in the history",
		Long: `retract withdraws a published job: its results leave published/results.json
(the previous result of the same configuration becomes the latest again) and
the static site, whose page for the job becomes a notice of the retraction.
The job's entry under published/history/ keeps its results with the
retraction added: the reason, who, how (maintainer-token) and when; the
results are listed in published/retractions.json (the site marks them among
the configuration's runs) and their comparisons leave published/regressions.json.

Only a maintainer retracts: the token is read as 'agentwatt approve' reads it
(--token-file, else env AGENTWATT_TOKEN). The job record stays published: the
retraction lives in the publication.

JOB is a job id or a unique prefix of it.`,
		Example: `  agentwatt retract 3f9a0c2e --reason "power meter was miscalibrated" --token-file ~/.agentwatt/maintainer.token`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if reason == "" {
				return fmt.Errorf("--reason is required: it is published with the retraction")
			}
			q, closeQ, err := connectQueue(ctx, a, &nf)
			if err != nil {
				return err
			}
			defer closeQ()
			by, err := authenticateMaintainer(ctx, a, q, &mf, "retract")
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
			lb, err := publish.Retract(ctx, ps, id, publish.Retraction{By: by, Via: publish.ViaMaintainerToken, Reason: reason, At: time.Now()})
			if err != nil {
				return err
			}
			if a.json() {
				b, err := json.MarshalIndent(map[string]any{"job": id, "retracted_by": by, "reason": reason, "results": lb.Results}, "", "  ")
				if err != nil {
					return err
				}
				_, err = fmt.Fprintf(a.out, "%s\n", termtext.JSON(b))
				return err
			}
			fmt.Fprintf(a.out, "%s: retracted by %s; %d results on the board (%s)\n", esc(id), esc(by), len(lb.Results), store.URL(publish.SiteIndexKey))
			return nil
		},
	}
	cmd.ValidArgsFunction = completeJobIDs(a, &nf, queue.Published)
	addNATSFlags(cmd.Flags(), &nf)
	addS3Flags(cmd.Flags(), &s3)
	addMaintainerFlags(cmd.Flags(), &mf)
	cmd.Flags().StringVar(&reason, "reason", "", "why (required), published with the retraction")
	cmd.Flags().StringVar(&pub, "public-url", "", "the bucket's public http(s) address, as for approve")
	return cmd
}
