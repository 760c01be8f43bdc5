package agentrunner

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/queue"
)

// eventPublisher sends a job's events in order from its own goroutine, so
// that neither a phase nor the load generator waits on NATS. When NATS is
// slow the oldest undelivered events are dropped (and counted), never the
// job.
type eventPublisher struct {
	lease   *queue.Lease
	log     zerolog.Logger
	ch      chan queue.Event
	done    chan struct{}
	once    sync.Once
	mu      sync.Mutex
	dropped int
	drainBy atomic.Int64 // unix ns after which close drops what is left
}

func newEventPublisher(lease *queue.Lease, log zerolog.Logger) *eventPublisher {
	p := &eventPublisher{lease: lease, log: log, ch: make(chan queue.Event, 512), done: make(chan struct{})}
	go p.loop()
	return p
}

func (p *eventPublisher) loop() {
	defer close(p.done)
	for ev := range p.ch {
		if d := p.drainBy.Load(); d != 0 && time.Now().UnixNano() > d {
			continue // closing and out of time: NATS is unreachable
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := p.lease.Event(ctx, ev); err != nil {
			p.log.Debug().Err(err).Str("kind", string(ev.Kind)).Msg("publish job event")
		}
		cancel()
	}
}

// publish queues an event; data is marshalled to JSON.
func (p *eventPublisher) publish(kind queue.EventKind, msg string, data any) {
	ev := queue.Event{Time: time.Now().UTC(), Kind: kind, Message: msg}
	if data != nil {
		if b, err := json.Marshal(data); err == nil {
			ev.Data = b
		}
	}
	select {
	case p.ch <- ev:
	default:
		p.mu.Lock()
		p.dropped++
		p.mu.Unlock()
	}
}

// close delivers what is queued, for at most 10 s more, and stops.
func (p *eventPublisher) close() {
	p.once.Do(func() {
		p.drainBy.Store(time.Now().Add(10 * time.Second).UnixNano())
		close(p.ch)
	})
	<-p.done
}

// progressData is the Data of a progress event.
type progressData struct {
	Phase      string  `json:"phase"`
	Agents     int     `json:"agents,omitempty"`
	InFlight   int     `json:"in_flight,omitempty"`
	Requests   int64   `json:"requests,omitempty"`
	Tier       string  `json:"tier,omitempty"`
	PassShare  float64 `json:"pass_share,omitempty"`
	Search     string  `json:"search,omitempty"`
	ProbesDone int     `json:"probes_done,omitempty"`
	ETAS       float64 `json:"eta_s,omitempty"`
}

// probeData is the Data of a probe event.
type probeData struct {
	Probe    int             `json:"probe"`
	Agents   int             `json:"agents"`
	Purpose  string          `json:"purpose"`
	Requests int             `json:"requests"`
	Errors   int             `json:"errors"`
	Valid    bool            `json:"valid"`
	Passed   map[string]bool `json:"passed"`
}
