package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
)

// addStackFlags adds the flags of the embedded local stack to cmd.
func addStackFlags(cmd *cobra.Command, cfg *stackConfig, defaultPorts bool) {
	nats, http := "127.0.0.1:0", "127.0.0.1:0"
	if defaultPorts {
		nats, http = "127.0.0.1:4222", "127.0.0.1:8080"
	}
	f := cmd.Flags()
	f.StringVar(&cfg.NATSListen, "nats-listen", nats, "loopback address of the embedded NATS server (port 0 picks a free one)")
	f.StringVar(&cfg.HTTPListen, "listen", http, "loopback address of the intake server")
	f.StringVar(&cfg.S3Listen, "s3-listen", "127.0.0.1:0", "loopback address of the embedded S3 gateway")
	f.StringVar(&cfg.Bucket, "bucket", "agentwatt", "bucket for bundles, workloads and published results")
	f.BoolVar(&cfg.Runner, "runner", true, "start one runner of pool sim, which launches the sim engine for each job")
}

func newLocalCmd(a *app) *cobra.Command {
	cfg := stackConfig{}
	var autoscale bool
	ac := autoscaleConfig{}
	cmd := &cobra.Command{
		Use:   "local",
		Short: "Run the whole agentwatt stack in one process on this machine",
		Long: `Run the embedded default stack in one process: a NATS server with JetStream,
an S3 gateway (versitygw, POSIX backend), the intake server and one runner of
pool sim (its key enrolled as "local-sim"; it launches the sim engine for each
job), all on loopback and all storing under --dir. It prints the URLs and a ready-to-paste submit
line, then runs until Ctrl-C.

Restarting on the same --dir keeps every job, vendor token and object. Two
stacks cannot share a directory.

--autoscale replaces the fixed runner with the scaler ('agentwatt scaler')
driving runner processes: for each job waiting it starts an 'agentwatt runner
--once --pool sim' (a fresh key, enrolled by the stack, under DIR/autoscale),
up to --autoscale-max at once; each exits after its job, and an idle one is
stopped after --autoscale-cooldown. With nothing queued no runner runs.`,
		Example: `  agentwatt local --dir ./agentwatt-local
  agentwatt local --dir /var/lib/agentwatt --listen 127.0.0.1:9090
  agentwatt local --autoscale --autoscale-max 3`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if autoscale { // the scaler's runner processes replace the fixed runner
				if err := ac.validate(); err != nil {
					return err
				}
				cfg.Runner = false
			}
			s, err := openLocalStack(ctx, cfg, a.log)
			if err != nil {
				return err
			}
			defer s.Close()
			s.printAccess(a.out)
			g := runGroup{log: a.log}
			s.addServices(ctx, &g)
			if autoscale {
				sc, err := newStackScaler(s, ac)
				if err != nil {
					return err
				}
				g.add(ctx, sc)
			}
			g.untilDone(ctx, func() { a.log.Info().Msg("stopping local stack") })
			a.log.Info().Str("dir", cfg.Dir).Msg("local stack ready; Ctrl-C stops it")
			return g.Run()
		},
	}
	cmd.Flags().StringVar(&cfg.Dir, "dir", "agentwatt-local", "directory for every job, object and credential of the stack")
	addStackFlags(cmd, &cfg, true)
	cmd.Flags().IntVar(&cfg.RunnerFixedAgents, "fixed-agents", 0, "the stack's runners judge this many agents instead of a full capacity search (quick checks; 0: search)")
	cmd.Flags().BoolVar(&autoscale, "autoscale", false, "run the scaler with runner processes (runner --once) instead of the one fixed runner")
	cmd.Flags().IntVar(&ac.Max, "autoscale-max", 2, "with --autoscale: the most runner processes at once")
	cmd.Flags().DurationVar(&ac.Cooldown, "autoscale-cooldown", 30*time.Second, "with --autoscale: how long demand stays below capacity before an idle runner is stopped")
	return cmd
}

// printAccess tells a person how to reach the stack.
func (s *localStack) printAccess(w io.Writer) {
	fmt.Fprintf(w, "agentwatt local stack in %s\n", s.cfg.Dir)
	fmt.Fprintf(w, "  intake server  %s\n", s.httpURL)
	fmt.Fprintf(w, "  NATS           %s\n", s.nats.ClientURL())
	fmt.Fprintf(w, "  S3             %s  bucket %s\n", s.s3.URL(), s.cfg.Bucket)
	fmt.Fprintf(w, "  vendor         %s  (token in %s)\n", s.vendor, s.tokenFile())
	fmt.Fprintf(w, "  workload       %s  (built in, in the registry)\n\n", s.sample)
	fmt.Fprintf(w, "Point any agentwatt command at this stack (NATS, server, token, S3 credentials):\n  . %s\n", s.envFile())
	fmt.Fprintf(w, "Submit the example:\n  agentwatt submit examples/submissions/sim.yaml --server %s --token $(cat %s)\n", s.httpURL, s.tokenFile())
	fmt.Fprintf(w, "Follow jobs:\n  agentwatt status --nats %s\n", s.nats.ClientURL())
}
