package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/agentwatt/agentwatt/agentrunner/replay"
)

// benchProgress shows a run's progress: bars on a terminal (termProgress),
// plain lines elsewhere (lineProgress).
type benchProgress interface {
	show(replay.Progress)
	// log is the logger to use while the display runs: on a terminal its
	// lines are printed above the bars, never into them.
	log() zerolog.Logger
	done()
}

// newBenchProgress picks the display for w.
func newBenchProgress(w io.Writer, log zerolog.Logger) benchProgress {
	if f, ok := terminal(w); ok {
		return newTermProgress(f, log.GetLevel())
	}
	return &lineProgress{w: w, l: log, every: plainEvery, now: time.Now}
}

// terminal is w as a terminal, if it is one.
func terminal(w io.Writer) (*os.File, bool) {
	f, ok := w.(*os.File)
	return f, ok && isatty.IsTerminal(f.Fd())
}

// plainEvery is how often lineProgress repeats an unchanged phase.
const plainEvery = 15 * time.Second

// lineProgress writes one plain line when the probe or phase changes and
// every plainEvery meanwhile: for logs and CI, where a redrawn line is
// noise.
type lineProgress struct {
	w     io.Writer
	l     zerolog.Logger
	every time.Duration
	now   func() time.Time

	mu    sync.Mutex
	probe int
	phase string
	last  time.Time
}

func (p *lineProgress) log() zerolog.Logger { return p.l }
func (p *lineProgress) done()               {}

func (p *lineProgress) show(s replay.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if s.Probe == p.probe && s.Phase == p.phase && now.Sub(p.last) < p.every {
		return
	}
	p.probe, p.phase, p.last = s.Probe, s.Phase, now
	fmt.Fprintln(p.w, progressLine(s))
}

// progressLine is a snapshot as one plain line: the probe, every tier's
// bracket and pass share, the ETA.
func progressLine(s replay.Progress) string {
	var b strings.Builder
	fmt.Fprintf(&b, "progress: %s", phaseText(s))
	for _, t := range s.Tiers {
		fmt.Fprintf(&b, " | %s", tierText(t))
	}
	fmt.Fprintf(&b, " | %s", etaText(s))
	return b.String()
}

// The renderer shows snapshots that demo and status -f read from a job's
// events, which a runner wrote: every text in them is escaped (esc).

// phaseText is the probe and its phase: "probe 3 window N=16 12s/30s
// requests 140/100 in-flight 16".
func phaseText(s replay.Progress) string {
	t := fmt.Sprintf("probe %d %s N=%d", s.Probe, esc(s.Phase), s.Agents)
	if s.Phase == "window" {
		t += fmt.Sprintf(" %s/%s requests %d/%d", s.WindowElapsed.Round(time.Second), s.WindowMin.Round(time.Second), s.Requests, s.MinRequests)
	}
	return t + fmt.Sprintf(" in-flight %d", s.InFlight)
}

// tierText is a tier's bracket, state and pass share:
// "t20: 8 ≤ N_max < 12 searching pass 97.3%".
func tierText(t replay.TierProgress) string {
	s := esc(t.Bracket()) + " " + esc(t.State)
	if t.State != "waiting" && t.State != "done" {
		s += fmt.Sprintf(" pass %.1f%%", 100*t.PassShare)
	}
	return s
}

// etaText is the run's time so far and the time left, with why the
// estimate last rose.
func etaText(s replay.Progress) string {
	t := fmt.Sprintf("%d probes in %s", s.ProbesDone, s.Elapsed.Round(time.Second))
	if s.ETA > 0 {
		t += fmt.Sprintf(", ETA %s", s.ETA.Round(time.Second))
		if s.ETAReason != "" {
			t += " (up: " + esc(s.ETAReason) + ")"
		}
	}
	return t
}

// termProgress draws with mpb: a bar for the current probe's phase and
// window, one line per tier, and the ETA. The logger writes through mpb, so
// log lines appear above the bars.
type termProgress struct {
	p   *mpb.Progress
	l   zerolog.Logger
	mu  sync.Mutex
	cur replay.Progress

	phase *mpb.Bar
	tiers []*mpb.Bar
	eta   *mpb.Bar
}

// phaseScale is the phase bar's total: the window's fraction in 1/1000.
const phaseScale = 1000

func newTermProgress(w io.Writer, lvl zerolog.Level, opts ...mpb.ContainerOption) *termProgress {
	opts = append([]mpb.ContainerOption{mpb.WithOutput(w), mpb.WithRefreshRate(250 * time.Millisecond)}, opts...)
	t := &termProgress{p: mpb.New(opts...)}
	t.l = zerolog.New(zerolog.ConsoleWriter{Out: t.p, TimeFormat: time.TimeOnly}).Level(lvl).With().Timestamp().Logger()
	return t
}

func (t *termProgress) log() zerolog.Logger { return t.l }

// text returns a decorator reading the latest snapshot through f.
func (t *termProgress) text(f func(replay.Progress) string) decor.Decorator {
	return decor.Any(func(decor.Statistics) string {
		t.mu.Lock()
		defer t.mu.Unlock()
		return f(t.cur)
	})
}

// etaPriority keeps the ETA line below the tier lines added after it.
const etaPriority = 1 << 30

func (t *termProgress) show(s replay.Progress) {
	t.mu.Lock()
	t.cur = s
	first := t.phase == nil
	t.mu.Unlock()
	if first {
		t.phase = t.p.New(phaseScale, mpb.BarStyle(), mpb.BarWidth(30),
			mpb.PrependDecorators(t.text(func(s replay.Progress) string {
				return fmt.Sprintf("probe %d %-9s N=%-5d", s.Probe, esc(s.Phase), s.Agents)
			})),
			mpb.AppendDecorators(t.text(func(s replay.Progress) string {
				if s.Phase != "window" {
					return fmt.Sprintf("in-flight %d", s.InFlight)
				}
				return fmt.Sprintf("%s/%s requests %d/%d in-flight %d", s.WindowElapsed.Round(time.Second),
					s.WindowMin.Round(time.Second), s.Requests, s.MinRequests, s.InFlight)
			})))
		t.eta = t.p.New(0, mpb.NopStyle(), mpb.BarPriority(etaPriority),
			mpb.PrependDecorators(t.text(func(s replay.Progress) string { return "  " + etaText(s) })))
	}
	// one line per tier; a job's first snapshots may come before its tiers
	for i := len(t.tiers); i < len(s.Tiers); i++ {
		t.tiers = append(t.tiers, t.p.New(0, mpb.NopStyle(), mpb.PrependDecorators(t.text(func(s replay.Progress) string {
			if i >= len(s.Tiers) {
				return ""
			}
			return "  " + tierText(s.Tiers[i])
		}))))
	}
	t.phase.SetCurrent(windowFraction(s))
}

// clear removes the bars and keeps the container, for the lines that follow
// a load; the next show draws them anew.
func (t *termProgress) clear() {
	if t.phase == nil {
		return
	}
	t.phase.Abort(true)
	t.eta.Abort(true)
	for _, b := range t.tiers {
		b.Abort(true)
	}
	t.phase, t.eta, t.tiers = nil, nil, nil
}

// windowFraction is how far the window is, in 1/phaseScale, short of
// complete (a complete bar would stop drawing).
func windowFraction(s replay.Progress) int64 {
	if s.Phase != "window" || s.WindowMin <= 0 {
		return 0
	}
	f := float64(s.WindowElapsed) / float64(s.WindowMin)
	if s.MinRequests > 0 {
		f = min(f, float64(s.Requests)/float64(s.MinRequests))
	}
	return min(int64(f*phaseScale), phaseScale-1)
}

// done removes the bars (the summary follows) and waits for the last
// log lines to be written.
func (t *termProgress) done() {
	t.clear()
	// mpb writes the lines above the bars at its next render and renders
	// no more once no bar is left: a last bar, dropped at once, makes Wait
	// wait for that render.
	t.p.New(0, mpb.NopStyle()).Abort(true)
	t.p.Wait()
}
