package main

import (
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/agentwatt/agentwatt/verifyd"
	"github.com/agentwatt/agentwatt/workload/blobstore"
)

func newVerifierCmd(a *app) *cobra.Command {
	var (
		nf       natsFlags
		s3       s3Flags
		cacheDir string
	)
	cmd := &cobra.Command{
		Use:   "verifier",
		Short: "Run the verifier daemon: recompute every uploaded bundle and judge it",
		Long: `verifier consumes verify requests (agentwatt.verify) from the queue. For each,
it moves the job from uploaded to verifying, verifies the attempt's bundle in
object storage exactly as 'agentwatt verify' does (integrity and signature by
an enrolled runner key, the attempt current, every number recomputed from the
raw traces and the workload, the rules, accuracy), writes verdict.json beside
the bundle, and moves the job to verified or rejected — attempt-fenced, so a
superseded attempt's request is dropped. A bundle that cannot be read is
handed back and retried later. Run several for throughput; they share one
durable consumer.

The workload is fetched from the registry of the same bucket by the digest the
manifest pins (cached under --workload-cache); the enrolled keys come from the
queue.`,
		Example: `  agentwatt verifier --nats nats://127.0.0.1:4222 --s3-endpoint 127.0.0.1:9000
  . ~/.agentwatt/env && agentwatt verifier`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			q, closeQ, err := connectQueue(ctx, a, &nf)
			if err != nil {
				return err
			}
			defer closeQ()
			fl, err := openFleet(ctx, q, a.log)
			if err != nil {
				return err
			}
			store, err := openStore(ctx, &s3)
			if err != nil {
				return err
			}
			d, err := verifyd.New(verifyd.Config{
				Queue: q, Keys: fl, Store: store,
				Workloads: verifyd.RegistryWorkloads(blobstore.NewRegistry(store, cacheDir)),
				Log:       a.log.With().Str("component", "verifier").Logger(),
			})
			if err != nil {
				return err
			}
			g := runGroup{log: a.log}
			g.add(ctx, d)
			g.untilDone(ctx, nil)
			a.log.Info().Msg("verifier waiting for bundles")
			return g.Run()
		},
	}
	addNATSFlags(cmd.Flags(), &nf)
	addS3Flags(cmd.Flags(), &s3)
	cmd.Flags().StringVar(&cacheDir, "workload-cache", filepath.Join(os.TempDir(), "agentwatt-workloads"), "where workloads fetched from the registry are kept")
	return cmd
}
