package group

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/nats-io/nats.go"
)

// Subjects, under SubjectPrefix + <group>:
//
//	agentwatt.group.<group>.member.<member>.assign    leader → member: Assignment
//	agentwatt.group.<group>.member.<member>.teardown  leader → member: TeardownRequest
//	agentwatt.group.<group>.member.<member>.clock     leader → member: a clock round
//	agentwatt.group.<group>.leader.ready              member → leader: Readiness
func memberSubject(group, member, kind string) string {
	return SubjectPrefix + group + ".member." + member + "." + kind
}

func readySubject(group string) string { return SubjectPrefix + group + ".leader.ready" }

// maxMessage bounds a decoded group message.
const maxMessage = 1 << 20

// Assignment is a member's part of a job, from the leader of term Term.
type Assignment struct {
	Group   string `json:"group"`
	Term    uint64 `json:"term"`
	Leader  string `json:"leader"`
	Job     string `json:"job"`
	Attempt int    `json:"attempt"`
	// Part is the member's share of the engine (its roles, ranks and
	// arguments): the runner's to define.
	Part json.RawMessage `json:"part,omitempty"`
}

// TeardownRequest tells a member to stop its part of term Term.
type TeardownRequest struct {
	Term   uint64 `json:"term"`
	Reason string `json:"reason"`
}

// Readiness is a member's report on its part.
type Readiness struct {
	Term    uint64 `json:"term"`
	Member  string `json:"member"`
	Job     string `json:"job"`
	Attempt int    `json:"attempt"`
	Ready   bool   `json:"ready"`
	Error   string `json:"error,omitempty"` // why the part could not start
}

// reply is every request's answer.
type reply struct {
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
	// T2 and T3 answer a clock round: when the request arrived and when
	// the reply left, on the member's clock.
	T2 int64 `json:"t2_ns,omitempty"`
	T3 int64 `json:"t3_ns,omitempty"`
}

func respond(msg *nats.Msg, r reply) {
	data, _ := json.Marshal(r)
	_ = msg.Respond(data)
}

func decodeMsg(data []byte, v any) error {
	if len(data) > maxMessage {
		return fmt.Errorf("message of %d bytes, at most %d", len(data), maxMessage)
	}
	return json.Unmarshal(data, v)
}

// subscribe serves the leader's requests to this member.
func (ms *Membership) subscribe() error {
	for kind, h := range map[string]nats.MsgHandler{
		"assign": ms.onAssign, "teardown": ms.onTeardown, "clock": ms.onClock,
	} {
		sub, err := ms.g.nc.Subscribe(memberSubject(ms.group, ms.info.Name, kind), h)
		if err != nil {
			return fmt.Errorf("group %s: subscribe %s: %w", ms.group, kind, err)
		}
		ms.subs = append(ms.subs, sub)
	}
	return ms.g.nc.Flush()
}

// checkTerm accepts a request only from the leader that holds the lease
// now: a stale leader's assignment or teardown is refused.
func (ms *Membership) checkTerm(term uint64) error {
	ctx, cancel := context.WithTimeout(context.Background(), ms.g.cfg.RequestTimeout)
	defer cancel()
	cur, err := ms.g.currentLeader(ctx, ms.group)
	if err != nil {
		return err
	}
	if cur.Term != term {
		return fmt.Errorf("term %d, the group's leader %s holds term %d: %w", term, cur.Member, cur.Term, ErrFenced)
	}
	return nil
}

func (ms *Membership) onAssign(msg *nats.Msg) {
	var a Assignment
	if err := decodeMsg(msg.Data, &a); err != nil {
		respond(msg, reply{Error: "assignment: " + err.Error()})
		return
	}
	if a.Group != ms.group {
		respond(msg, reply{Error: fmt.Sprintf("assignment for group %q sent to group %s", a.Group, ms.group)})
		return
	}
	if err := ms.checkTerm(a.Term); err != nil {
		respond(msg, reply{Error: err.Error()})
		return
	}
	ms.mu.Lock()
	switch {
	case ms.left:
		ms.mu.Unlock()
		respond(msg, reply{Error: "the member is leaving"})
		return
	case ms.assigned != nil && (ms.assigned.Job != a.Job || ms.assigned.Attempt != a.Attempt || ms.assigned.Term != a.Term):
		busy := *ms.assigned
		ms.mu.Unlock()
		respond(msg, reply{Error: fmt.Sprintf("busy with job %s attempt %d of term %d", busy.Job, busy.Attempt, busy.Term)})
		return
	case ms.assigned != nil:
		ms.mu.Unlock()
		respond(msg, reply{OK: true}) // a repeated request whose reply was lost
		return
	}
	ms.assigned = &a
	ms.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), ms.g.cfg.RequestTimeout)
	defer cancel()
	if err := ms.h.Assign(ctx, a); err != nil {
		ms.mu.Lock()
		if ms.assigned != nil && ms.assigned.Term == a.Term && ms.assigned.Job == a.Job {
			ms.assigned = nil
		}
		ms.mu.Unlock()
		respond(msg, reply{Error: err.Error()})
		return
	}
	respond(msg, reply{OK: true})
}

func (ms *Membership) onTeardown(msg *nats.Msg) {
	var t TeardownRequest
	if err := decodeMsg(msg.Data, &t); err != nil {
		respond(msg, reply{Error: "teardown: " + err.Error()})
		return
	}
	if err := ms.checkTerm(t.Term); err != nil {
		respond(msg, reply{Error: err.Error()})
		return
	}
	ms.teardown(t.Term, "told by the leader: "+t.Reason)
	respond(msg, reply{OK: true})
}

func (ms *Membership) onClock(msg *nats.Msg) {
	t2 := ms.g.cfg.Clock()
	respond(msg, reply{OK: true, T2: t2, T3: ms.g.cfg.Clock()})
}

// Ready reports the member's part as ready (err nil) or failed to the
// leader that assigned it.
func (ms *Membership) Ready(ctx context.Context, a Assignment, err error) error {
	r := Readiness{Term: a.Term, Member: ms.info.Name, Job: a.Job, Attempt: a.Attempt, Ready: err == nil}
	if err != nil {
		r.Error = err.Error()
	}
	_, rerr := ms.g.request(ctx, readySubject(ms.group), r)
	return rerr
}

// request sends v and decodes the reply; a reply with an error is
// ErrRefused with it.
func (g *Groups) request(ctx context.Context, subject string, v any) (reply, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return reply{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, g.cfg.RequestTimeout)
	defer cancel()
	msg, err := g.nc.RequestWithContext(ctx, subject, data)
	if err != nil {
		return reply{}, fmt.Errorf("request %s: %w", subject, err)
	}
	var r reply
	if err := decodeMsg(msg.Data, &r); err != nil {
		return reply{}, fmt.Errorf("reply to %s: %w", subject, err)
	}
	if !r.OK {
		return r, fmt.Errorf("%s: %w: %s", subject, ErrRefused, r.Error)
	}
	return r, nil
}

// Assign sends member its part of job attempt under this lease's term.
func (l *Leadership) Assign(ctx context.Context, member, job string, attempt int, part json.RawMessage) error {
	if l.isLost() {
		return fmt.Errorf("group %s: term %d: %w", l.group, l.term, ErrFenced)
	}
	if err := checkName("member", member); err != nil {
		return err
	}
	a := Assignment{Group: l.group, Term: l.term, Leader: l.member, Job: job, Attempt: attempt, Part: part}
	_, err := l.g.request(ctx, memberSubject(l.group, member, "assign"), a)
	return err
}

// Teardown tells member to stop its part of this term.
func (l *Leadership) Teardown(ctx context.Context, member, reason string) error {
	if err := checkName("member", member); err != nil {
		return err
	}
	_, err := l.g.request(ctx, memberSubject(l.group, member, "teardown"), TeardownRequest{Term: l.term, Reason: reason})
	return err
}

// onReady records a member's readiness for this term.
func (l *Leadership) onReady(msg *nats.Msg) {
	var r Readiness
	if err := decodeMsg(msg.Data, &r); err != nil || !ValidName(r.Member) {
		respond(msg, reply{Error: "readiness: malformed"})
		return
	}
	switch {
	case r.Term > l.term:
		return // a newer leader's member: that leader answers, this one is about to learn it lost
	case r.Term < l.term:
		respond(msg, reply{Error: fmt.Sprintf("term %d, this leader's is %d: %v", r.Term, l.term, ErrFenced)})
		return
	}
	l.mu.Lock()
	l.ready[r.Member] = r
	close(l.readyCh)
	l.readyCh = make(chan struct{})
	l.mu.Unlock()
	respond(msg, reply{OK: true})
}

// WaitReady waits until every one of members has reported its part of job
// attempt ready; a member reporting failure, the lease lost or ctx ending
// is an error that names who is not ready.
func (l *Leadership) WaitReady(ctx context.Context, job string, attempt int, members []string) error {
	for {
		l.mu.Lock()
		var waiting []string
		var failed error
		for _, m := range members {
			r, ok := l.ready[m]
			switch {
			case !ok || r.Job != job || r.Attempt != attempt:
				waiting = append(waiting, m)
			case !r.Ready:
				failed = errors.Join(failed, fmt.Errorf("member %s: %s", m, r.Error))
			}
		}
		ch := l.readyCh
		l.mu.Unlock()
		if failed != nil {
			return fmt.Errorf("group %s job %s: %w", l.group, job, failed)
		}
		if len(waiting) == 0 {
			return nil
		}
		slices.Sort(waiting)
		select {
		case <-ch:
		case <-l.lost:
			return fmt.Errorf("group %s: waiting for %s: %w", l.group, strings.Join(waiting, ", "), ErrFenced)
		case <-ctx.Done():
			return fmt.Errorf("group %s: waiting for %s: %w", l.group, strings.Join(waiting, ", "), ctx.Err())
		}
	}
}
