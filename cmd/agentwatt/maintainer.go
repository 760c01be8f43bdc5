package main

import (
	"github.com/spf13/cobra"

	"github.com/agentwatt/agentwatt/accounts"
)

func newMaintainerCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "maintainer",
		Short: "Manage maintainers' API tokens",
		Long: `maintainer manages the people who read every vendor's jobs through the job
API of 'agentwatt server' (GET /v1/jobs, GET /v1/jobs/{id}) and may cancel any
job there, and who approve and retract results ('agentwatt approve' and
'agentwatt retract' send the token: --token-file or env AGENTWATT_TOKEN). A
maintainer's token cannot submit. Other commands that open the queue directly
('status', 'retry') use NATS credentials, not these tokens.`,
		Example: `  agentwatt maintainer add alice
  agentwatt maintainer list`,
	}
	return cmd
}

func newMaintainerAddCmd(a *app) *cobra.Command {
	return newTokenAddCmd(a, "maintainer", &cobra.Command{
		Use:   "add NAME",
		Short: "Register a maintainer and print a new API token (shown once)",
		Long: `add registers the maintainer NAME (a DNS label: lower-case letters, digits and
'-') if new, and issues a new API token (awm_…) for them. The token is printed
once, on standard output, and stored only as its sha256 hash. Running add
again issues an additional token; earlier ones stay valid.`,
		Example: `  agentwatt maintainer add alice
  curl -H "Authorization: Bearer $(agentwatt maintainer add alice)" http://127.0.0.1:8080/v1/jobs`,
	}, (*accounts.Store).AddMaintainer)
}

func newMaintainerListCmd(a *app) *cobra.Command {
	return newTokenListCmd(a, "maintainers", (*accounts.Store).ListMaintainers)
}
