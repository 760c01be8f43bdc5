package main

import "github.com/spf13/cobra"

// commands is agentwatt's whole command tree, written out in one place: every
// command and subcommand, built by its constructor in the file named after it.
// Adding a command means a constructor in its own file and a line here. Help
// lists commands sorted by name, so the order here is for people: what a vendor
// uses, then maintainers, then the services, then the tools.
func commands(a *app) []*cobra.Command {
	return []*cobra.Command{
		// Vendors and anyone: check, submit, follow.
		newExamplesCmd(a),
		newValidateCmd(a),
		newSubmitCmd(a),
		newStatusCmd(a),
		newVerifyCmd(a),

		// Maintainers: people, keys and jobs.
		withSubcommands(newVendorCmd(a),
			newVendorAddCmd(a),
			newVendorListCmd(a),
		),
		withSubcommands(newMaintainerCmd(a),
			newMaintainerAddCmd(a),
			newMaintainerListCmd(a),
		),
		newCancelCmd(a),
		newRetryCmd(a),
		newApproveCmd(a),
		newRetractCmd(a),

		// Services (each runs until Ctrl-C or SIGTERM).
		newServerCmd(a),
		withSubcommands(newRunnerCmd(a),
			newRunnerTrustCmd(a),
			newRunnerRevokeCmd(a),
			newRunnerEnrolTokenCmd(a),
		),
		newVerifierCmd(a),
		newScalerCmd(a),
		withSubcommands(newBotCmd(a),
			newBotGitHubCmd(a),
			newBotRetestCmd(a),
		),
		newLocalCmd(a),
		newDemoCmd(a),

		// Tools: workloads, the load on its own, the sim engine, GPUs.
		withSubcommands(newWorkloadCmd(a),
			newWorkloadStatsCmd(a),
			newWorkloadPushCmd(a),
			newWorkloadListCmd(a),
			newWorkloadSynthCmd(a),
		),
		newIngestCmd(a),
		withSubcommands(newBenchCmd(a),
			newBenchReportCmd(a),
		),
		withSubcommands(newSimCmd(a),
			newSimServeCmd(a),
			newSimNodeCmd(a),
			newSimProfilesCmd(a),
		),
		withSubcommands(newGPUCmd(a),
			newGPUInfoCmd(a),
			newGPUSampleCmd(a),
		),
		newVersionCmd(a),
	}
}

// withSubcommands adds subs to parent and returns it.
func withSubcommands(parent *cobra.Command, subs ...*cobra.Command) *cobra.Command {
	parent.AddCommand(subs...)
	return parent
}
