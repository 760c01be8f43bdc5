package group

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
)

// leaderRecord is the value of a group's lease key in BucketLeaders.
type leaderRecord struct {
	Member string    `json:"member"`
	Term   uint64    `json:"term"` // 0 only in the create, before the term is known
	Since  time.Time `json:"since"`
}

// Leader is who leads a group now.
type Leader struct {
	Member string
	Term   uint64
}

var errNoLeader = errors.New("no leader")

// currentLeader reads the group's lease.
func (g *Groups) currentLeader(ctx context.Context, group string) (Leader, error) {
	e, err := g.leader.Get(ctx, group)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Leader{}, errNoLeader
	}
	if err != nil {
		return Leader{}, fmt.Errorf("group %s: leader: %w", group, err)
	}
	var r leaderRecord
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		return Leader{}, fmt.Errorf("group %s: decode leader: %w", group, err)
	}
	if r.Term == 0 {
		r.Term = e.Revision() // just created: the term is the creation's revision
	}
	return Leader{Member: r.Member, Term: r.Term}, nil
}

// Leader returns who leads group; ok is false while nobody does.
func (g *Groups) Leader(ctx context.Context, group string) (l Leader, ok bool, err error) {
	if err := checkName("group", group); err != nil {
		return Leader{}, false, err
	}
	l, err = g.currentLeader(ctx, group)
	if errors.Is(err, errNoLeader) {
		return Leader{}, false, nil
	}
	return l, err == nil, err
}

// Leadership is a member's hold on its group's leader lease, from TryLead
// until Resign or until the lease is lost. Everything it does is fenced by
// its term.
type Leadership struct {
	g      *Groups
	group  string
	member string
	term   uint64
	since  time.Time
	log    zerolog.Logger

	mu        sync.Mutex
	rev       uint64 // the lease key's revision after the last refresh
	refreshed time.Time
	lost      chan struct{}
	lostOnce  sync.Once
	ready     map[string]Readiness // member → its last readiness report for this term
	readyCh   chan struct{}        // closed and replaced on every report
	sub       *nats.Subscription
	cancel    context.CancelFunc
	done      chan struct{}
	every     time.Duration // refresh interval (LeaseTTL/3)
}

// TryLead takes the group's leader lease for member if nobody holds it;
// ErrLeaderExists if somebody does. The member must have joined.
func (g *Groups) TryLead(ctx context.Context, group, member string) (*Leadership, error) {
	if err := checkName("group", group); err != nil {
		return nil, err
	}
	if err := checkName("member", member); err != nil {
		return nil, err
	}
	if _, err := g.members.Get(ctx, memberKey(group, member)); err != nil {
		return nil, fmt.Errorf("group %s: member %s has not joined: %w", group, member, err)
	}
	now := g.now().UTC()
	data, _ := json.Marshal(leaderRecord{Member: member, Since: now})
	rev, err := g.leader.Create(ctx, group, data)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return nil, fmt.Errorf("group %s: %w", group, ErrLeaderExists)
	}
	if err != nil {
		return nil, fmt.Errorf("group %s: take the lease: %w", group, err)
	}
	l := &Leadership{g: g, group: group, member: member, term: rev, since: now, rev: rev, refreshed: g.now(),
		lost: make(chan struct{}), ready: map[string]Readiness{}, readyCh: make(chan struct{}), done: make(chan struct{}),
		every: g.cfg.LeaseTTL / 3,
		log:   g.log.With().Str("group", group).Str("member", member).Uint64("term", rev).Logger()}
	// Write the term into the record, so members read it after refreshes.
	if err := l.refresh(ctx); err != nil {
		l.resignKey(ctx)
		l.markLost("write the term: " + err.Error())
		return nil, fmt.Errorf("group %s: write the term: %w", group, err)
	}
	if l.sub, err = g.nc.Subscribe(readySubject(group), l.onReady); err != nil {
		l.resignKey(ctx)
		l.markLost("subscribe readiness")
		return nil, fmt.Errorf("group %s: subscribe readiness: %w", group, err)
	}
	if err := l.PutState(ctx, nil); err != nil {
		l.stopAll()
		l.resignKey(ctx)
		l.markLost("write the state: " + err.Error())
		return nil, err
	}
	lctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	go l.loop(lctx)
	l.log.Info().Msg("leading")
	return l, nil
}

// Campaign waits until member leads group (TryLead every LeaseTTL/3) or
// ctx ends.
func (g *Groups) Campaign(ctx context.Context, group, member string) (*Leadership, error) {
	for {
		l, err := g.TryLead(ctx, group, member)
		if !errors.Is(err, ErrLeaderExists) {
			return l, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(g.cfg.LeaseTTL / 3):
		}
	}
}

// Pool is the pool the leader may take a job from now: the group's Pool,
// ErrIncomplete while a member is missing, ErrFenced once the lease is
// lost. The leader asks before each job.
func (l *Leadership) Pool(ctx context.Context) (string, error) {
	if l.isLost() {
		return "", fmt.Errorf("group %s: term %d: %w", l.group, l.term, ErrFenced)
	}
	return l.g.Pool(ctx, l.group)
}

// Term is the lease's term: higher than every earlier leader's.
func (l *Leadership) Term() uint64 { return l.term }

// Group is the group led.
func (l *Leadership) Group() string { return l.group }

// Lost is closed when the lease is lost: another member took it after
// this one's refreshes stopped reaching NATS, or it expired. The leader
// stops its job; every fenced call fails with ErrFenced.
func (l *Leadership) Lost() <-chan struct{} { return l.lost }

func (l *Leadership) isLost() bool {
	select {
	case <-l.lost:
		return true
	default:
		return false
	}
}

func (l *Leadership) markLost(why string) {
	l.lostOnce.Do(func() {
		ev := l.log.Warn()
		if why == reasonResigned {
			ev = l.log.Info() // giving the lease up is no failure
		}
		ev.Str("reason", why).Msg("leader lease lost")
		close(l.lost)
	})
}

// reasonResigned is markLost's reason when the leader gave the lease up.
const reasonResigned = "resigned"

// refresh renews the lease by compare-and-set on its revision.
func (l *Leadership) refresh(ctx context.Context) error {
	l.mu.Lock()
	rev := l.rev
	l.mu.Unlock()
	data, _ := json.Marshal(leaderRecord{Member: l.member, Term: l.term, Since: l.since})
	nrev, err := l.g.leader.Update(ctx, l.group, data, rev)
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.rev, l.refreshed = nrev, l.g.now()
	l.mu.Unlock()
	return nil
}

// loop refreshes the lease every LeaseTTL/3. A refresh refused by the
// server (the key is gone or another's) loses the lease at once; one that
// cannot reach it loses it when a whole LeaseTTL has passed since the
// last success, as the key has expired by then.
func (l *Leadership) loop(ctx context.Context) {
	defer close(l.done)
	t := time.NewTicker(l.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rctx, cancel := context.WithTimeout(ctx, l.every)
		err := l.refresh(rctx)
		cancel()
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return
		case errors.Is(err, jetstream.ErrKeyRevisionMismatch), errors.Is(err, jetstream.ErrKeyExists), errors.Is(err, jetstream.ErrKeyNotFound):
			l.markLost(err.Error())
		default:
			l.mu.Lock()
			stale := l.g.now().Sub(l.refreshed) >= l.g.cfg.LeaseTTL
			l.mu.Unlock()
			if stale {
				l.markLost("no refresh for a lease TTL: " + err.Error())
			}
		}
		if l.isLost() {
			l.unsubscribe()
			return
		}
	}
}

// Resign gives the lease up (deleting the key if it is still this
// term's) and stops.
func (l *Leadership) Resign(ctx context.Context) {
	l.stopAll()
	if !l.isLost() {
		l.resignKey(ctx)
	}
	l.markLost(reasonResigned)
}

func (l *Leadership) stopAll() {
	if l.cancel != nil {
		l.cancel()
		<-l.done
	}
	l.unsubscribe()
}

func (l *Leadership) resignKey(ctx context.Context) {
	l.mu.Lock()
	rev := l.rev
	l.mu.Unlock()
	if err := l.g.leader.Delete(ctx, l.group, jetstream.LastRevision(rev)); err != nil {
		l.log.Debug().Err(err).Msg("delete lease key; it expires")
	}
}

func (l *Leadership) unsubscribe() {
	l.mu.Lock()
	sub := l.sub
	l.sub = nil
	l.mu.Unlock()
	if sub != nil {
		_ = sub.Unsubscribe()
	}
}

// State is the group's shared state, written only by a leader, fenced by
// term: a write under a lower term than the stored one is refused.
type State struct {
	Term   uint64          `json:"term"`
	Leader string          `json:"leader"`
	Data   json.RawMessage `json:"data,omitempty"`
	At     time.Time       `json:"at"`
}

// State returns the group's state; ok is false before any leader wrote.
func (g *Groups) State(ctx context.Context, group string) (State, bool, error) {
	if err := checkName("group", group); err != nil {
		return State{}, false, err
	}
	e, err := g.groups.Get(ctx, stateKey(group))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return State{}, false, nil
	}
	if err != nil {
		return State{}, false, fmt.Errorf("group %s: state: %w", group, err)
	}
	var s State
	if err := json.Unmarshal(e.Value(), &s); err != nil {
		return State{}, false, fmt.Errorf("group %s: decode state: %w", group, err)
	}
	return s, true, nil
}

// PutState writes the group's state under this lease's term by
// compare-and-set. It is refused with ErrFenced once the lease is lost or
// when the stored state carries a higher term (a newer leader wrote).
func (l *Leadership) PutState(ctx context.Context, data json.RawMessage) error {
	for {
		if l.isLost() {
			return fmt.Errorf("group %s: term %d: %w", l.group, l.term, ErrFenced)
		}
		val, _ := json.Marshal(State{Term: l.term, Leader: l.member, Data: data, At: l.g.now().UTC()})
		e, err := l.g.groups.Get(ctx, stateKey(l.group))
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
			_, err = l.g.groups.Create(ctx, stateKey(l.group), val)
		case err != nil:
			return fmt.Errorf("group %s: state: %w", l.group, err)
		default:
			var cur State
			if jerr := json.Unmarshal(e.Value(), &cur); jerr == nil && cur.Term > l.term {
				l.markLost(fmt.Sprintf("the group state is at term %d", cur.Term))
				return fmt.Errorf("group %s: term %d, the state is at term %d: %w", l.group, l.term, cur.Term, ErrFenced)
			}
			_, err = l.g.groups.Update(ctx, stateKey(l.group), val, e.Revision())
		}
		if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			continue // another write came first: read it again
		}
		if err != nil {
			return fmt.Errorf("group %s: write state: %w", l.group, err)
		}
		return nil
	}
}
