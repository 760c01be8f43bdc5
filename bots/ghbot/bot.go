package ghbot

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/agentwatt/agentwatt/internal/kvbucket"
	"github.com/agentwatt/agentwatt/queue"
)

// The bot's streams, buckets and consumers. Operators see these names.
const (
	// StreamDeliveries holds verified webhook deliveries until the bot has
	// handled them, so a delivery accepted with 202 survives a restart.
	StreamDeliveries  = "AGENTWATT_GITHUB"
	SubjectDeliveries = "agentwatt.github.deliveries"
	// BucketDeliveries remembers delivery ids (TTL Config.DeliveryTTL).
	BucketDeliveries = "agentwatt-github-deliveries"
	// BucketPRs keeps one record per pull request: its head, trust, hold,
	// pending approval, jobs and the bot's comment.
	BucketPRs = "agentwatt-github-prs"
	// ConsumerDeliveries handles deliveries one at a time, in order.
	ConsumerDeliveries = "github-bot"
	// ConsumerEvents follows job events to report progress.
	ConsumerEvents = "github-bot-events"
)

// handleMaxDeliver is how many times a delivery is tried before it is
// dropped (with a log line); GitHub API outages are retried after the
// delays of handleBackoff (a consumer BackOff would also shorten the
// AckWait of a delivery still being handled).
const handleMaxDeliver = 6

var handleBackoff = []time.Duration{2 * time.Second, 10 * time.Second, 30 * time.Second, 2 * time.Minute, 5 * time.Minute}

var repoRe = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$`)

// Bot is the GitHub App: the webhook handler (Handler) and the workers
// that act on deliveries and report job progress (Run).
type Bot struct {
	cfg        Config
	log        zerolog.Logger
	q          *queue.Queue
	js         jetstream.JetStream
	apps       *apps
	deliveries jetstream.KeyValue
	prs        jetstream.KeyValue
	reported   jetstream.KeyValue
	stream     jetstream.Stream

	mu       sync.Mutex
	progress map[string]time.Time // job → last progress update
	// commentMu serializes status-comment writes, so that a pull request
	// never gets two.
	commentMu sync.Mutex
}

// New opens the bot's streams and buckets on cfg.Queue's connection.
func New(ctx context.Context, cfg Config, log zerolog.Logger) (*Bot, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	a, err := newApps(cfg.Transport, cfg.AppID, cfg.PrivateKey, cfg.APIURL)
	if err != nil {
		return nil, err
	}
	b := &Bot{cfg: cfg, log: log.With().Str("service", "github-bot").Logger(), q: cfg.Queue, js: cfg.Queue.JetStream(), apps: a,
		progress: map[string]time.Time{}}
	replicas := cfg.Queue.Config().Replicas
	if b.deliveries, err = kvbucket.Ensure(ctx, b.js, jetstream.KeyValueConfig{
		Bucket: BucketDeliveries, Description: "agentwatt GitHub webhook delivery ids, remembered to refuse replays",
		TTL: cfg.DeliveryTTL, Storage: jetstream.FileStorage,
	}, replicas); err != nil {
		return nil, err
	}
	if b.prs, err = kvbucket.Ensure(ctx, b.js, jetstream.KeyValueConfig{
		Bucket: BucketPRs, Description: "agentwatt pull requests: head, trust, hold, jobs, the bot's comment",
		History: 5, Storage: jetstream.FileStorage,
	}, replicas); err != nil {
		return nil, err
	}
	if b.reported, err = kvbucket.Ensure(ctx, b.js, jetstream.KeyValueConfig{
		Bucket: BucketRegressions, Description: "agentwatt regressions the GitHub bot has reported, by regressions.json id",
		Storage: jetstream.FileStorage,
	}, replicas); err != nil {
		return nil, err
	}
	sc := jetstream.StreamConfig{
		Name: StreamDeliveries, Description: "agentwatt GitHub webhook deliveries, verified, waiting to be handled",
		Subjects: []string{SubjectDeliveries}, Retention: jetstream.WorkQueuePolicy, Storage: jetstream.FileStorage,
		MaxAge: cfg.DeliveryTTL, MaxMsgSize: int32(min(cfg.MaxBody+4096, 64<<20)), Replicas: max(replicas, 1),
	}
	if b.stream, err = ensureStream(ctx, b.js, sc, replicas); err != nil {
		return nil, err
	}
	return b, nil
}

// ensureStream creates a missing stream; an existing one is updated only
// when replicas is set (as the queue does its own).
func ensureStream(ctx context.Context, js jetstream.JetStream, sc jetstream.StreamConfig, replicas int) (jetstream.Stream, error) {
	s, err := js.Stream(ctx, sc.Name)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		s, err = js.CreateStream(ctx, sc)
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			s, err = js.Stream(ctx, sc.Name)
		}
	case err == nil && replicas != 0:
		s, err = js.UpdateStream(ctx, sc)
	}
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", sc.Name, err)
	}
	return s, nil
}

// Run handles accepted deliveries and follows job events until ctx ends.
func (b *Bot) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return b.runDeliveries(ctx) })
	g.Go(func() error { return b.runEvents(ctx) })
	g.Go(func() error { return b.runRegressions(ctx) })
	err := g.Wait()
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// runDeliveries handles the accepted deliveries one at a time, oldest
// first, so that a pull request's push and the comment after it are seen
// in that order.
func (b *Bot) runDeliveries(ctx context.Context) error {
	cons, err := b.stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable: ConsumerDeliveries, Description: "agentwatt GitHub bot: handles deliveries in order",
		AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: 1, AckWait: 5 * time.Minute,
		MaxDeliver: handleMaxDeliver,
	})
	if err != nil {
		return fmt.Errorf("consumer %s: %w", ConsumerDeliveries, err)
	}
	return consume(ctx, cons, func(m jetstream.Msg) {
		d := delivery{Event: m.Headers().Get(headerEvent), ID: m.Headers().Get(headerDelivery), Body: m.Data()}
		if at, err := time.Parse(time.RFC3339Nano, m.Headers().Get(headerReceived)); err == nil {
			d.Received = at
		}
		log := b.log.With().Str("delivery", d.ID).Str("event", d.Event).Logger()
		err := b.handle(ctx, d, log)
		switch {
		case err == nil:
			_ = m.Ack()
		case ctx.Err() != nil:
			_ = m.Nak()
		default:
			md, _ := m.Metadata()
			if md != nil && md.NumDelivered >= handleMaxDeliver {
				log.Error().Err(err).Msg("delivery dropped after its last try")
				_ = m.Term()
				return
			}
			delay := handleBackoff[0]
			if md != nil {
				delay = handleBackoff[min(int(md.NumDelivered)-1, len(handleBackoff)-1)]
			}
			log.Warn().Err(err).Dur("retry_in", delay).Msg("delivery failed; it will be tried again")
			_ = m.NakWithDelay(delay)
		}
	})
}

// runEvents follows every job's events from now on (a durable consumer:
// a restarted bot resumes where it stopped) and reports those of
// pull-request jobs.
func (b *Bot) runEvents(ctx context.Context) error {
	s, err := b.js.Stream(ctx, queue.StreamEvents)
	if err != nil {
		return fmt.Errorf("stream %s: %w", queue.StreamEvents, err)
	}
	cons, err := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable: ConsumerEvents, Description: "agentwatt GitHub bot: job progress for check runs",
		FilterSubject: queue.SubjectEventsPrefix + "*", DeliverPolicy: jetstream.DeliverNewPolicy,
		AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: 1, AckWait: 2 * time.Minute, MaxDeliver: 5,
	})
	if err != nil {
		return fmt.Errorf("consumer %s: %w", ConsumerEvents, err)
	}
	return consume(ctx, cons, func(m jetstream.Msg) {
		if err := b.onEvent(ctx, m.Data()); err != nil && ctx.Err() == nil {
			b.log.Warn().Err(err).Str("subject", m.Subject()).Msg("report job event; it will be tried again")
			_ = m.NakWithDelay(5 * time.Second)
			return
		}
		_ = m.Ack()
	})
}

// consume calls fn for each message of cons until ctx ends.
func consume(ctx context.Context, cons jetstream.Consumer, fn func(jetstream.Msg)) error {
	it, err := cons.Messages(jetstream.PullMaxMessages(1))
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	for {
		m, err := it.Next()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		fn(m)
	}
}

// prKey is a pull request's key in BucketPRs.
func prKey(repoID int64, number int) string { return fmt.Sprintf("%d.%d", repoID, number) }

// sameRepo compares repository names as GitHub does, without case.
func sameRepo(a, b string) bool { return strings.EqualFold(a, b) }
