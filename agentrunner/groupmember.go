package agentrunner

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/agentrunner/engine"
	"github.com/agentwatt/agentwatt/agentrunner/power"
	"github.com/agentwatt/agentwatt/group"
	"github.com/agentwatt/agentwatt/spec"
)

// rackPart is a member's share of a group job, as the leader assigns it
// (group.Assignment.Part).
type rackPart struct {
	// Kind is partSimNode: run node Node of sim rack profile Profile
	// against the leader's frontend at Frontend.
	Kind     string `json:"kind"`
	Profile  string `json:"profile"`
	Node     int    `json:"node"`
	Frontend string `json:"frontend"`
	// Power is the job's power rules: how the member samples.
	Power spec.PowerRules `json:"power"`
	// Env is the spec's engine.env, as the frontend has it;
	// ReadyTimeout its engine.ready_timeout.
	Env          map[string]string `json:"env,omitempty"`
	ReadyTimeout time.Duration     `json:"ready_timeout_ns"`
}

const partSimNode = "sim-node"

// check refuses a part this member cannot run: only its own sim rack's
// node, against an http frontend. A member runs nothing the leader names
// beyond that (no program, no image).
func (p *rackPart) check(gc *GroupConfig) error {
	if p.Kind != partSimNode {
		return fmt.Errorf("part kind %q: this member runs only %s parts", p.Kind, partSimNode)
	}
	if !gc.simulated() || p.Profile != gc.SimRackProfile {
		return fmt.Errorf("part of sim rack profile %q: this member is a node of %q", p.Profile, gc.SimRackProfile)
	}
	if p.Node < 0 || p.Node >= group.MaxSize {
		return fmt.Errorf("part node %d: want 0 to %d", p.Node, group.MaxSize-1)
	}
	u, err := url.Parse(p.Frontend)
	if err != nil || u.Scheme != "http" || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.User != nil {
		return fmt.Errorf("part frontend %q: want http://host:port", p.Frontend)
	}
	if p.ReadyTimeout <= 0 || p.ReadyTimeout > time.Hour {
		return fmt.Errorf("part ready timeout %v: want up to an hour", p.ReadyTimeout)
	}
	return power.ConfigFromRules(p.Power).Validate()
}

// memberHandler runs this runner's part of its group's jobs
// (group.Handler): it launches the part, samples its power on the
// runner's clock into its own power file, reports readiness, and on
// teardown stops the part and hands the power file to the leader.
type memberHandler struct {
	r       *Runner
	objects powerObjects
	ms      *group.Membership
	timeout time.Duration // a group request's (group.Config.RequestTimeout, defaulted)
	log     zerolog.Logger

	mu  sync.Mutex
	cur *memberPart

	stopping sync.WaitGroup // parts' nodes stopping after their teardown answered
}

var _ group.Handler = (*memberHandler)(nil)

// memberPart is one assigned part while it runs.
type memberPart struct {
	a       group.Assignment
	part    rackPart
	work    string
	cancel  context.CancelFunc
	started chan struct{} // closed when start returned
	eng     *jobEngine
	power   *powerRun
}

// Assign accepts a part and starts it; readiness follows (start).
func (h *memberHandler) Assign(_ context.Context, a group.Assignment) error {
	var p rackPart
	if err := json.Unmarshal(a.Part, &p); err != nil {
		return fmt.Errorf("part: %w", err)
	}
	if err := p.check(h.r.cfg.Group); err != nil {
		return err
	}
	if !queueJobID(a.Job) || a.Attempt < 1 {
		return fmt.Errorf("job %q attempt %d: not a job", a.Job, a.Attempt)
	}
	ctx, cancel := context.WithCancel(context.Background())
	mp := &memberPart{a: a, part: p, cancel: cancel, started: make(chan struct{}),
		work: filepath.Join(h.r.cfg.WorkDir, "members", a.Job, strconv.Itoa(a.Attempt))}
	h.mu.Lock()
	if h.cur != nil {
		h.mu.Unlock()
		cancel()
		return fmt.Errorf("busy with job %s", h.cur.a.Job)
	}
	h.cur = mp
	h.mu.Unlock()
	go h.start(ctx, mp)
	return nil
}

// start launches the part, starts its sampler and reports readiness.
func (h *memberHandler) start(ctx context.Context, mp *memberPart) {
	defer close(mp.started)
	log := h.log.With().Str("job", mp.a.Job).Int("attempt", mp.a.Attempt).Logger()
	err := h.launch(ctx, mp, log)
	if err != nil {
		log.Warn().Err(err).Msg("part not started")
	} else {
		log.Info().Int("node", mp.part.Node).Msg("part ready")
	}
	rctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	if rerr := h.ms.Ready(rctx, mp.a, err); rerr != nil {
		log.Warn().Err(rerr).Msg("report readiness")
	}
}

func (h *memberHandler) launch(ctx context.Context, mp *memberPart, log zerolog.Logger) error {
	r := h.r
	if err := os.MkdirAll(mp.work, 0o700); err != nil {
		return err
	}
	mp.eng = &jobEngine{}
	dir, err := engine.MakeDir("", r.engineUser)
	if err != nil {
		return err
	}
	mp.eng.dir = dir
	port, err := engine.FreePort()
	if err != nil {
		return err
	}
	cfg := engine.Config{
		JobID:   mp.a.Job,
		Command: []string{r.simBin, "sim", "node"},
		Args: []string{"--profile", mp.part.Profile, "--member", strconv.Itoa(mp.part.Node),
			"--frontend", mp.part.Frontend, "--listen", "127.0.0.1:" + engine.PortPlaceholder},
		Env:        mp.part.Env,
		HealthPath: "/health", ReadyTimeout: mp.part.ReadyTimeout, Port: port, Dir: dir, User: r.engineUser,
		LogPath:  filepath.Join(mp.work, "node.log"),
		StateDir: r.engineDir(), GracePeriod: r.cfg.GracePeriod, CPUs: r.cfg.EngineCPUs,
	}
	if mp.eng.eng, err = engine.Start(ctx, cfg, log); err != nil {
		return err
	}
	if err := mp.eng.eng.WaitReady(ctx); err != nil {
		return err
	}
	pw, err := power.CreateWriter(filepath.Join(mp.work, power.FileName))
	if err != nil {
		return err
	}
	mp.power = &powerRun{pw: pw, started: r.runStart()}
	pcfg := power.ConfigFromRules(mp.part.Power)
	pcfg.Sink = pw
	s, err := power.NewSampler(power.NewSimSource(mp.eng.url()), mp.power.started, pcfg, log)
	if err != nil {
		return err
	}
	mp.power.sampler = s
	return s.Start(context.WithoutCancel(ctx))
}

// Teardown stops the part: the sampler once it has a sample past now;
// the member hands the power file over (the leader fetches it once every
// member's teardown answered), then stops the node, after answering.
func (h *memberHandler) Teardown(a group.Assignment, reason string) {
	h.mu.Lock()
	mp := h.cur
	if mp == nil || mp.a.Term != a.Term || mp.a.Job != a.Job || mp.a.Attempt != a.Attempt {
		h.mu.Unlock()
		return
	}
	h.cur = nil
	h.mu.Unlock()
	log := h.log.With().Str("job", a.Job).Int("attempt", a.Attempt).Str("reason", reason).Logger()
	mp.cancel()
	<-mp.started
	mp.power.stop(log)
	h.stopping.Add(1)
	defer func() {
		go func() { // the leader waits for the power file, not for the node's stop
			defer h.stopping.Done()
			mp.eng.stop(h.r.cfg.GracePeriod, log)
			_ = os.RemoveAll(mp.work)
		}()
	}()
	if mp.power == nil {
		return
	}
	if err := mp.power.pw.Close(); err != nil {
		log.Warn().Err(err).Msg("power samples")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.timeout)
	defer cancel()
	k := powerObjectKey{group: a.Group, term: a.Term, job: a.Job, attempt: a.Attempt, member: h.ms.Name()}
	if err := h.objects.put(ctx, k, mp.power.pw.Path()); err != nil {
		log.Warn().Err(err).Msg("hand the power file over")
		return
	}
	log.Info().Msg("part torn down; power file handed over")
}

// queueJobID reports whether id is a job ID (32 hex digits): it names
// files and the engine's state record.
func queueJobID(id string) bool {
	if len(id) != 32 {
		return false
	}
	for _, c := range id {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
