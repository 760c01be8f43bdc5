package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentwatt/agentwatt/sim"
)

func newSimNodeCmd(a *app) *cobra.Command {
	var (
		listen, profile, profiles string
		cfg                       sim.NodeConfig
	)
	cmd := &cobra.Command{
		Use:   "node",
		Short: "Serve one member node's power counters of a simulated rack",
		Long: `node is one member node of a SIMULATED rack (a profile with a rack section,
e.g. gb300-nvl72-like): it reads its member's load from the rack's frontend
(an 'agentwatt sim serve' with the same profile) at GET /sim/v1/rack, and
serves its own GET /sim/v1/power, in the format of the sim's power endpoint,
for its member's GPUs with their own energy counters, plus the node's
overhead (under "node", included in "total"). It prints, as its first line on
stdout, "listening on http://HOST:PORT", then serves until SIGTERM or Ctrl-C.

--frontend must be an http(s) base URL on a loopback or private address (a
rack's own network). While the frontend cannot be read, the node draws idle
power and says so in its log. Use the frontend's --seed for the node's GPUs
to be the ones in the frontend's rack model. Everything it serves is
simulated.`,
		Example: `  agentwatt sim serve --profile gb300-nvl72-like --addr 127.0.0.1:8000
  agentwatt sim node --profile gb300-nvl72-like --member 1 --frontend http://127.0.0.1:8000 --listen 127.0.0.1:0`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ps, err := sim.LoadProfiles(profiles)
			if err != nil {
				return err
			}
			if cfg.Profile, err = sim.LookupProfile(ps, profile); err != nil {
				return err
			}
			node, err := sim.NewNode(cfg, a.log)
			if err != nil {
				return err
			}
			defer node.Close()
			return serveNode(cmd.Context(), a, node, listen)
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", "127.0.0.1:0", "listen address; port 0 picks a free one")
	f.StringVar(&profile, "profile", "gb300-nvl72-like", "rack profile name")
	f.StringVar(&profiles, "profiles", "", "profile YAML file (default: the embedded profiles)")
	f.IntVar(&cfg.Member, "member", 0, "this node's member number in the rack, from 0")
	f.StringVar(&cfg.FrontendURL, "frontend", "", "the rack frontend's base URL (loopback or private address)")
	f.Int64Var(&cfg.Seed, "seed", 1, "seed for the GPUs' power spread (use the frontend's)")
	f.DurationVar(&cfg.Poll, "poll", sim.DefaultNodePoll, "how often to read the frontend's load")
	f.DurationVar(&cfg.Faults.EnergyResetAfter, "fault-energy-reset-after", 0, "reset the GPUs' energy counters to zero once, this long after start")
	f.DurationVar(&cfg.Faults.PowerGapAfter, "fault-power-gap-after", 0, "start of a gap in /sim/v1/power answers (503)")
	f.DurationVar(&cfg.Faults.PowerGapFor, "fault-power-gap-for", 0, "length of the power gap")
	_ = cmd.MarkFlagRequired("frontend")
	return cmd
}

// serveNode serves node on listen until ctx ends.
func serveNode(ctx context.Context, a *app, node http.Handler, listen string) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", listen)
	if err != nil {
		return fmt.Errorf("sim node listen: %w", err)
	}
	srv := &http.Server{Handler: node, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 10 * time.Second, IdleTimeout: 30 * time.Second, MaxHeaderBytes: 16 << 10}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	fmt.Fprintf(a.out, "listening on http://%s\n", ln.Addr())
	select {
	case err := <-done:
		return fmt.Errorf("sim node serve: %w", err)
	case <-ctx.Done():
	}
	a.log.Info().Msg("stopping simulated rack node")
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
	}
	if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
