package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// EventKind says what an event reports.
type EventKind string

// Event kinds. The queue itself publishes EventState on every transition;
// runners and verifiers publish the others.
const (
	EventState    EventKind = "state"    // a transition (From → State)
	EventProgress EventKind = "progress" // phase changes, percentages
	EventProbe    EventKind = "probe"    // one capacity-search probe's result
	EventLog      EventKind = "log"      // a line of a job's own log
)

// Event is one entry of a job's events stream (agentwatt.events.<job>).
type Event struct {
	Time    time.Time       `json:"time"`
	Job     string          `json:"job"`
	Kind    EventKind       `json:"kind"`
	State   State           `json:"state,omitempty"`
	From    State           `json:"from,omitempty"`
	Attempt int             `json:"attempt,omitempty"`
	By      string          `json:"by,omitempty"`
	Message string          `json:"message,omitempty"`
	Data    json.RawMessage `json:"data,omitempty"`
	// Seq is the event's stream sequence, set when read.
	Seq uint64 `json:"-"`
}

// PublishEvent appends ev to the job's events stream. Time defaults to now;
// Job is set to jobID.
func (q *Queue) PublishEvent(ctx context.Context, jobID string, ev Event) error {
	if err := checkJobID(jobID); err != nil {
		return err
	}
	if ev.Kind == "" {
		return invalidf("event kind is empty")
	}
	ev.Job = jobID
	if ev.Time.IsZero() {
		ev.Time = q.now().UTC()
	}
	data, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	if _, err := q.js.Publish(ctx, SubjectEventsPrefix+jobID, data); err != nil {
		return fmt.Errorf("publish event for job %s: %w", jobID, err)
	}
	return nil
}

// FollowEvents calls fn with every event of the job, from the first one kept
// and then as they arrive. It returns nil when fn returns ErrStop, fn's error
// when it returns another, and ctx.Err() when ctx ends.
func (q *Queue) FollowEvents(ctx context.Context, jobID string, fn func(Event) error) error {
	if err := checkJobID(jobID); err != nil {
		return err
	}
	cons, err := q.js.OrderedConsumer(ctx, StreamEvents, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{SubjectEventsPrefix + jobID},
		DeliverPolicy:  jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return fmt.Errorf("follow events of job %s: %w", jobID, err)
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("follow events of job %s: %w", jobID, err)
	}
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		select {
		case <-ctx.Done():
		case <-done:
		}
		it.Stop()
	}()
	defer func() { close(done); <-stopped }()
	for {
		m, err := it.Next()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("follow events of job %s: %w", jobID, err)
		}
		var ev Event
		if err := json.Unmarshal(m.Data(), &ev); err != nil {
			q.log.Warn().Err(err).Str("job", jobID).Msg("skip undecodable event")
			continue
		}
		if md, err := m.Metadata(); err == nil {
			ev.Seq = md.Sequence.Stream
		}
		if err := fn(ev); errors.Is(err, ErrStop) {
			return nil
		} else if err != nil {
			return err
		}
	}
}
