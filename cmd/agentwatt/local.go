package main

import (
	"fmt"
	"io"

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
	cmd := &cobra.Command{
		Use:   "local",
		Short: "Run the whole agentwatt stack in one process on this machine",
		Long: `Run the embedded default stack in one process: a NATS server with JetStream,
an S3 gateway (versitygw, POSIX backend), the intake server and one runner of
pool sim (its key enrolled as "local-sim"; it launches the sim engine for each
job), all on loopback and all storing under --dir. It prints the URLs and a ready-to-paste submit
line, then runs until Ctrl-C.

Restarting on the same --dir keeps every job, vendor token and object. Two
stacks cannot share a directory.`,
		Example: `  agentwatt local --dir ./agentwatt-local
  agentwatt local --dir /var/lib/agentwatt --listen 127.0.0.1:9090`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			s, err := openLocalStack(ctx, cfg, a.log)
			if err != nil {
				return err
			}
			defer s.Close()
			s.printAccess(a.out)
			g := runGroup{log: a.log}
			s.addServices(ctx, &g)
			g.untilDone(ctx, func() { a.log.Info().Msg("stopping local stack") })
			a.log.Info().Str("dir", cfg.Dir).Msg("local stack ready; Ctrl-C stops it")
			return g.Run()
		},
	}
	cmd.Flags().StringVar(&cfg.Dir, "dir", "agentwatt-local", "directory for every job, object and credential of the stack")
	addStackFlags(cmd, &cfg, true)
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
