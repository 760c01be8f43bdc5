package main

import (
	"context"
	"os"

	"github.com/rs/zerolog"
	"github.com/spf13/pflag"

	"github.com/agentwatt/agentwatt/accounts"
	"github.com/agentwatt/agentwatt/fleet"
	"github.com/agentwatt/agentwatt/queue"
)

// defaultNATS is where the queue is when neither --nats nor AGENTWATT_NATS
// says otherwise: a NATS server on this machine's default port.
const defaultNATS = "nats://127.0.0.1:4222"

// natsFlags are the queue connection flags shared by every command that talks
// to NATS. Each defaults to its environment variable, which 'agentwatt local'
// writes into its env file.
type natsFlags struct {
	url, creds string
}

// addNATSFlags registers --nats and --nats-creds on fs.
func addNATSFlags(fs *pflag.FlagSet, f *natsFlags) {
	url := os.Getenv("AGENTWATT_NATS")
	if url == "" {
		url = defaultNATS
	}
	fs.StringVar(&f.url, "nats", url, "NATS server URL; several, comma-separated, for a cluster (env AGENTWATT_NATS)")
	fs.StringVar(&f.creds, "nats-creds", os.Getenv("AGENTWATT_NATS_CREDS"), "NATS credentials file (env AGENTWATT_NATS_CREDS)")
}

// connectQueue connects to the NATS servers the flags name and opens the
// queue without changing how its streams are configured (Replicas 0: bind to
// what exists). close ends the connection.
func connectQueue(ctx context.Context, a *app, f *natsFlags) (q *queue.Queue, close func(), err error) {
	return connectQueueConfig(ctx, a, f, queue.Config{})
}

// connectQueueConfig is connectQueue for servers and runners that own the
// queue's configuration (replicas, AckWait, MaxDeliver).
func connectQueueConfig(ctx context.Context, a *app, f *natsFlags, cfg queue.Config) (*queue.Queue, func(), error) {
	nc, err := queue.Connect(f.url, f.creds, a.log)
	if err != nil {
		return nil, nil, err
	}
	q, err := queue.Open(ctx, nc, cfg, a.log)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return q, nc.Close, nil
}

// openFleet opens the fleet (enrolled runner keys, runner liveness) beside
// q, on its connection and with its replicas.
func openFleet(ctx context.Context, q *queue.Queue, log zerolog.Logger) (*fleet.Fleet, error) {
	return fleet.Open(ctx, q.JetStream(), fleet.Config{Replicas: q.Config().Replicas}, log)
}

// openAccounts opens the accounts (vendors, maintainers, their tokens)
// beside q, on its connection and with its replicas.
func openAccounts(ctx context.Context, q *queue.Queue, log zerolog.Logger) (*accounts.Store, error) {
	return accounts.Open(ctx, q.JetStream(), accounts.Config{Replicas: q.Config().Replicas}, log)
}
