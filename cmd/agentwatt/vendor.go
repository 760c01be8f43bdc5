package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newVendorCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "vendor",
		Short: "Manage vendors and their API tokens",
		Long: `vendor manages the vendors that may submit configurations through the
intake API, and their bearer tokens.`,
		Example: `  agentwatt vendor add acme
  agentwatt vendor list`,
	}
	return cmd
}

func newVendorAddCmd(a *app) *cobra.Command {
	var nf natsFlags
	cmd := &cobra.Command{
		Use:   "add NAME",
		Short: "Register a vendor and print a new API token (shown once)",
		Long: `add registers the vendor NAME (a DNS label: lower-case letters, digits and
'-') if it is new, and issues a new API token for it. The token is printed
once, on standard output, and stored only as its sha256 hash: keep it now,
it cannot be shown again. Running add again for the same vendor issues an
additional token; earlier ones stay valid.

The vendor submits with 'agentwatt submit FILE --token TOKEN' or an
"Authorization: Bearer TOKEN" header; the spec's metadata.vendor must be NAME.`,
		Example: `  agentwatt vendor add acme
  TOKEN=$(agentwatt vendor add acme --nats nats://nats-1:4222)
  agentwatt vendor add acme -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			q, closeQ, err := connectQueue(ctx, a, &nf)
			if err != nil {
				return err
			}
			defer closeQ()
			token, err := q.AddVendor(ctx, args[0])
			if err != nil {
				return err
			}
			if a.json() {
				return printQueueJSON(a.out, map[string]string{"vendor": args[0], "token": token})
			}
			a.log.Info().Str("vendor", args[0]).Msg("new token below; it is not stored in the clear and will not be shown again")
			fmt.Fprintln(a.out, token)
			return nil
		},
	}
	addNATSFlags(cmd.Flags(), &nf)
	return cmd
}

func newVendorListCmd(a *app) *cobra.Command {
	var nf natsFlags
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List registered vendors",
		Long:    `list prints the registered vendors and when each was added. Tokens are never shown.`,
		Example: `  agentwatt vendor list -o json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			q, closeQ, err := connectQueue(ctx, a, &nf)
			if err != nil {
				return err
			}
			defer closeQ()
			vs, err := q.ListVendors(ctx)
			if err != nil {
				return err
			}
			if a.json() {
				if vs == nil {
					return printQueueJSON(a.out, []any{})
				}
				return printQueueJSON(a.out, vs)
			}
			for _, v := range vs {
				fmt.Fprintf(a.out, "%s\t%s\n", v.Name, v.CreatedAt.Local().Format("2006-01-02 15:04:05"))
			}
			return nil
		},
	}
	addNATSFlags(cmd.Flags(), &nf)
	return cmd
}
