package main

import (
	"github.com/spf13/cobra"

	"github.com/agentwatt/agentwatt/accounts"
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
	return newTokenAddCmd(a, "vendor", &cobra.Command{
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
	}, (*accounts.Store).AddVendor)
}

func newVendorListCmd(a *app) *cobra.Command {
	return newTokenListCmd(a, "vendors", (*accounts.Store).ListVendors)
}
