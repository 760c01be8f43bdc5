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

// Member is a member's liveness entry, as stored (JSON) in BucketMembers
// under <group>.<member>.
type Member struct {
	Name string `json:"name"`
	Host string `json:"host"`
	// Accelerator and GPUs are what the member adds to the group's pool.
	Accelerator string          `json:"accelerator"`
	GPUs        int             `json:"gpus"`
	Inventory   json.RawMessage `json:"inventory,omitempty"`
	JoinedAt    time.Time       `json:"joined_at"`
	SeenAt      time.Time       `json:"seen_at"`
}

func memberKey(group, member string) string { return group + "." + member }

func (m Member) validate() error {
	if err := checkName("member", m.Name); err != nil {
		return err
	}
	if m.Accelerator == "" || !ValidName(m.Accelerator) {
		return invalidf("member %s accelerator %q: want a lower-case name", m.Name, m.Accelerator)
	}
	if m.GPUs < 1 {
		return invalidf("member %s gpus %d: want at least 1", m.Name, m.GPUs)
	}
	return nil
}

// Handler is what a member runs for its leader. Assign starts the member's
// part of a job (it returns once the part is accepted; the member reports
// readiness later with Membership.Ready); Teardown stops it, told by the
// leader or because the leader's lease was lost (reason says which).
type Handler interface {
	Assign(ctx context.Context, a Assignment) error
	Teardown(a Assignment, reason string)
}

// Membership is a member's place in a group from Join to Leave: its
// liveness entry refreshed every MemberTTL/3, its message handlers, and
// the watch on the leader's lease that tears down a part whose leader is
// gone.
type Membership struct {
	g      *Groups
	group  string
	info   Member
	h      Handler
	log    zerolog.Logger
	subs   []*nats.Subscription
	cancel context.CancelFunc
	done   chan struct{}

	mu       sync.Mutex
	assigned *Assignment // the part running now, nil when none
	left     bool
}

// Join enters member m into group (declared with Define) and serves the
// leader's messages with h until Leave.
func (g *Groups) Join(ctx context.Context, group string, m Member, h Handler) (*Membership, error) {
	if err := checkName("group", group); err != nil {
		return nil, err
	}
	if err := m.validate(); err != nil {
		return nil, err
	}
	if h == nil {
		return nil, invalidf("member %s: no handler", m.Name)
	}
	if _, err := g.Definition(ctx, group); err != nil {
		return nil, err
	}
	m.JoinedAt = g.now().UTC()
	ms := &Membership{g: g, group: group, info: m, h: h, done: make(chan struct{}),
		log: g.log.With().Str("group", group).Str("member", m.Name).Logger()}
	if err := ms.claim(ctx); err != nil {
		return nil, err
	}
	if err := ms.subscribe(); err != nil {
		ms.unsubscribe()
		return nil, err
	}
	lctx, cancel := context.WithCancel(context.Background())
	ms.cancel = cancel
	go ms.loop(lctx)
	return ms, nil
}

// Name is the member's name.
func (ms *Membership) Name() string { return ms.info.Name }

// claim writes the first liveness entry. A live entry of the same name
// from another host is refused: two hosts answering as one member would
// split its part. The same host may take its entry back (a restart).
func (ms *Membership) claim(ctx context.Context) error {
	key := memberKey(ms.group, ms.info.Name)
	e, err := ms.g.members.Get(ctx, key)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
	case err != nil:
		return fmt.Errorf("group %s: member %s: %w", ms.group, ms.info.Name, err)
	default:
		var cur Member
		if json.Unmarshal(e.Value(), &cur) == nil && cur.Host != ms.info.Host {
			return fmt.Errorf("group %s: member %s is alive on host %q: %w", ms.group, ms.info.Name, cur.Host, ErrMemberExists)
		}
	}
	return ms.refresh(ctx)
}

// refresh writes the liveness entry; SeenAt is now.
func (ms *Membership) refresh(ctx context.Context) error {
	info := ms.info
	info.SeenAt = ms.g.now().UTC()
	data, err := json.Marshal(info)
	if err != nil {
		return fmt.Errorf("encode member %s: %w", info.Name, err)
	}
	if _, err := ms.g.members.Put(ctx, memberKey(ms.group, info.Name), data); err != nil {
		return fmt.Errorf("group %s: refresh member %s: %w", ms.group, info.Name, err)
	}
	return nil
}

// loop refreshes the entry and watches the leader's lease until Leave.
func (ms *Membership) loop(ctx context.Context) {
	defer close(ms.done)
	every := ms.g.cfg.MemberTTL / 3
	if lease := ms.g.cfg.LeaseTTL / 3; lease < every {
		every = lease
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rctx, cancel := context.WithTimeout(ctx, every)
		if err := ms.refresh(rctx); err != nil && ctx.Err() == nil {
			ms.log.Warn().Err(err).Msg("refresh membership")
		}
		ms.checkLeader(rctx)
		cancel()
	}
}

// checkLeader tears the running part down when the leader that assigned
// it no longer holds the lease (gone, or another term).
func (ms *Membership) checkLeader(ctx context.Context) {
	ms.mu.Lock()
	a := ms.assigned
	ms.mu.Unlock()
	if a == nil {
		return
	}
	cur, err := ms.g.currentLeader(ctx, ms.group)
	switch {
	case errors.Is(err, errNoLeader):
	case err != nil:
		return // cannot tell: NATS unreachable; the leader cannot refresh either, and its lease runs out
	case cur.Term == a.Term:
		return
	}
	ms.teardown(a.Term, "the leader's lease was lost")
}

// teardown stops the part of term (if it is the running one) once.
func (ms *Membership) teardown(term uint64, reason string) bool {
	ms.mu.Lock()
	a := ms.assigned
	if a == nil || a.Term != term {
		ms.mu.Unlock()
		return false
	}
	ms.assigned = nil
	ms.mu.Unlock()
	ms.log.Info().Str("job", a.Job).Uint64("term", a.Term).Str("reason", reason).Msg("tear down")
	ms.h.Teardown(*a, reason)
	return true
}

// Assigned is the part the member runs now, nil when none.
func (ms *Membership) Assigned() *Assignment {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if ms.assigned == nil {
		return nil
	}
	a := *ms.assigned
	return &a
}

// Leave stops serving, tears down a running part, and removes the
// member's entry: the group offers no pool until a member takes its
// place.
func (ms *Membership) Leave(ctx context.Context) error {
	if !ms.stop() {
		return nil
	}
	if a := ms.Assigned(); a != nil {
		ms.teardown(a.Term, "the member left the group")
	}
	if err := ms.g.members.Delete(ctx, memberKey(ms.group, ms.info.Name)); err != nil {
		return fmt.Errorf("group %s: leave %s: %w", ms.group, ms.info.Name, err)
	}
	return nil
}

// stop ends the loop and the subscriptions; false when already stopped.
func (ms *Membership) stop() bool {
	ms.mu.Lock()
	if ms.left {
		ms.mu.Unlock()
		return false
	}
	ms.left = true
	ms.mu.Unlock()
	ms.cancel()
	<-ms.done
	ms.unsubscribe()
	return true
}

func (ms *Membership) unsubscribe() {
	for _, s := range ms.subs {
		_ = s.Unsubscribe()
	}
	ms.subs = nil
}
