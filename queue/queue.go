package queue

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/internal/kvbucket"
)

// Stream, subject and bucket names. They are part of the contract: operators
// see them in `nats stream ls` and other tools may read them.
const (
	StreamJobs       = "AGENTWATT_JOBS"
	StreamVerify     = "AGENTWATT_VERIFY"
	StreamEvents     = "AGENTWATT_EVENTS"
	StreamDead       = "AGENTWATT_DEAD"
	StreamAdvisories = "AGENTWATT_ADVISORIES"

	SubjectJobsPrefix   = "agentwatt.jobs."   // + pool
	SubjectVerify       = "agentwatt.verify"  //
	SubjectEventsPrefix = "agentwatt.events." // + job id
	SubjectDeadPrefix   = "agentwatt.dead."   // + "jobs.<pool>" or "verify"

	BucketJobs   = "agentwatt-jobs"
	BucketLeases = "agentwatt-leases" // one key per running attempt, TTL AckWait

	// ConsumerVerifier is the durable consumer of AGENTWATT_VERIFY.
	ConsumerVerifier = "verifier"
	// consumerDeadLetters is the durable consumer of AGENTWATT_ADVISORIES.
	consumerDeadLetters = "deadletters"
)

// advisorySubjects are the advisories DeadLetters handles, captured in
// AGENTWATT_ADVISORIES so that none is lost while no watcher runs.
var advisorySubjects = []string{
	"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + StreamJobs + ".*",
	"$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED." + StreamJobs + ".*",
	"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + StreamVerify + ".*",
}

// Config tunes the queue. The zero value gives the defaults.
type Config struct {
	// Replicas of every stream and bucket: 1 (embedded, single server) or 3
	// (cluster). 0 binds to what exists and creates missing ones with 1; the
	// CLI uses 0 so that it never rewrites a cluster's configuration.
	Replicas int
	// AckWait is how long a delivered job may go without a heartbeat before
	// the server redelivers it (default 5m).
	AckWait time.Duration
	// MaxDeliver is how many deliveries a job message gets before it is
	// dead-lettered (default 3).
	MaxDeliver int
	// HeartbeatEvery is how often a lease calls InProgress (default AckWait/3).
	HeartbeatEvery time.Duration
	// Duplicates is the stream's publish dedup window (default 10m). The job
	// record gives permanent idempotency; this window covers retried publishes.
	Duplicates time.Duration
	// SweepEvery is how often the lease sweeper looks for running jobs whose
	// lease expired (default HeartbeatEvery).
	SweepEvery time.Duration
	// EventsMaxAge is how long job events are kept (default 90 days).
	EventsMaxAge time.Duration
	// Actor is recorded as "by" on transitions that name nobody else
	// (default "agentwatt").
	Actor string
	// RequestTimeout bounds each request that ends a lease or changes a job
	// record (default 10s). A request sent as a stream's leader fails, or
	// an ack a newly elected leader drops while it catches up, gets no
	// reply at all; without the bound the caller would wait out its whole
	// context instead of retrying.
	RequestTimeout time.Duration
}

// withDefaults fills the zero fields with their defaults.
func (c Config) withDefaults() Config {
	if c.AckWait <= 0 {
		c.AckWait = 5 * time.Minute
	}
	if c.MaxDeliver == 0 {
		c.MaxDeliver = 3
	}
	if c.HeartbeatEvery <= 0 {
		c.HeartbeatEvery = c.AckWait / 3
	}
	if c.SweepEvery <= 0 {
		c.SweepEvery = c.HeartbeatEvery
	}
	if c.Duplicates <= 0 {
		c.Duplicates = 10 * time.Minute
	}
	if c.EventsMaxAge <= 0 {
		c.EventsMaxAge = 90 * 24 * time.Hour
	}
	if c.Actor == "" {
		c.Actor = "agentwatt"
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 10 * time.Second
	}
	return c
}

// Validate checks a config as the caller set it (a zero field means its
// default); each error names the field. It changes nothing.
func (c Config) Validate() error {
	var errs []error
	if err := kvbucket.CheckReplicas(c.Replicas); err != nil {
		errs = append(errs, invalidf("Replicas %v", err))
	}
	if c.MaxDeliver < 0 {
		errs = append(errs, invalidf("MaxDeliver %d: want at least 1 (0: the default)", c.MaxDeliver))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"AckWait", c.AckWait}, {"HeartbeatEvery", c.HeartbeatEvery}, {"Duplicates", c.Duplicates},
		{"SweepEvery", c.SweepEvery}, {"EventsMaxAge", c.EventsMaxAge}, {"RequestTimeout", c.RequestTimeout},
	} {
		if d.v < 0 {
			errs = append(errs, invalidf("%s %s: want a positive duration (0: the default)", d.name, d.v))
		}
	}
	if d := c.withDefaults(); d.HeartbeatEvery >= d.AckWait {
		errs = append(errs, invalidf("HeartbeatEvery %s: want less than AckWait %s", d.HeartbeatEvery, d.AckWait))
	}
	return errors.Join(errs...)
}

// Queue is agentwatt's job queue on one NATS connection. It is safe for
// concurrent use.
type Queue struct {
	nc  *nats.Conn
	js  jetstream.JetStream
	cfg Config
	log zerolog.Logger
	now func() time.Time

	jobsStream, verifyStream, deadStream jetstream.Stream
	jobs, leases                         jetstream.KeyValue

	mu        sync.Mutex
	consumers map[string]cachedConsumer // by stream/durable
}

// Open binds to (creating where missing) the streams and buckets of the queue
// on nc. It is idempotent: every process that uses the queue calls it.
// Per-pool consumers are created later, when a worker or an enqueue first
// needs them. The caller owns nc.
func Open(ctx context.Context, nc *nats.Conn, cfg Config, log zerolog.Logger) (*Queue, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	q := &Queue{
		nc: nc, js: js, cfg: cfg, now: time.Now,
		log:       log.With().Str("component", "queue").Logger(),
		consumers: map[string]cachedConsumer{},
	}
	if err := q.ensureAll(ctx); err != nil {
		return nil, err
	}
	return q, nil
}

// Config returns the configuration in effect (defaults applied).
func (q *Queue) Config() Config { return q.cfg }

// JetStream exposes the JetStream context, for tools and tests that inspect
// the streams.
func (q *Queue) JetStream() jetstream.JetStream { return q.js }

func (q *Queue) ensureAll(ctx context.Context) error {
	var err error
	if q.jobsStream, err = q.ensureStream(ctx, jetstream.StreamConfig{
		Name:        StreamJobs,
		Description: "agentwatt job dispatch: one message per queued job, one durable consumer per pool",
		Subjects:    []string{SubjectJobsPrefix + "*"},
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     jetstream.FileStorage,
		Duplicates:  q.cfg.Duplicates,
	}); err != nil {
		return err
	}
	if q.verifyStream, err = q.ensureStream(ctx, jetstream.StreamConfig{
		Name:        StreamVerify,
		Description: "agentwatt verify requests, one per uploaded attempt",
		Subjects:    []string{SubjectVerify},
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     jetstream.FileStorage,
		Duplicates:  q.cfg.Duplicates,
	}); err != nil {
		return err
	}
	if _, err = q.ensureStream(ctx, jetstream.StreamConfig{
		Name:        StreamEvents,
		Description: "agentwatt job events: state changes, progress, probes, log lines",
		Subjects:    []string{SubjectEventsPrefix + "*"},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		MaxAge:      q.cfg.EventsMaxAge,
		Discard:     jetstream.DiscardOld,
	}); err != nil {
		return err
	}
	if q.deadStream, err = q.ensureStream(ctx, jetstream.StreamConfig{
		Name:        StreamDead,
		Description: "agentwatt dead letters: copies of messages that exhausted MaxDeliver or were terminated",
		Subjects:    []string{SubjectDeadPrefix + ">"},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
	}); err != nil {
		return err
	}
	if _, err = q.ensureStream(ctx, jetstream.StreamConfig{
		Name:        StreamAdvisories,
		Description: "captured MAX_DELIVERIES and MSG_TERMINATED advisories, consumed by the dead-letter watcher",
		Subjects:    advisorySubjects,
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     jetstream.FileStorage,
		MaxAge:      30 * 24 * time.Hour,
	}); err != nil {
		return err
	}
	if q.jobs, err = q.ensureBucket(ctx, jetstream.KeyValueConfig{
		Bucket:      BucketJobs,
		Description: "agentwatt job records: state, attempt, history",
		History:     5,
		Storage:     jetstream.FileStorage,
	}); err != nil {
		return err
	}
	if q.leases, err = q.ensureBucket(ctx, jetstream.KeyValueConfig{
		Bucket:      BucketLeases,
		Description: "agentwatt job leases: refreshed by the runner's heartbeat, expire after AckWait without one",
		TTL:         q.cfg.AckWait,
		Storage:     jetstream.FileStorage,
	}); err != nil {
		return err
	}
	return nil
}

// ensureStream creates a missing stream; an existing one is updated to cfg
// only when Replicas is set (servers), and left alone otherwise (CLI).
func (q *Queue) ensureStream(ctx context.Context, sc jetstream.StreamConfig) (jetstream.Stream, error) {
	sc.Replicas = max(q.cfg.Replicas, 1)
	s, err := q.js.Stream(ctx, sc.Name)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		s, err = q.js.CreateStream(ctx, sc)
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			s, err = q.js.Stream(ctx, sc.Name) // created meanwhile by another process
		}
	case err == nil && q.cfg.Replicas != 0:
		s, err = q.js.UpdateStream(ctx, sc)
	}
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", sc.Name, err)
	}
	return s, nil
}

// ensureBucket is ensureStream for a KV bucket.
func (q *Queue) ensureBucket(ctx context.Context, kc jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	return kvbucket.Ensure(ctx, q.js, kc, q.cfg.Replicas)
}

// poolConsumerName is the durable consumer of a pool.
func poolConsumerName(pool string) string { return PoolConsumerPrefix + pool }

// poolConsumer returns the pool's durable consumer, creating it the first
// time. update makes this process's AckWait and MaxDeliver authoritative
// (workers); without it an existing consumer is used as it is (enqueue).
func (q *Queue) poolConsumer(ctx context.Context, pool string, update bool) (jetstream.Consumer, error) {
	if !ValidPool(pool) {
		return nil, invalidf("pool %q", pool)
	}
	return q.consumer(ctx, StreamJobs, jetstream.ConsumerConfig{
		Durable:       poolConsumerName(pool),
		Description:   "agentwatt runners of pool " + pool,
		FilterSubject: SubjectJobsPrefix + pool,
		AckPolicy:     jetstream.AckExplicitPolicy,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckWait:       q.cfg.AckWait,
		MaxDeliver:    q.cfg.MaxDeliver,
	}, update)
}

func (q *Queue) verifyConsumer(ctx context.Context) (jetstream.Consumer, error) {
	return q.consumer(ctx, StreamVerify, jetstream.ConsumerConfig{
		Durable:       ConsumerVerifier,
		Description:   "agentwatt verifiers",
		AckPolicy:     jetstream.AckExplicitPolicy,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckWait:       q.cfg.AckWait,
		MaxDeliver:    q.cfg.MaxDeliver,
	}, true)
}

func (q *Queue) consumer(ctx context.Context, stream string, cc jetstream.ConsumerConfig, update bool) (jetstream.Consumer, error) {
	key := stream + "/" + cc.Durable
	q.mu.Lock()
	cached, ok := q.consumers[key]
	q.mu.Unlock()
	if ok && (cached.updated || !update) {
		return cached.c, nil
	}
	var c jetstream.Consumer
	var err error
	if update {
		c, err = q.js.CreateOrUpdateConsumer(ctx, stream, cc)
	} else if c, err = q.js.Consumer(ctx, stream, cc.Durable); errors.Is(err, jetstream.ErrConsumerNotFound) {
		c, err = q.js.CreateOrUpdateConsumer(ctx, stream, cc)
	}
	if err != nil {
		return nil, fmt.Errorf("consumer %s on %s: %w", cc.Durable, stream, err)
	}
	q.mu.Lock()
	q.consumers[key] = cachedConsumer{c: c, updated: update}
	q.mu.Unlock()
	return c, nil
}

type cachedConsumer struct {
	c       jetstream.Consumer
	updated bool // this process's config was written to it
}
