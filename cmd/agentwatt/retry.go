package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/agentwatt/agentwatt/queue"
)

// defaultActor names who runs a maintainer command when --by is not given.
func defaultActor() string {
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return "cli"
}

func newRetryCmd(a *app) *cobra.Command {
	var (
		nf natsFlags
		by string
	)
	cmd := &cobra.Command{
		Use:   "retry JOB",
		Short: "Re-run a failed or canceled job as a new job (maintainers)",
		Long: `retry re-runs a job that ended failed or canceled. The old job keeps its
state and history; a new job with the same spec, pool and pinned workload is
queued under the trigger "retry:<old job>", so it gets a new job id. The old
record points to the new one ("retried as"). Retrying the same job twice
returns the same new job; to retry again after the new job failed, retry
the new job.

Only failed and canceled jobs can be retried; anything else is refused.

JOB is a job id or a unique prefix of it (at least 4 hex digits, as git and
docker take abbreviated ids); an ambiguous prefix lists the jobs it matches.`,
		Example: `  agentwatt retry 3f2a9c0e5b7d41e8a6c4d2b0f1e3a5c7 --by alice
  agentwatt retry 3f2a9c0e -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			q, closeQ, err := connectQueue(ctx, a, &nf)
			if err != nil {
				return err
			}
			defer closeQ()
			id, err := q.Resolve(ctx, args[0])
			if err != nil {
				return err
			}
			j, err := q.Retry(ctx, id, by)
			if err != nil {
				return err
			}
			if a.json() {
				return printQueueJSON(a.out, j)
			}
			fmt.Fprintf(a.out, "%s\t%s (retry of %s)\n", esc(j.ID), esc(j.State), esc(id))
			return nil
		},
	}
	cmd.ValidArgsFunction = completeJobIDs(a, &nf, queue.Failed, queue.Canceled)
	addNATSFlags(cmd.Flags(), &nf)
	cmd.Flags().StringVar(&by, "by", defaultActor(), "who retries it, recorded in the history")
	return cmd
}
