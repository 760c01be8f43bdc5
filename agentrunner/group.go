package agentrunner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/group"
	"github.com/agentwatt/agentwatt/queue"
)

// GroupConfig puts a runner in a runner group (package group): one runner
// per host of a rack or multi-node system. Every member joins the group
// and campaigns for its leader lease; the leader takes the group's jobs
// from Config.Pool while the group offers that pool (all its declared
// members alive), assigns each member its part, drives the frontend and
// seals one bundle with every member's power file (groupleader.go); each
// member runs its part and samples its power (groupmember.go).
type GroupConfig struct {
	// Conn is the NATS connection of the queue (the member ↔ leader
	// messages); Groups configures package group (its Clock is the
	// runner's own, set by the runner).
	Conn   *nats.Conn
	Groups group.Config
	// Name is the group; Size, when > 0, declares it with that many
	// members (every member may declare it; they must agree).
	Name string
	Size int
	// Member is this runner's name in the group (default Config.ID); Host
	// is its host (default os.Hostname).
	Member, Host string
	// SimRackProfile makes this member one node of a sim rack of that
	// profile (sim node); GPUs is the node's GPU count, from the profile.
	// A sim rack's members share one host: the frontend and the nodes
	// listen on loopback.
	// Without it the member's part is a real engine share, which this
	// runner does not launch yet (the job fails with that reason).
	SimRackProfile string
	GPUs           int
	// ClockRounds is the number of exchanges of each clock measurement
	// (default 5). MaxPowerBytes bounds a member's power file as the leader
	// accepts it (default 64 MiB).
	ClockRounds   int
	MaxPowerBytes int64
	// ClockSkew puts this member's clock (its power samples' and its
	// answers to the clock exchange) ahead of the runner's: tests only.
	ClockSkew time.Duration
}

func (g *GroupConfig) validate() []string {
	var errs []string
	if g.Conn == nil {
		errs = append(errs, "Group.Conn is required")
	}
	if !group.ValidName(g.Name) {
		errs = append(errs, fmt.Sprintf("group %q: want a DNS label", g.Name))
	}
	if g.Member != "" && !group.ValidName(g.Member) {
		errs = append(errs, fmt.Sprintf("group member %q: want a DNS label", g.Member))
	}
	if g.Size < 0 || g.Size > group.MaxSize {
		errs = append(errs, fmt.Sprintf("group size %d: want 0 to %d", g.Size, group.MaxSize))
	}
	if g.SimRackProfile != "" && g.GPUs < 1 {
		errs = append(errs, "a sim rack member needs its profile's GPUs per member (Group.GPUs)")
	}
	if g.ClockRounds < 0 || g.MaxPowerBytes < 0 {
		errs = append(errs, "Group.ClockRounds and Group.MaxPowerBytes must not be negative")
	}
	if err := g.Groups.Validate(); err != nil {
		errs = append(errs, err.Error())
	}
	return errs
}

func (g GroupConfig) withDefaults(id string) GroupConfig {
	if g.Member == "" {
		g.Member = id
	}
	if g.Host == "" {
		g.Host, _ = os.Hostname()
	}
	if g.ClockRounds == 0 {
		g.ClockRounds = 5
	}
	if g.MaxPowerBytes == 0 {
		g.MaxPowerBytes = 64 << 20
	}
	return g
}

// simulated reports whether the group is a sim rack.
func (g *GroupConfig) simulated() bool { return g != nil && g.SimRackProfile != "" }

// runClock is the runner's clock in a group, in ns since the runner
// started, ahead by ClockSkew: the clock of the leader's load and of every
// power sample this member takes, and the one the clock exchange reads.
func (r *Runner) runClock() int64 {
	return int64(time.Since(r.zero)) + int64(r.cfg.Group.ClockSkew)
}

// runStart is the zero of runClock as a power.Clock reads it.
func (r *Runner) runStart() time.Time { return r.zero.Add(-r.cfg.Group.ClockSkew) }

// runGroup is Run's job loop in a group: join, then campaign; while
// leading, take the group's jobs.
func (r *Runner) runGroup(ctx context.Context) error {
	gc := r.cfg.Group
	gcfg := gc.Groups
	gcfg.Clock = r.runClock
	gs, err := group.Open(ctx, gc.Conn, r.cfg.Queue.JetStream(), gcfg, r.log)
	if err != nil {
		return err
	}
	if gc.Size > 0 {
		if err := gs.Define(ctx, group.Definition{Name: gc.Name, Size: gc.Size}); err != nil {
			return err
		}
	}
	objects, err := openPowerObjects(ctx, r.cfg.Queue.JetStream(), gcfg.Replicas)
	if err != nil {
		return err
	}
	mh := &memberHandler{r: r, objects: objects, timeout: gs.Config().RequestTimeout, log: r.log.With().Str("group", gc.Name).Str("member", gc.Member).Logger()}
	ms, err := gs.Join(ctx, gc.Name, r.memberInfo(), mh)
	if err != nil {
		return err
	}
	mh.ms = ms
	defer func() {
		lctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := ms.Leave(lctx); err != nil {
			r.log.Debug().Err(err).Msg("leave the group")
		}
		mh.stopping.Wait()
	}()
	r.log.Info().Str("group", gc.Name).Str("member", gc.Member).Msg("joined the group; campaigning")
	for {
		l, err := gs.Campaign(ctx, gc.Name, gc.Member)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			r.log.Warn().Err(err).Msg("campaign")
			if sleepCtx(ctx, gs.Config().LeaseTTL/3) != nil {
				return nil
			}
			continue
		}
		err = r.lead(ctx, gs, l, objects)
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		l.Resign(rctx)
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// memberInfo is this member's liveness entry.
func (r *Runner) memberInfo() group.Member {
	gc := r.cfg.Group
	m := group.Member{Name: gc.Member, Host: gc.Host, Accelerator: r.cfg.Accelerator, GPUs: r.cfg.GPUs, Inventory: r.cfg.Inventory}
	if gc.simulated() {
		m.GPUs, m.Inventory = gc.GPUs, simInventory(gc.Host, gc.GPUs)
	}
	return m
}

// simInventory is a sim member's inventory: GPUs simulated GPUs.
func simInventory(host string, gpus int) json.RawMessage {
	inv := bundle.Inventory{Source: "sim", Hostname: host}
	for i := range gpus {
		inv.GPUs = append(inv.GPUs, bundle.InventoryGPU{Index: i})
	}
	data, _ := json.Marshal(inv)
	return data
}

// lead takes the group's jobs while this member holds the lease: before
// each, the group must offer this runner's pool (every member alive). It
// returns nil when the lease is lost or ctx ends.
func (r *Runner) lead(ctx context.Context, gs *group.Groups, l *group.Leadership, objects powerObjects) error {
	w, err := r.cfg.Queue.NewWorker(queue.WorkerConfig{Pool: r.cfg.Pool, Runner: r.cfg.ID, PollWait: 2 * time.Second})
	if err != nil {
		return err
	}
	wait := max(gs.Config().MemberTTL/10, 100*time.Millisecond)
	var said string
	for {
		if ctx.Err() != nil || isClosed(l.Lost()) {
			return nil
		}
		pool, err := l.Pool(ctx)
		if err == nil && pool != r.cfg.Pool {
			err = fmt.Errorf("group %s offers pool %s, this runner takes %s", l.Group(), pool, r.cfg.Pool)
		}
		if err != nil {
			if errors.Is(err, group.ErrFenced) {
				return nil
			}
			if err.Error() != said { // say it once, not every poll
				said = err.Error()
				r.log.Info().Err(err).Msg("the group takes no job")
			}
			if sleepCtx(ctx, wait) != nil {
				return nil
			}
			continue
		}
		said = ""
		lease, err := w.TryNext(ctx, time.Second)
		switch {
		case err == nil:
		case errors.Is(err, queue.ErrNoMessage):
			continue
		case ctx.Err() != nil:
			return nil
		default:
			r.log.Warn().Err(err).Msg("fetch job; retrying")
			if sleepCtx(ctx, time.Second) != nil {
				return nil
			}
			continue
		}
		members, err := gs.Members(ctx, l.Group())
		if err != nil {
			members = nil // the job's launch fails for want of members, and releases it
		}
		r.runJobIn(ctx, lease, newGroupLead(r, gs, l, members, objects))
	}
}

// memberNames are the names of ms.
func memberNames(ms []group.Member) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Name
	}
	return out
}

// errGroupBroken interrupts a group job whose group broke: a member gone,
// a member's part failed, the leader's lease lost. The attempt is released
// and nothing of it uploaded.
var errGroupBroken = errors.New("the runner group broke")

func groupBrokenf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errGroupBroken, strings.TrimSpace(fmt.Sprintf(format, args...)))
}
