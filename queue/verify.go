package queue

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// VerifyRequest asks a verifier to check one uploaded attempt.
type VerifyRequest struct {
	Job     string `json:"job"`
	Attempt int    `json:"attempt"`
	// Bundle is the object-storage prefix of the attempt's bundle; empty
	// means BundlePrefix(Job, Attempt).
	Bundle      string    `json:"bundle,omitempty"`
	RequestedAt time.Time `json:"requested_at"`
}

// BundlePrefix is where an attempt's bundle lives in object storage
// (DESIGN.md "Bundle"): runs/<job>/<attempt>/.
func BundlePrefix(job string, attempt int) string {
	return "runs/" + job + "/" + strconv.Itoa(attempt) + "/"
}

// RequestVerify queues a verify request. The stream drops a repeat for the
// same job and attempt inside the dedup window.
func (q *Queue) RequestVerify(ctx context.Context, req VerifyRequest) error {
	if err := checkJobID(req.Job); err != nil {
		return err
	}
	if req.Attempt < 1 {
		return invalidf("verify request for job %s: attempt %d", req.Job, req.Attempt)
	}
	if req.Bundle == "" {
		req.Bundle = BundlePrefix(req.Job, req.Attempt)
	}
	if req.RequestedAt.IsZero() {
		req.RequestedAt = q.now().UTC()
	}
	data, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("encode verify request: %w", err)
	}
	msg := &nats.Msg{Subject: SubjectVerify, Data: data, Header: nats.Header{}}
	msg.Header.Set(headerJob, req.Job)
	pctx, cancel := q.requestCtx(ctx)
	defer cancel()
	if _, err := q.js.PublishMsg(pctx, msg, jetstream.WithMsgID(req.Job+"/"+strconv.Itoa(req.Attempt))); err != nil {
		return fmt.Errorf("publish verify request for job %s: %w", req.Job, err)
	}
	return nil
}

// NextVerify waits up to wait for a verify request and returns it with a
// heartbeat running; ErrNoMessage when none came. Verifiers share the
// durable consumer "verifier". The verifier fences the attempt itself:
// Transition(job, req.Attempt, verifying, …) fails with ErrStaleAttempt for
// a superseded attempt.
func (q *Queue) NextVerify(ctx context.Context, wait time.Duration) (*VerifyLease, error) {
	cons, err := q.verifyConsumer(ctx)
	if err != nil {
		return nil, err
	}
	msg, err := fetchOne(ctx, cons, wait)
	if err != nil {
		return nil, err
	}
	var req VerifyRequest
	if err := json.Unmarshal(msg.Data(), &req); err != nil || checkJobID(req.Job) != nil || req.Attempt < 1 {
		q.log.Warn().Err(err).Msg("undecodable verify request; terminating it")
		_ = msg.TermWithReason("undecodable verify request")
		return nil, ErrNoMessage
	}
	if req.Bundle == "" {
		req.Bundle = BundlePrefix(req.Job, req.Attempt)
	}
	l := q.log.With().Str("job", req.Job).Int("attempt", req.Attempt).Logger()
	return &VerifyLease{req: req, msg: msg, hb: startHeartbeat(msg, q.cfg.HeartbeatEvery, l, nil)}, nil
}

// VerifyLease is a verifier's hold on one verify request; it heartbeats until
// Ack, Nak or Term.
type VerifyLease struct {
	req  VerifyRequest
	msg  jetstream.Msg
	hb   *heartbeat
	once sync.Once
}

// Request is the verify request.
func (v *VerifyLease) Request() VerifyRequest { return v.req }

// Ack removes the request: the verdict is recorded.
func (v *VerifyLease) Ack(ctx context.Context) error {
	v.stop()
	return ackOnce(v.msg.DoubleAck(ctx))
}

// Nak hands the request back for another try after delay.
func (v *VerifyLease) Nak(delay time.Duration) error {
	v.stop()
	if delay > 0 {
		return v.msg.NakWithDelay(delay)
	}
	return v.msg.Nak()
}

// Term drops the request for good.
func (v *VerifyLease) Term(reason string) error {
	v.stop()
	return ackOnce(v.msg.TermWithReason(reason))
}

func (v *VerifyLease) stop() { v.once.Do(v.hb.Stop) }
