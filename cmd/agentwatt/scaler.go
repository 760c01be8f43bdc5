package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/agentwatt/agentwatt/scaler"
)

// scalerFlags are 'agentwatt scaler”s flags.
type scalerFlags struct {
	nf          natsFlags
	config      string
	metricsAddr string
}

// newScalerCmd builds 'agentwatt scaler', the capacity loop.
func newScalerCmd(a *app) *cobra.Command {
	var f scalerFlags
	cmd := &cobra.Command{
		Use:   "scaler",
		Short: "Keep each pool's runner capacity at its queue's demand (EC2 Auto Scaling)",
		Long: `scaler watches every pool of its config file: the jobs waiting and running
(the pool's JetStream consumer: pending and ack-pending) and the idle and busy
runners (the liveness bucket). The capacity a pool wants is waiting + running,
within its min and max. Scale-out is immediate; scale-in waits until demand
has stayed below capacity for the cooldown and removes only idle capacity:
the instance of every busy runner (its liveness entry's instance id, from
'agentwatt runner --instance') is protected from scale-in first, and no
scale-in happens while a running job's runner is not known.

A pool with backend aws names its EC2 Auto Scaling group; the scaler calls
DescribeAutoScalingGroups, SetInstanceProtection and SetDesiredCapacity with
credentials from the default chain (environment, shared files, the instance
or pod role). A pool with no backend is only observed: metrics and logs.

The config file (YAML, strict; errors name file:line:col):

  interval: 15s
  cooldown: 10m
  aws:
    region: us-east-1
  pools:
    - name: h200x8
      min: 0
      max: 4
      backend: aws
      group: agentwatt-h200x8

Every decision is logged with its inputs; --metrics-addr serves
agentwatt_scaler_{desired,actual,waiting,running,idle_runners,busy_runners}
per pool. On Kubernetes use KEDA instead (infra/k8s).`,
		Example: `  agentwatt scaler --config /etc/agentwatt/scaler.yaml --metrics-addr 127.0.0.1:9465
  agentwatt local --autoscale          # the loop on this machine, with runner processes`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runScaler(cmd.Context(), a, &f) },
	}
	fl := cmd.Flags()
	addNATSFlags(fl, &f.nf)
	fl.StringVar(&f.config, "config", "", "scaler config file (required)")
	fl.StringVar(&f.metricsAddr, "metrics-addr", "", "serve Prometheus metrics on this address (e.g. 127.0.0.1:9465); empty: off")
	return cmd
}

func runScaler(ctx context.Context, a *app, f *scalerFlags) error {
	if f.config == "" {
		return fmt.Errorf("--config is required")
	}
	file, err := readScalerConfig(f.config)
	if err != nil {
		return err
	}
	q, closeQ, err := connectQueue(ctx, a, &f.nf)
	if err != nil {
		return err
	}
	defer closeQ()
	fl, err := openFleet(ctx, q, a.log)
	if err != nil {
		return err
	}
	pools, err := scalerPools(ctx, file)
	if err != nil {
		return err
	}
	reg := newServiceRegistry()
	s, err := scaler.New(scaler.Config{
		Queue: q, Runners: fl, Pools: pools, Interval: file.Interval, Cooldown: file.Cooldown,
		Metrics: reg, Log: a.log,
	})
	if err != nil {
		return err
	}
	g := runGroup{log: a.log}
	if f.metricsAddr != "" {
		m, err := newMetricsService(f.metricsAddr, reg)
		if err != nil {
			return err
		}
		g.add(ctx, m)
		a.log.Info().Str("url", m.URL()+"/metrics").Msg("serving metrics")
	}
	g.add(ctx, s)
	g.untilDone(ctx, nil)
	return g.Run()
}

// readScalerConfig reads and parses the config file, bounded in size.
func readScalerConfig(path string) (*scaler.File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, 1<<20))
	if err != nil {
		return nil, err
	}
	return scaler.ParseFile(path, data)
}

// scalerPools builds each pool's back-end: one Auto Scaling client for
// every aws pool.
func scalerPools(ctx context.Context, file *scaler.File) ([]scaler.Pool, error) {
	var api scaler.AutoScalingAPI
	pools := make([]scaler.Pool, 0, len(file.Pools))
	for _, p := range file.Pools {
		pool := scaler.Pool{Name: p.Name, Min: p.Min, Max: p.Max}
		if p.Backend == scaler.BackendAWS {
			if api == nil {
				c, err := scaler.NewAutoScalingClient(ctx, file.AWS.Region, file.AWS.Endpoint)
				if err != nil {
					return nil, err
				}
				api = c
			}
			pool.Backend = scaler.NewAWSGroup(api, p.Group)
		}
		pools = append(pools, pool)
	}
	return pools, nil
}
