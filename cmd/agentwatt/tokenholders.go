package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/agentwatt/agentwatt/accounts"
)

// A token holder is a vendor or a maintainer: someone accounts issues API
// tokens to, stored only as their hashes. 'vendor add|list' and
// 'maintainer add|list' are the same commands over the two kinds.

// connectAccounts connects to the queue the flags name and opens the
// accounts beside it; close ends the connection.
func connectAccounts(ctx context.Context, a *app, nf *natsFlags) (*accounts.Store, func(), error) {
	q, closeQ, err := connectQueue(ctx, a, nf)
	if err != nil {
		return nil, nil, err
	}
	acc, err := openAccounts(ctx, q, a.log)
	if err != nil {
		closeQ()
		return nil, nil, err
	}
	return acc, closeQ, nil
}

// newTokenAddCmd is 'NOUN add NAME': issue a token through add and print it
// once. cmd carries the command's texts; its RunE is set here.
func newTokenAddCmd(a *app, noun string, cmd *cobra.Command,
	add func(*accounts.Store, context.Context, string) (string, error)) *cobra.Command {
	var nf natsFlags
	cmd.Args = cobra.ExactArgs(1)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		ctx := cmd.Context()
		acc, closeQ, err := connectAccounts(ctx, a, &nf)
		if err != nil {
			return err
		}
		defer closeQ()
		token, err := add(acc, ctx, args[0])
		if err != nil {
			return err
		}
		if a.json() {
			return printQueueJSON(a.out, map[string]string{noun: args[0], "token": token})
		}
		a.log.Info().Str(noun, args[0]).Msg("new token below; it is not stored in the clear and will not be shown again")
		fmt.Fprintln(a.out, token)
		return nil
	}
	addNATSFlags(cmd.Flags(), &nf)
	return cmd
}

// newTokenListCmd is 'NOUN list': the holders and when each was added,
// never a token.
func newTokenListCmd[T accounts.Vendor | accounts.Maintainer](a *app, plural string,
	list func(*accounts.Store, context.Context) ([]T, error)) *cobra.Command {
	var nf natsFlags
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List registered " + plural,
		Long:    "list prints the registered " + plural + " and when each was added. Tokens are never shown.",
		Example: "  agentwatt " + plural[:len(plural)-1] + " list -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			acc, closeQ, err := connectAccounts(ctx, a, &nf)
			if err != nil {
				return err
			}
			defer closeQ()
			hs, err := list(acc, ctx)
			if err != nil {
				return err
			}
			if a.json() {
				if hs == nil {
					return printQueueJSON(a.out, []any{})
				}
				return printQueueJSON(a.out, hs)
			}
			for _, h := range hs {
				v := accounts.Vendor(h) // the two kinds have the same fields
				fmt.Fprintf(a.out, "%s\t%s\n", v.Name, v.CreatedAt.Local().Format("2006-01-02 15:04:05"))
			}
			return nil
		},
	}
	addNATSFlags(cmd.Flags(), &nf)
	return cmd
}
