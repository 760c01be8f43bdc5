package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
)

// Dead-letter headers on copies in AGENTWATT_DEAD.
const (
	headerDeadReason     = "Agentwatt-Dead-Reason"
	headerDeadStream     = "Agentwatt-Dead-Stream"
	headerDeadSeq        = "Agentwatt-Dead-Seq"
	headerDeadDeliveries = "Agentwatt-Dead-Deliveries"
	headerDeadSubject    = "Agentwatt-Dead-Subject"
)

// termReason is the reason a lease passes to TermWithReason. A terminated
// message is already gone from the work queue when its advisory arrives, so
// the reason names the job and attempt for the dead-letter watcher.
func termReason(job string, attempt int, reason string) string {
	return fmt.Sprintf("agentwatt job=%s attempt=%d: %s", job, attempt, reason)
}

var termReasonRe = regexp.MustCompile(`(?s)^agentwatt job=([0-9a-f]{32}) attempt=(\d+): (.*)$`)

// advisory is the part of the MAX_DELIVERIES and MSG_TERMINATED advisories
// (nats-server JSConsumerDeliveryExceededAdvisory and
// JSConsumerDeliveryTerminatedAdvisory) that dead-lettering needs.
type advisory struct {
	Type       string `json:"type"`
	Stream     string `json:"stream"`
	Consumer   string `json:"consumer"`
	StreamSeq  uint64 `json:"stream_seq"`
	Deliveries uint64 `json:"deliveries"`
	Reason     string `json:"reason,omitempty"`
}

// DeadLetters turns dead messages into failed jobs. A message that exhausted
// MaxDeliver stays in a work-queue stream, and the server only tells with an
// advisory; a terminated message is removed and also only advised. The
// advisories are captured in AGENTWATT_ADVISORIES, so the watcher catches
// up with those sent while it was not running. For each one it copies the
// message (if still there) to AGENTWATT_DEAD, records the job as failed with
// the reason (canceled if it was canceling), and deletes the message from
// the work queue. Each step is idempotent, so an advisory handled twice does
// no harm. Run one or more per deployment (the intake server runs one).
type DeadLetters struct {
	q   *Queue
	log zerolog.Logger
}

// DeadLetters returns the dead-letter watcher; Run runs it.
func (q *Queue) DeadLetters() *DeadLetters {
	return &DeadLetters{q: q, log: q.log.With().Str("component", "deadletters").Logger()}
}

// Run watches for dead letters until ctx ends, then returns nil; it returns
// an error only when the watcher's durable consumer cannot be made.
func (d *DeadLetters) Run(ctx context.Context) error {
	cons, err := d.q.consumer(ctx, StreamAdvisories, jetstream.ConsumerConfig{
		Durable:       consumerDeadLetters,
		Description:   "agentwatt dead-letter watcher",
		AckPolicy:     jetstream.AckExplicitPolicy,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckWait:       time.Minute,
		MaxDeliver:    -1,
	}, true)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("dead-letter watcher: %w", err)
	}
	d.run(ctx, cons)
	return nil
}

func (d *DeadLetters) run(ctx context.Context, cons jetstream.Consumer) {
	bo := newBackoff(200*time.Millisecond, 10*time.Second)
	for ctx.Err() == nil {
		msg, err := fetchOne(ctx, cons, 5*time.Second)
		if errors.Is(err, ErrNoMessage) || ctx.Err() != nil {
			continue
		}
		if err != nil {
			d.log.Warn().Err(err).Msg("fetch advisory; retrying")
			_ = sleepCtx(ctx, bo.next())
			continue
		}
		if err := d.handle(ctx, msg); err != nil {
			d.log.Warn().Err(err).Str("subject", msg.Subject()).Msg("dead letter; will retry")
			_ = msg.NakWithDelay(bo.next())
			continue
		}
		bo.reset()
		if err := ackOnce(msg.DoubleAck(ctx)); err != nil && ctx.Err() == nil {
			d.log.Warn().Err(err).Msg("ack advisory")
		}
	}
}

func (d *DeadLetters) handle(ctx context.Context, msg jetstream.Msg) error {
	var adv advisory
	if err := json.Unmarshal(msg.Data(), &adv); err != nil {
		d.log.Warn().Err(err).Msg("undecodable advisory; dropping")
		return nil
	}
	terminated := strings.Contains(msg.Subject(), ".MSG_TERMINATED.")
	switch adv.Stream {
	case StreamJobs:
		return d.deadJob(ctx, adv, terminated)
	case StreamVerify:
		return d.deadVerify(ctx, adv)
	}
	return nil
}

// deadJob handles a dead message of AGENTWATT_JOBS.
func (d *DeadLetters) deadJob(ctx context.Context, adv advisory, terminated bool) error {
	q := d.q
	seq := adv.StreamSeq
	raw, err := q.jobsStream.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		raw, err = nil, nil
	}
	if err != nil {
		return fmt.Errorf("read dead message %d: %w", seq, err)
	}
	var id string
	attempt := -1 // any
	reason := fmt.Sprintf("dead letter: delivered %d times without completing (MaxDeliver %d; the runner was lost or kept releasing it)", adv.Deliveries, q.cfg.MaxDeliver)
	if terminated {
		reason = "terminated by a runner"
		if adv.Reason != "" {
			reason = "terminated: " + adv.Reason
		}
		if m := termReasonRe.FindStringSubmatch(adv.Reason); m != nil {
			id, reason = m[1], m[3]
			attempt, _ = strconv.Atoi(m[2])
		}
	}
	if raw != nil {
		if h := raw.Header.Get(headerJob); h != "" {
			id = h
		}
	}
	if id == "" {
		if id, err = q.jobBySeq(ctx, seq); err != nil {
			return err
		}
	}
	log := d.log.With().Str("job", id).Uint64("seq", seq).Bool("terminated", terminated).Logger()
	if raw != nil {
		if err := q.copyDead(ctx, StreamJobs, raw, id, reason, adv.Deliveries); err != nil {
			return err
		}
	}
	if id != "" {
		_, err := q.update(ctx, id, func(j *Job) error {
			if (j.Seq != 0 && j.Seq != seq) || (attempt >= 0 && j.Attempt != attempt) {
				return errNoChange // about a stale duplicate or an older attempt
			}
			now := q.now().UTC()
			switch j.State {
			case Queued, Running:
				return j.apply(Failed, "dead-letter", reason, now)
			case Canceling:
				return j.apply(Canceled, "dead-letter", "canceled; its runner is gone ("+reason+")", now)
			}
			return errNoChange
		})
		if err != nil && !errors.Is(err, ErrJobNotFound) {
			return err
		}
	} else {
		log.Warn().Msg("dead message names no job")
	}
	if raw != nil {
		if err := q.jobsStream.DeleteMsg(ctx, seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			return fmt.Errorf("delete dead message %d: %w", seq, err)
		}
	}
	log.Info().Str("reason", reason).Msg("dead letter handled")
	return nil
}

// deadVerify handles a verify request that exhausted MaxDeliver: it moves to
// AGENTWATT_DEAD and the job gets an event; its state is the verifier's or a
// maintainer's to decide.
func (d *DeadLetters) deadVerify(ctx context.Context, adv advisory) error {
	q := d.q
	raw, err := q.verifyStream.GetMsg(ctx, adv.StreamSeq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read dead verify request %d: %w", adv.StreamSeq, err)
	}
	id := raw.Header.Get(headerJob)
	reason := fmt.Sprintf("verify request dead-lettered after %d deliveries", adv.Deliveries)
	if err := q.copyDead(ctx, StreamVerify, raw, id, reason, adv.Deliveries); err != nil {
		return err
	}
	if checkJobID(id) == nil {
		if err := q.PublishEvent(ctx, id, Event{Kind: EventLog, By: "dead-letter", Message: reason}); err != nil {
			return err
		}
	}
	if err := q.verifyStream.DeleteMsg(ctx, adv.StreamSeq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		return fmt.Errorf("delete dead verify request %d: %w", adv.StreamSeq, err)
	}
	d.log.Warn().Str("job", id).Msg(reason)
	return nil
}

// copyDead keeps a copy of a dead message in AGENTWATT_DEAD, under
// agentwatt.dead.jobs.<pool> or agentwatt.dead.verify. The copy's msg id
// makes a repeated copy a no-op inside the dedup window.
func (q *Queue) copyDead(ctx context.Context, stream string, raw *jetstream.RawStreamMsg, job, reason string, deliveries uint64) error {
	subj := SubjectDeadPrefix + strings.TrimPrefix(raw.Subject, "agentwatt.")
	m := &nats.Msg{Subject: subj, Data: raw.Data, Header: nats.Header{}}
	if job != "" {
		m.Header.Set(headerJob, job)
	}
	m.Header.Set(headerDeadReason, reason)
	m.Header.Set(headerDeadStream, stream)
	m.Header.Set(headerDeadSubject, raw.Subject)
	m.Header.Set(headerDeadSeq, strconv.FormatUint(raw.Sequence, 10))
	m.Header.Set(headerDeadDeliveries, strconv.FormatUint(deliveries, 10))
	id := stream + "/" + strconv.FormatUint(raw.Sequence, 10)
	if _, err := q.js.PublishMsg(ctx, m, jetstream.WithMsgID(id)); err != nil {
		return fmt.Errorf("copy dead message %s: %w", id, err)
	}
	return nil
}

// jobBySeq finds the job whose message has sequence seq, for a message
// terminated outside a lease (its advisory names only the sequence). It reads
// every record; this path is rare.
func (q *Queue) jobBySeq(ctx context.Context, seq uint64) (string, error) {
	jobs, err := q.List(ctx, Filter{})
	if err != nil {
		return "", err
	}
	for _, j := range jobs {
		if j.Seq == seq {
			return j.ID, nil
		}
	}
	return "", nil
}
