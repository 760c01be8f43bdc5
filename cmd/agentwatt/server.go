package main

import (
	"fmt"
	"net/http"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/time/rate"

	"github.com/agentwatt/agentwatt/bots"
	"github.com/agentwatt/agentwatt/publish"
	"github.com/agentwatt/agentwatt/queue"
)

func newServerCmd(a *app) *cobra.Command {
	var (
		nf          natsFlags
		s3          s3Flags
		listen      string
		metricsAddr string
		replicas    int
		noDeadWatch bool
		scfg        bots.ServerConfig
		limits      bots.Limits
	)
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the control-plane server: the intake and job API",
		Long: `server runs the control plane against a NATS server or cluster: the intake API
where vendors submit configurations, and the job API.

Every /v1 route needs Authorization: Bearer <token>: a vendor's token
('agentwatt vendor add') or a maintainer's ('agentwatt maintainer add').

  POST /v1/submissions         YAML body, a vendor's token, for that vendor
                               202 {id, state, pool, created}; 400 with FILE:LINE:COL
                               problems (FILE from X-Agentwatt-Filename, else
                               "submission") or a bad X-Agentwatt-Trigger; 401 no or unknown token;
                               403 another vendor's or a maintainer's token;
                               413 over 1 MiB; 429 over the rate or the queued-job cap,
                               with Retry-After. X-Agentwatt-Trigger (at most 128
                               letters, digits, . _ : @ / # + = -) names a new run.
  GET  /v1/jobs/{id}           the job record; 404 when unknown or another vendor's
  GET  /v1/jobs?state=&vendor=&pool=&limit=&cursor=
                               {jobs, next}: a vendor's own jobs, every job for a
                               maintainer; oldest first, limit 50 (at most 200);
                               follow next for the rest
  POST /v1/jobs/{id}/cancel    the job's vendor, or a maintainer
  GET  /api/results            published/results.json (with --s3-endpoint)
  GET  /                       the leaderboard page (with --s3-endpoint); beside it
                               /results/JOB/ATTEMPT.html, /method.html,
                               /results.json, /results.csv and
                               /runs/JOB/ATTEMPT/FILE, a published bundle's files
  GET  /metrics                Prometheus metrics, no token: Go runtime, process, and
                               agentwatt_http_requests_total and
                               agentwatt_http_request_duration_seconds by route
                               (the pattern above) and code; --metrics-addr moves
                               it to an address of its own

Vendors see engine.env values as "(redacted)". The token, role, trigger and
rate are checked from the headers before any body is read. Each vendor may
submit --submit-burst at once, then one per --submit-every, and have
--max-queued jobs queued; connections beyond --max-conns wait to be accepted.
An address that sent 20 missing or unknown tokens gets 429 for a while.

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
			// The server owns the configuration of every bucket beside the
			// queue too: the fleet's are made here with the queue's replicas.
			fl, err := openFleet(ctx, q, a.log)
			if err != nil {
				return err
			}
			acc, err := openAccounts(ctx, q, a.log)
			if err != nil {
				return err
			}
			mux := http.NewServeMux()
			bots.NewIntake(q, acc, bots.IntakeConfig{Limits: limits}, a.log.With().Str("component", "intake").Logger()).Register(mux)
			if s3.endpoint != "" {
				store, err := openStore(ctx, &s3)
				if err != nil {
					return err
				}
				publish.NewSiteHandler(store, a.log.With().Str("component", "site").Logger()).Register(mux)
			}
			reg := newServiceRegistry()
			h, err := instrumentMux(mux, reg, metricsAddr != "")
			if err != nil {
				return err
			}
			api, err := newHTTPService(listen, h, scfg, 10*time.Second)
			if err != nil {
				return err
			}
			g := runGroup{log: a.log}
			if metricsAddr != "" {
				ms, err := newMetricsService(metricsAddr, reg)
				if err != nil {
					return err
				}
				g.add(ctx, ms)
			}
			if !noDeadWatch {
				g.add(ctx, q.DeadLetters())
			}
			g.add(ctx, q.Sweeper())
			g.add(ctx, enrolService(q, fl, a.log))
			g.add(ctx, api)
			g.untilDone(ctx, nil)
			a.log.Info().Str("addr", api.URL()).Msg("serving")
			return g.Run()
		},
	}
	addNATSFlags(cmd.Flags(), &nf)
	addS3Flags(cmd.Flags(), &s3)
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8080", "address of the HTTP API")
	cmd.Flags().StringVar(&metricsAddr, "metrics-addr", "", "serve GET /metrics on this address (e.g. a private 10.0.0.5:9464) instead of on --listen")
	cmd.Flags().IntVar(&replicas, "replicas", 1, "replicas of the queue's streams and buckets: 1, or 3 on a NATS cluster")
	cmd.Flags().BoolVar(&noDeadWatch, "no-dead-letters", false, "do not run the dead-letter watcher here (another server runs it)")
	cmd.Flags().IntVar(&scfg.MaxConns, "max-conns", 256, "connections served at once; more wait to be accepted")
	cmd.Flags().IntVar(&limits.MaxQueued, "max-queued", 20, "jobs one vendor may have queued at once")
	cmd.Flags().IntVar(&limits.SubmitBurst, "submit-burst", 10, "submissions one vendor may make at once")
	cmd.Flags().Var((*rateEvery)(&limits.SubmitRate), "submit-every", "then one submission per vendor per this interval (default 6s)")
	return cmd
}

// rateEvery is a rate.Limit given as the interval between events.
type rateEvery rate.Limit

func (r *rateEvery) String() string {
	if *r <= 0 {
		return ""
	}
	return time.Duration(float64(time.Second) / float64(*r)).String()
}

func (r *rateEvery) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return fmt.Errorf("want a positive duration such as 6s")
	}
	*r = rateEvery(rate.Every(d))
	return nil
}

func (r *rateEvery) Type() string { return "duration" }
