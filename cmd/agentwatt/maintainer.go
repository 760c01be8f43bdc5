package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newMaintainerCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "maintainer",
		Short: "Manage maintainers' API tokens",
		Long: `maintainer manages the people who read every vendor's jobs through the job
API of 'agentwatt server' (GET /v1/jobs, GET /v1/jobs/{id}) and may cancel any
job there. A maintainer's token cannot submit. Commands that open the queue
directly ('status', 'retry', 'approve') use NATS credentials, not these tokens.`,
		Example: `  agentwatt maintainer add alice
  agentwatt maintainer list`,
	}
	return cmd
}

func newMaintainerAddCmd(a *app) *cobra.Command {
	var nf natsFlags
	cmd := &cobra.Command{
		Use:   "add NAME",
		Short: "Register a maintainer and print a new API token (shown once)",
		Long: `add registers the maintainer NAME (a DNS label: lower-case letters, digits and
'-') if new, and issues a new API token (awm_…) for them. The token is printed
once, on standard output, and stored only as its sha256 hash. Running add
again issues an additional token; earlier ones stay valid.`,
		Example: `  agentwatt maintainer add alice
  curl -H "Authorization: Bearer $(agentwatt maintainer add alice)" http://127.0.0.1:8080/v1/jobs`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			q, closeQ, err := connectQueue(ctx, a, &nf)
			if err != nil {
				return err
			}
			defer closeQ()
			token, err := q.AddMaintainer(ctx, args[0])
			if err != nil {
				return err
			}
			if a.json() {
				return printQueueJSON(a.out, map[string]string{"maintainer": args[0], "token": token})
			}
			a.log.Info().Str("maintainer", args[0]).Msg("new token below; it is not stored in the clear and will not be shown again")
			fmt.Fprintln(a.out, token)
			return nil
		},
	}
	addNATSFlags(cmd.Flags(), &nf)
	return cmd
}

func newMaintainerListCmd(a *app) *cobra.Command {
	var nf natsFlags
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List registered maintainers",
		Long:    `list prints the registered maintainers and when each was added. Tokens are never shown.`,
		Example: `  agentwatt maintainer list -o json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			q, closeQ, err := connectQueue(ctx, a, &nf)
			if err != nil {
				return err
			}
			defer closeQ()
			ms, err := q.ListMaintainers(ctx)
			if err != nil {
				return err
			}
			if a.json() {
				if ms == nil {
					return printQueueJSON(a.out, []any{})
				}
				return printQueueJSON(a.out, ms)
			}
			for _, m := range ms {
				fmt.Fprintf(a.out, "%s\t%s\n", m.Name, m.CreatedAt.Local().Format("2006-01-02 15:04:05"))
			}
			return nil
		},
	}
	addNATSFlags(cmd.Flags(), &nf)
	return cmd
}
