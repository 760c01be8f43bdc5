package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentwatt/agentwatt/bots"
	"github.com/agentwatt/agentwatt/queue"
	"github.com/agentwatt/agentwatt/verifier"
)

func init() { addCommand(newServerCmd) }

func newServerCmd(a *app) *cobra.Command {
	var (
		nf          natsFlags
		s3          s3Flags
		listen      string
		replicas    int
		noDeadWatch bool
	)
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the control-plane server: the intake and job API",
		Long: `server runs the control plane against a NATS server or cluster: the intake API
where vendors submit configurations, and the job API.

  POST /v1/submissions         YAML body, Authorization: Bearer <vendor token>
                               202 {id, state, pool, created}; 400 with LINE:COL problems;
                               401 no or unknown token; 403 token of another vendor;
                               413 over 1 MiB. X-Agentwatt-Trigger names a new run.
  GET  /v1/jobs/{id}           the job record (404 when unknown)
  GET  /v1/jobs?state=&vendor=&pool=
  POST /v1/jobs/{id}/cancel    the job's vendor only
  GET  /api/results            published/results.json (with --s3-endpoint)
  GET  /                       the leaderboard page (with --s3-endpoint)

It creates the queue's streams and buckets when they are missing (--replicas 3
on a cluster) and runs the dead-letter watcher, which turns jobs whose message
ran out of deliveries into failed jobs with the reason, and the lease sweeper,
which gives a job whose runner stopped heartbeating back to its pool (or fails
it when its deliveries are spent) without waiting for another runner to poll.
Vendors get tokens from 'agentwatt vendor add'.`,
		Example: `  agentwatt server --nats nats://127.0.0.1:4222 --listen 127.0.0.1:8080
  agentwatt server --nats nats://nats-1:4222,nats://nats-2:4222,nats://nats-3:4222 \
    --nats-creds /etc/agentwatt/server.creds --replicas 3 --listen 0.0.0.0:8080`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			q, closeQ, err := connectQueueConfig(ctx, a, &nf, queue.Config{Replicas: replicas})
			if err != nil {
				return err
			}
			defer closeQ()
			if !noDeadWatch {
				dead, err := q.StartDeadLetters(context.WithoutCancel(ctx))
				if err != nil {
					return err
				}
				defer dead.Stop()
			}
			defer q.StartSweeper(context.WithoutCancel(ctx)).Stop()
			mux := http.NewServeMux()
			bots.NewIntake(q, bots.IntakeConfig{}, a.log.With().Str("component", "intake").Logger()).Register(mux)
			if s3.endpoint != "" {
				store, err := openStore(ctx, &s3)
				if err != nil {
					return err
				}
				verifier.NewSiteHandler(store, a.log.With().Str("component", "site").Logger()).Register(mux)
			}
			return serveHTTP(ctx, a, listen, mux)
		},
	}
	addNATSFlags(cmd.Flags(), &nf)
	addS3Flags(cmd.Flags(), &s3)
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8080", "address of the HTTP API")
	cmd.Flags().IntVar(&replicas, "replicas", 1, "replicas of the queue's streams and buckets: 1, or 3 on a NATS cluster")
	cmd.Flags().BoolVar(&noDeadWatch, "no-dead-letters", false, "do not run the dead-letter watcher here (another server runs it)")
	return cmd
}

// serveHTTP serves h on addr until ctx ends, then shuts down gracefully.
func serveHTTP(ctx context.Context, a *app, addr string, h http.Handler) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	a.log.Info().Str("addr", "http://"+ln.Addr().String()).Msg("serving")
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
