// Package verifiertest builds a known-good, self-consistent bundle for the
// verifier's tests — request records, power samples, probes, accuracy
// answers and a summary computed from them with metrics/ — and derives
// tampered bundles from it. It stands in for a runner's bundle until a real
// one is in the tests; its data are synthetic and labelled simulated.
package verifiertest

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/metrics"
	"github.com/agentwatt/agentwatt/spec"
	"github.com/agentwatt/agentwatt/workload"
)

// Template is the chat-template overhead the records' targets use (the
// sim engine's).
var Template = workload.ChatTemplate{PerRequest: 3, PerMessage: 3, PerToolCall: 1}

// Tier is the one tier the bundle's search measured.
const Tier = "t20"

// Bundle is a built bundle and what verifying it needs.
type Bundle struct {
	Dir      string
	Job      string
	Attempt  int
	Key      ed25519.PrivateKey
	Trusted  map[string]ed25519.PublicKey
	Workload *workload.Workload
	// Answers are the accuracy questions' reference answers by id.
	Answers map[int]string
	Summary *bundle.Summary
	// ConfirmWindow is the confirmation window [start, end).
	ConfirmWindow [2]int64
	Records       int
}

// Options size the bundle.
type Options struct {
	Agents  int           // N_max; default 40
	Window  time.Duration // each window; default 20s
	Seed    uint64
	Profile string // default "test"
	// Key signs the bundle; default a fresh key.
	Key ed25519.PrivateKey
	// Job and Attempt name the bundle (default job-test-0001, 1).
	Job     string
	Attempt int
	// Answers gives question id's reference answer (default 17 + 3·id);
	// every recorded output answers it correctly.
	Answers func(id int) string
	// Probes repeats the search's three probes (pass, fail, confirm) this
	// many times at growing N for a larger bundle (benchmarks); default 1.
	Repeat int
	// Repeats > 1 adds Repeats − 1 repeat probes (bundle.PurposeRepeat)
	// at N_max after the last confirmation, and their spread to the
	// summary (benchmark.repeats); RepeatFails makes the last of them fail
	// the tier (a slow window) and draw a fifth more power. Default: none.
	Repeats     int
	RepeatFails bool
	// CompletionOrder writes each probe's records in the order the requests
	// finished, interleaving the agents as a runner's file does; by default
	// they are written agent after agent.
	CompletionOrder bool
	// SpecDigest, Runner and Pool name the job's spec, the runner and its
	// pool in the manifest (defaults: sha256 of 1, "test-runner", "sim").
	SpecDigest string
	Runner     string
	Pool       string
	// Group, when Group.Members > 0, makes a runner group's bundle.
	Group GroupOptions
	// Tamper, when set, replaces each generated record by the records it
	// returns before the runner's claim is computed from them: a dishonest
	// runner's records with a self-consistent summary.
	Tamper func(r metrics.Request) []metrics.Request
}

const (
	sampleNs = int64(100 * time.Millisecond)
	idleW    = 90.0
)

// Build writes a complete, signed bundle into dir.
func Build(ctx context.Context, dir string, o Options) (*Bundle, error) {
	if o.Agents <= 0 {
		o.Agents = 40
	}
	if o.Window <= 0 {
		o.Window = 20 * time.Second
	}
	if o.Profile == "" {
		o.Profile = "test"
	}
	if o.Repeat <= 0 {
		o.Repeat = 1
	}
	rules, err := spec.LoadRules("v1")
	if err != nil {
		return nil, err
	}
	prof, err := rules.Profile(o.Profile)
	if err != nil {
		return nil, err
	}
	wl, err := workload.LoadBytes(workload.DefaultBytes())
	if err != nil {
		return nil, err
	}
	priv := o.Key
	if priv == nil {
		if _, priv, err = ed25519.GenerateKey(nil); err != nil {
			return nil, err
		}
	}
	if o.Job == "" {
		o.Job = "job-test-0001"
	}
	if o.Attempt <= 0 {
		o.Attempt = 1
	}
	b := &Bundle{Dir: dir, Job: o.Job, Attempt: o.Attempt, Key: priv, Trusted: bundle.Trusted(priv.Public().(ed25519.PublicKey)), Workload: wl, Answers: map[int]string{}}
	w, err := bundle.NewWriter(dir)
	if err != nil {
		return nil, err
	}
	cache := workload.NewCacheTable(wl, Template)
	g := &gen{rng: rand.New(rand.NewPCG(o.Seed, 7)), turns: smallTurns(wl), cache: cache}
	theory := func(r *metrics.Request) (int64, int64, bool) { return cache.Turn(r.Trajectory, r.Subagent, r.Turn) }

	// The runner's claim is computed as the runner does, with the metrics
	// evaluation of each probe's records; the records are written as they
	// are generated, so that a bundle of millions of records is built in
	// little memory.
	pr := metrics.ProbeRulesOf(rules, prof)
	tier, _ := rules.Tier(Tier)
	tiers := []metrics.Tier{metrics.TierOf(tier)}
	rf, err := w.Create(bundle.RequestsFile)
	if err != nil {
		return nil, err
	}
	rw, err := metrics.NewRecordWriter(rf)
	if err != nil {
		return nil, err
	}

	// Schedule: idle baseline [0.5 s, 2.5 s), then per repetition a search
	// probe at N that passes, one at N+1 that fails, a confirmation at N.
	cursor := int64(3 * time.Second)
	var probes []bundle.ProbeRecord
	var results []metrics.ProbeResult
	agentBase := 0 // agent ids are not reused within a run
	for rep := 0; rep < o.Repeat; rep++ {
		n := o.Agents * (rep + 1)
		type step struct {
			n       int
			purpose string
			slow    bool
		}
		steps := []step{{n, "search", false}, {n + 1, "search", true}, {n, "confirm", false}}
		for k := 1; rep == o.Repeat-1 && k < o.Repeats; k++ {
			steps = append(steps, step{n, bundle.PurposeRepeat, o.RepeatFails && k == o.Repeats-1})
		}
		for _, step := range steps {
			p := bundle.ProbeRecord{Probe: len(probes), Agents: step.n, Purpose: step.purpose, Tier: Tier, StartNs: cursor}
			if len(probes) > 0 {
				p.StartNs = probes[len(probes)-1].WindowEndNs
			}
			begin := cursor
			p.WarmupStartNs = begin + int64(prof.Settle.Duration)
			p.WindowStartNs = p.WarmupStartNs + int64(6*time.Second)
			p.WindowEndNs = p.WindowStartNs + int64(o.Window)
			p.Client = metrics.ClientHealth{WallNs: p.WindowEndNs - p.WindowStartNs, SchedLagP99Ns: int64(time.Millisecond), CPUShare: 0.2, CPUSet: []int{0}}
			acc := metrics.NewProbeAccumulator(metrics.ProbeInput{Agents: p.Agents, WindowStartNs: p.WindowStartNs, WindowEndNs: p.WindowEndNs, Client: p.Client,
				TheoreticalCache: theory}, pr, tiers)
			p.DoneNs = p.WindowEndNs
			write := func(r *metrics.Request) error {
				p.DoneNs = max(p.DoneNs, r.EndNs())
				acc.Add(r)
				b.Records++
				return rw.Write(r)
			}
			var held []metrics.Request
			emit := write
			if o.CompletionOrder {
				emit = func(r *metrics.Request) error { held = append(held, *r); return nil }
			}
			if o.Tamper != nil {
				inner := emit
				emit = func(r *metrics.Request) error {
					for _, t := range o.Tamper(*r) {
						if err := inner(&t); err != nil {
							return err
						}
					}
					return nil
				}
			}
			if err := g.probe(p.Probe, step.n, begin, p.WindowEndNs, step.slow, agentBase, emit); err != nil {
				return nil, err
			}
			slices.SortStableFunc(held, func(a, b metrics.Request) int { return cmp.Compare(a.EndNs(), b.EndNs()) })
			for i := range held {
				if err := write(&held[i]); err != nil {
					return nil, err
				}
			}
			agentBase += step.n
			p.Result = acc.Result() // the runner's evaluation, as probes.json carries it
			probes = append(probes, p)
			results = append(results, p.Result)
			cursor = p.DoneNs + int64(time.Millisecond)
		}
	}
	end := cursor + int64(time.Second)
	if err := rw.Close(); err != nil {
		return nil, err
	}
	if err := rf.Close(); err != nil {
		return nil, err
	}

	// Power: one simulated GPU at 10 Hz; idle before the first probe.
	var hot [2]int64 // a failing repeat's window draws a fifth more power
	if o.RepeatFails && o.Repeats > 1 {
		lp := probes[len(probes)-1]
		hot = [2]int64{lp.StartNs, lp.DoneNs}
	}
	samples := g.power(end, probes[0].StartNs, hot)
	idle := [2]int64{int64(500 * time.Millisecond), int64(2500 * time.Millisecond)}
	energyOf := func(start, end int64, tokens float64) *bundle.WindowEnergy {
		return bundle.WindowEnergyFrom(samples, start, end, tokens)
	}
	gpus := 1
	if o.Group.Members > 0 {
		gpus = o.Group.Members
		if energyOf, err = writeGroup(w, o.Group, samples, probes, idle); err != nil {
			return nil, err
		}
	} else if err := writePower(w, samples); err != nil {
		return nil, err
	}

	if err := w.WriteJSON(bundle.ProbesFile, bundle.Probes{Format: bundle.ProbesFormat, Version: bundle.ProbesVersion, Probes: probes}); err != nil {
		return nil, err
	}

	// Accuracy: every answer right.
	af, err := w.Create(bundle.AccuracyFile)
	if err != nil {
		return nil, err
	}
	aenc := json.NewEncoder(af)
	for id := 0; id < prof.AccuracyQuestions; id++ {
		want := defaultAnswer(id)
		if o.Answers != nil {
			want = o.Answers(id)
		}
		b.Answers[id] = want
		if err := aenc.Encode(bundle.AccuracyRecord{ID: id, Prompt: fmt.Sprintf("question %d", id), Output: "so the answer is\n#### " + want, Expected: want, Correct: true}); err != nil {
			return nil, err
		}
	}
	if err := af.Close(); err != nil {
		return nil, err
	}
	lf, err := w.CreateZstd(bundle.EngineLogFile)
	if err != nil {
		return nil, err
	}
	io.WriteString(lf, "sim engine log\n")
	if err := lf.Close(); err != nil {
		return nil, err
	}
	if err := w.WriteJSON(bundle.EnvironmentFile, map[string]any{"model": "sim", "mode": "search", "seed": o.Seed, "chat_template": Template}); err != nil {
		return nil, err
	}

	// The runner's claim.
	sum := &bundle.Summary{SchemaVersion: bundle.SummarySchemaVersion, Simulated: true, Profile: o.Profile, PowerBoundary: "sim", GPUs: gpus, Tiers: map[string]bundle.TierSummary{}}
	base := energyOf(idle[0], idle[1], 0)
	sum.IdleBaseline = &bundle.IdleBaseline{State: "engine-idle", StartNs: idle[0], EndNs: idle[1], DurationS: 2, EnergyJ: base.CounterJ, AvgPowerW: base.AvgPowerW}
	for i, p := range probes {
		ps := bundle.ProbeSummaryOf(p.Probe, results[i], p.WindowStartNs, p.WindowEndNs, p.Client)
		ps.Tier, ps.Role = p.Tier, p.Purpose
		ps.Energy = energyOf(p.WindowStartNs, p.WindowEndNs, ps.OutputTokensPerS*ps.WindowS)
		sum.Probes = append(sum.Probes, ps)
	}
	ci := len(sum.Probes) - max(1, o.Repeats) // the last confirmation
	last := sum.Probes[ci]
	if !last.Tiers[Tier].Passed || sum.Probes[ci-1].Tiers[Tier].Passed {
		return nil, fmt.Errorf("testbundle: generated probes do not pass and fail as designed: %+v", last.Tiers[Tier])
	}
	cp := last.Index
	nMax := last.Agents
	sum.Tiers[Tier] = bundle.TierSummary{MaxAgents: nMax, Confirmed: true, MinDecodeTPS: tier.MinDecodeRate, MaxTTFTS: tier.MaxTTFT.Seconds(),
		ConfirmProbe: &cp, OutputTokensPerS: last.OutputTokensPerS, EnergyCounterJ: last.Energy.CounterJ, EnergyInstantJ: last.Energy.InstantJ,
		AvgPowerW: last.Energy.AvgPowerW, AgentsPerMW: metrics.AgentsPerMW(nMax, last.Energy.AvgPowerW), AgentsPerGPU: metrics.AgentsPerGPU(nMax, gpus),
		JoulesPerToken: last.Energy.JoulesPerToken}
	if o.Repeats > 1 {
		var ws []bundle.RepeatWindow
		for _, p := range sum.Probes[ci:] {
			ws = append(ws, bundle.RepeatWindow{Probe: p.Index, MetShare: p.Tiers[Tier].MetShare, AvgPowerW: p.Energy.AvgPowerW})
		}
		t := sum.Tiers[Tier]
		t.Repeats = bundle.RepeatSpreadOf(nMax, ws)
		sum.Tiers[Tier] = t
	}
	if err := w.WriteJSON(bundle.SummaryFile, sum); err != nil {
		return nil, err
	}
	b.Summary = sum
	lp := probes[ci]
	b.ConfirmWindow = [2]int64{lp.WindowStartNs, lp.WindowEndNs}
	m := manifest(b, o)
	if err := w.Seal(ctx, m, bundle.NewSigner(priv)); err != nil {
		return nil, err
	}
	return b, nil
}

// writePower writes one host's power.jsonl.zst.
func writePower(w *bundle.Writer, samples []metrics.PowerSample) error {
	pf, err := w.CreateZstd(bundle.PowerFile)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(pf)
	for _, s := range samples {
		if err := enc.Encode(bundle.PowerLine{PowerSample: s, TUnixNs: 1_700_000_000_000_000_000 + s.TMonoNs, PowerSource: bundle.PowerSourceSim}); err != nil {
			return err
		}
	}
	return pf.Close()
}

// defaultAnswer is question id's reference answer unless Options.Answers
// says otherwise.
func defaultAnswer(id int) string { return fmt.Sprint(17 + 3*id) }

// SpecDigest is the spec digest of a bundle built without
// Options.SpecDigest.
var SpecDigest = "sha256:" + fmt.Sprintf("%064x", 1)

// Runner is the runner id of a bundle built without Options.Runner.
const Runner = "test-runner"

func manifest(b *Bundle, o Options) *bundle.Manifest {
	return &bundle.Manifest{
		Job: b.Job, Attempt: b.Attempt, SpecDigest: cmp.Or(o.SpecDigest, SpecDigest),
		Pool:      cmp.Or(o.Pool, "sim"),
		Runner:    bundle.Runner{ID: cmp.Or(o.Runner, Runner), Version: "test"},
		Inventory: json.RawMessage(`{"source":"sim","gpus":[{"index":0,"power_limit_w":700}]}`),
		Software:  map[string]string{"agentwatt": "test"},
		Rules:     bundle.Rules{Version: "v1", Profile: o.Profile},
		Workload:  bundle.Workload{Name: "default", Digest: string(b.Workload.Digest)},
		Simulated: true,
		CreatedAt: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC),
	}
}

type turnRef struct {
	traj string
	turn int
	t    *workload.Turn
}

// smallTurns are root-trajectory turns with short answers, so that windows
// fill quickly.
func smallTurns(wl *workload.Workload) []turnRef {
	var out []turnRef
	for _, tr := range wl.Trajectories {
		for k := range tr.Turns {
			if o := tr.Turns[k].OutputTokens; o >= 40 && o <= 400 {
				out = append(out, turnRef{tr.ID, k, &tr.Turns[k]})
			}
		}
	}
	return out
}

type gen struct {
	rng   *rand.Rand
	turns []turnRef
	next  int
	cache *workload.CacheTable
}

// probe generates n closed-loop agents sending from begin until windowEnd,
// handing each record to emit, agent after agent. A slow probe decodes at
// 8–15 tok/s (fails t20); otherwise 40–90 tok/s with TTFT 0.2–1.2 s, and 1
// request in 40 takes 9.2–9.6 s to its first token (still inside t20's
// 10 s).
func (g *gen) probe(p, n int, begin, windowEnd int64, slow bool, agentBase int, emit func(*metrics.Request) error) error {
	for a := 0; a < n; a++ {
		t := begin + int64(g.rng.IntN(200))*int64(time.Millisecond)
		for t < windowEnd {
			tr := g.turns[g.next%len(g.turns)]
			g.next++
			ttft := 0.2 + g.rng.Float64()
			if g.rng.IntN(40) == 0 {
				ttft = 9.2 + 0.4*g.rng.Float64()
			}
			rate := 40 + 50*g.rng.Float64()
			if slow {
				rate = 8 + 7*g.rng.Float64()
			}
			out1 := max(1, tr.t.OutputTokens)
			first := t + int64(ttft*1e9)
			last := first + int64(float64(out1-1)/rate*1e9)
			target := workload.TargetPromptTokens(tr.t, Template)
			// The engine's cache serves the theoretical hit less up to one
			// 16-token block, as a block cache does.
			hit, _, _ := g.cache.Turn(tr.traj, "", tr.turn)
			cached := max(0, int(hit)-g.rng.IntN(16))
			r := metrics.Request{Probe: p, Phase: metrics.PhaseWindow, Agent: agentBase + a, Session: fmt.Sprintf("s%d", agentBase+a),
				Trajectory: tr.traj, Turn: tr.turn, TSendNs: t, TFirstNs: first, TLastNs: last,
				PromptTokens: target + g.rng.IntN(5) - 2, CachedTokens: metrics.Int(cached), CompletionTokens: out1,
				TargetPromptTokens: target, TargetCompletionTokens: out1, Chunks: out1, Status: metrics.StatusOK,
				TokenCountSource: metrics.TokenSourceUsage}
			if err := emit(&r); err != nil {
				return err
			}
			t = last + int64((0.05+0.3*g.rng.Float64())*1e9)
		}
	}
	return nil
}

// power samples one simulated GPU every 100 ms from 0 to end: idle before
// load, then 300 W with a slow wave; the counter integrates the trapezoids,
// so counter and instant energy agree. Inside hot [start, end) it draws a
// fifth more.
func (g *gen) power(end, load int64, hot [2]int64) []metrics.PowerSample {
	var out []metrics.PowerSample
	var e float64
	prevW := 0.0
	for t := int64(0); t <= end; t += sampleNs {
		w := idleW
		if t >= load {
			w = 300 + 40*math.Sin(float64(t)/3e9)
			if t >= hot[0] && t < hot[1] {
				w *= 1.2
			}
		}
		if t > 0 {
			e += (prevW + w) / 2 * float64(sampleNs) / 1e9 * 1000
		}
		out = append(out, metrics.PowerSample{GPU: 0, TMonoNs: t, EnergyMJ: e, PowerW: w})
		prevW = w
	}
	return out
}

// Upload copies the bundle's files to prefix in store.
func (b *Bundle) Upload(ctx context.Context, put func(ctx context.Context, key, path string) error, prefix string) error {
	return fs.WalkDir(os.DirFS(b.Dir), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		return put(ctx, prefix+name, filepath.Join(b.Dir, filepath.FromSlash(name)))
	})
}

// Derive copies the bundle to dir, lets edit change its files, and, when
// key is set, seals it again with key (a dishonest enrolled runner, or an
// outsider with its own key); with key nil the old manifest and envelope
// stay (an outsider without the key).
func (b *Bundle) Derive(ctx context.Context, dir string, edit func(dir string) error, key ed25519.PrivateKey) error {
	if err := os.CopyFS(dir, os.DirFS(b.Dir)); err != nil {
		return err
	}
	if err := edit(dir); err != nil {
		return err
	}
	if key == nil {
		return nil
	}
	var m bundle.Manifest
	data, err := os.ReadFile(filepath.Join(dir, bundle.ManifestFile))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return err
	}
	os.Remove(filepath.Join(dir, bundle.ManifestFile))
	os.Remove(filepath.Join(dir, bundle.EnvelopeFile))
	m.Runner.KeyID, m.Files = "", nil
	w, err := bundle.NewWriter(dir)
	if err != nil {
		return err
	}
	return w.Seal(ctx, &m, bundle.NewSigner(key))
}
