package replay

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agentwatt/agentwatt/agentrunner/loadgen"
	"github.com/agentwatt/agentwatt/metrics"
	"github.com/agentwatt/agentwatt/workload"
)

// agent is one root agent session: a closed loop over trajectories. It sends
// turn k, streams the answer, waits the recorded think time (capped by the
// profile), sends turn k+1 with the history, and at the end of a trajectory
// starts the next one in the run's seeded order, in a new salted session.
// Its first request starts at a seeded turn of a seeded trajectory and
// carries the history so far (a warm start). Sub-agents run beside it as
// extra streams, each in its own session.
type agent struct {
	id    int
	r     *Runner
	delay time.Duration // ramp: wait this long before the first request

	retireCh   chan struct{}
	retireOnce sync.Once
	done       chan struct{}
	subs       sync.WaitGroup

	// lastDone is the send time of the newest completed root request; -1
	// before the first.
	lastDone atomic.Int64
}

func newAgent(r *Runner, id int, delay time.Duration) *agent {
	a := &agent{id: id, r: r, delay: delay, retireCh: make(chan struct{}), done: make(chan struct{})}
	a.lastDone.Store(-1)
	return a
}

// retire asks the agent to stop: it sends nothing more, lets its request in
// flight finish, and exits; its sub-agents stop the same way.
func (a *agent) retire() { a.retireOnce.Do(func() { close(a.retireCh) }) }

func (a *agent) retired() bool {
	select {
	case <-a.retireCh:
		return true
	default:
		return false
	}
}

// sleep waits d; false when the agent was retired or ctx ended meanwhile.
func (a *agent) sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return !a.retired() && ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return !a.retired()
	case <-a.retireCh:
		return false
	case <-ctx.Done():
		return false
	}
}

// run is the agent's loop; it returns when retired or when ctx ends.
func (a *agent) run(ctx context.Context) {
	defer close(a.done)
	defer a.subs.Wait()
	if !a.sleep(ctx, a.delay) {
		return
	}
	r := a.r
	ts := r.cfg.Workload.Trajectories
	pos, draw := startChoice(r.seed, a.id, len(r.order))
	buf := make([][]byte, 0, 64)
	for seq := 0; ; seq++ {
		t := ts[r.order[(pos+seq)%len(r.order)]]
		k0 := 0
		if seq == 0 {
			k0 = pick(draw, len(t.Turns))
		}
		s := &stream{a: a, root: t, traj: t, session: sessionID(r.seed, a.id, seq), buf: buf}
		if r.cfg.History == HistoryLive {
			s.live = newLiveHistory()
		}
		if !s.replay(ctx, k0) {
			return
		}
		buf = s.buf
	}
}

// stream is one trajectory replayed in one session: the root agent's own,
// or a sub-agent's.
type stream struct {
	a       *agent
	root    *workload.Trajectory // the top-level trajectory (records name it)
	traj    *workload.Trajectory // what this stream replays
	path    string               // sub-agent path ("" for the root agent)
	session uint64
	buf     [][]byte
	live    *liveHistory // nil unless the history is live
}

// replay sends the trajectory's turns from k0 on; false when the agent was
// retired or ctx ended.
func (s *stream) replay(ctx context.Context, k0 int) bool {
	r := s.a.r
	salt := newSalt(s.session)
	name := sessionName(s.session)
	s.launchSubagents(ctx, k0, 0)
	for k := k0; k < len(s.traj.Turns); k++ {
		if k > k0 && !s.a.sleep(ctx, r.thinkTime(s.traj.Turns[k].ThinkS)) {
			return false
		}
		if s.a.retired() || ctx.Err() != nil {
			return false
		}
		if !s.send(ctx, k, salt, name) {
			return false
		}
		s.launchSubagents(ctx, k0, k+1)
	}
	return true
}

// launchSubagents starts the sub-agents recorded as starting once `sent` of
// this trajectory's turns had been sent, each after its recorded offset from
// the last of those sends (capped like a think time). With a warm start at
// turn k0 > 0, sub-agents that started before turn k0 are skipped: they
// belong to the history.
func (s *stream) launchSubagents(ctx context.Context, k0, sent int) {
	if sent == 0 && k0 > 0 {
		return
	}
	r := s.a.r
	for i, sub := range s.traj.Subagents {
		if sub.AfterTurns != sent || len(sub.Turns) == 0 {
			continue
		}
		anchor := 0.0
		if sent > 0 {
			anchor = s.traj.Turns[sent-1].T
		}
		delay := r.thinkTime(sub.StartS - anchor)
		path := sub.ID
		if s.path != "" {
			path = s.path + "/" + sub.ID
		}
		child := &stream{a: s.a, root: s.root, traj: sub, path: path, session: subSessionID(s.session, i+1)}
		if s.live != nil {
			child.live = newLiveHistory()
		}
		s.a.subs.Add(1)
		go func() {
			defer s.a.subs.Done()
			if s.a.sleep(ctx, delay) {
				child.replay(ctx, 0)
			}
		}()
	}
}

// send streams turn k and records it; false when ctx ended (the record of
// a request cut by the end of the run is dropped).
func (s *stream) send(ctx context.Context, k int, salt *salt, name string) bool {
	r := s.a.r
	turn := &s.traj.Turns[k]
	var live []liveMessage
	target := workload.TargetPromptTokens(turn, r.cfg.Template)
	if s.live != nil {
		s.live.prepare(s.traj, r.render.plan(s.traj), k)
		live = s.live.msgs
		target += s.live.delta()
	}
	s.buf = r.render.messages(s.buf, s.traj, k, salt, live)
	req := loadgen.ChatRequest{
		Messages:     s.buf,
		MaxTokens:    max(1, turn.OutputTokens),
		Session:      name,
		RecordChunks: sampled(r.seed, s.session, k, r.cfg.Rules.Verify.ChunkTimingSampleShare),
	}
	if s.live != nil {
		req.Answer = &s.live.answer
	}
	rec := metrics.Request{
		Agent: s.a.id, Session: name, Subagent: s.path, Trajectory: s.root.ID, Turn: k,
		TargetPromptTokens: target,
	}
	f := r.flights.begin(r.clock.Now())
	_, err := r.client.Stream(ctx, &req, &rec)
	if err != nil {
		r.flights.end(f)
		return false
	}
	if s.live != nil {
		s.live.answered(k, rec.Status == metrics.StatusOK)
	}
	// The request stays in flight until its record is in the probe's
	// buffer: a window's drain waits for every request sent before the
	// window's end, and evaluates the buffer as soon as none is in flight.
	// Ending the flight first let a drain evaluate without a record that
	// the records file then counted in the window (53 records, 52 counted).
	r.complete(&rec)
	r.flights.end(f)
	if s.path == "" {
		s.a.lastDone.Store(rec.TSendNs)
	}
	return true
}

// thinkTime converts a recorded think time to the replayed wait: capped by
// the profile, never negative.
func (r *Runner) thinkTime(seconds float64) time.Duration {
	if !(seconds > 0) || math.IsInf(seconds, 0) {
		return 0
	}
	return min(time.Duration(seconds*float64(time.Second)), r.cfg.Profile.ThinkTimeCap.Duration)
}
