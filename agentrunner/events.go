package agentrunner

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/agentrunner/replay"
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

// ProgressData is the Data of a progress event: the runner writes it, and
// `agentwatt demo` and `status -f` read it back. Fields are only ever added,
// so old readers keep working; Tier and PassShare are the first searched
// tier, as before Tiers carried them all.
type ProgressData struct {
	Phase      string  `json:"phase"`
	Agents     int     `json:"agents,omitempty"`
	InFlight   int     `json:"in_flight,omitempty"`
	Requests   int64   `json:"requests,omitempty"`
	Tier       string  `json:"tier,omitempty"`
	PassShare  float64 `json:"pass_share,omitempty"`
	Search     string  `json:"search,omitempty"`
	ProbesDone int     `json:"probes_done,omitempty"`
	ETAS       float64 `json:"eta_s,omitempty"`

	// The load's snapshot beyond the first tier (replay.Progress).
	Probe          int        `json:"probe,omitempty"`
	LoadPhase      string     `json:"load_phase,omitempty"` // calibrate, settle, warmup, window, drain
	WindowElapsedS float64    `json:"window_elapsed_s,omitempty"`
	WindowMinS     float64    `json:"window_min_s,omitempty"`
	MinRequests    int64      `json:"min_requests,omitempty"`
	ElapsedS       float64    `json:"elapsed_s,omitempty"`
	ETAReason      string     `json:"eta_reason,omitempty"`
	Tiers          []TierData `json:"tiers,omitempty"`
}

// TierData is one searched tier in a progress event: its state and
// bracket Lo ≤ N_max < Hi (Hi 0: no N failed yet), its result once done,
// and the share of the open window's requests meeting it.
type TierData struct {
	Tier      string  `json:"tier"`
	State     string  `json:"state"` // waiting, searching, confirming, judging, done
	Lo        int     `json:"lo"`
	Hi        int     `json:"hi"`
	MaxAgents int     `json:"max_agents,omitempty"`
	Confirmed bool    `json:"confirmed,omitempty"`
	PassShare float64 `json:"pass_share"`
}

// newProgressData is the event data of the load's snapshot p.
func newProgressData(p replay.Progress) ProgressData {
	d := ProgressData{
		Phase: PhaseSearch, Agents: p.Agents, InFlight: p.InFlight, Requests: p.Requests, Tier: p.Tier,
		PassShare: p.PassShare, Search: p.Search, ProbesDone: p.ProbesDone, ETAS: p.ETA.Seconds(),
		Probe: p.Probe, LoadPhase: p.Phase, WindowElapsedS: p.WindowElapsed.Seconds(), WindowMinS: p.WindowMin.Seconds(),
		MinRequests: p.MinRequests, ElapsedS: p.Elapsed.Seconds(), ETAReason: p.ETAReason,
	}
	for _, t := range p.Tiers {
		d.Tiers = append(d.Tiers, TierData{Tier: t.Tier, State: t.State, Lo: t.Lo, Hi: t.Hi,
			MaxAgents: t.MaxAgents, Confirmed: t.Confirmed, PassShare: t.PassShare})
	}
	return d
}

// Progress is the load's snapshot back from the event data. The data comes
// from a runner: a reader escapes its text before showing it.
func (d ProgressData) Progress() replay.Progress {
	secs := func(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
	p := replay.Progress{
		Probe: d.Probe, Phase: d.LoadPhase, Agents: d.Agents, InFlight: d.InFlight, Requests: d.Requests,
		Tier: d.Tier, PassShare: d.PassShare, WindowElapsed: secs(d.WindowElapsedS), WindowMin: secs(d.WindowMinS),
		MinRequests: d.MinRequests, Search: d.Search, ProbesDone: d.ProbesDone, Elapsed: secs(d.ElapsedS),
		ETA: secs(d.ETAS), ETAReason: d.ETAReason,
	}
	for _, t := range d.Tiers {
		p.Tiers = append(p.Tiers, replay.TierProgress{Tier: t.Tier, State: t.State, Lo: t.Lo, Hi: t.Hi,
			MaxAgents: t.MaxAgents, Confirmed: t.Confirmed, PassShare: t.PassShare})
	}
	return p
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
