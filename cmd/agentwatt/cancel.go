package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/agentwatt/agentwatt/queue"
)

func newCancelCmd(a *app) *cobra.Command {
	var (
		nf natsFlags
		by string
	)
	cmd := &cobra.Command{
		Use:   "cancel JOB",
		Short: "Cancel a held, queued or running job",
		Long: `cancel stops a job.

A held or queued job is canceled at once (its message is removed from the
queue). A running job becomes "canceling": its runner sees that, stops the
engine and confirms, and the job becomes "canceled" (follow it with
'agentwatt status -f JOB'). Canceling a job that is already canceling or
canceled changes nothing; a job past running (uploaded, verifying, …)
cannot be canceled.

JOB is a job id or a unique prefix of it (at least 4 hex digits, as git and
docker take abbreviated ids); an ambiguous prefix lists the jobs it matches.`,
		Example: `  agentwatt cancel 3f2a9c0e5b7d41e8a6c4d2b0f1e3a5c7 --by alice
  agentwatt cancel 3f2a9c0e --by alice`,
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
			j, err := q.Cancel(ctx, id, by)
			if err != nil {
				return err
			}
			if a.json() {
				return printQueueJSON(a.out, j)
			}
			fmt.Fprintf(a.out, "%s\t%s\n", esc(j.ID), esc(j.State))
			return nil
		},
	}
	cmd.ValidArgsFunction = completeJobIDs(a, &nf, queue.Held, queue.Queued, queue.Running)
	addNATSFlags(cmd.Flags(), &nf)
	cmd.Flags().StringVar(&by, "by", defaultActor(), "who cancels it, recorded in the history")
	return cmd
}
