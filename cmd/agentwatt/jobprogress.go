package main

import (
	"encoding/json"
	"io"

	"github.com/rs/zerolog"
	"github.com/vbauerster/mpb/v8"

	"github.com/agentwatt/agentwatt/agentrunner"
	"github.com/agentwatt/agentwatt/queue"
)

// jobBars shows a followed job (demo, status -f) on a terminal with bench's
// display: the load's progress events drive the bars, and every other line
// is written above them (w). Off a terminal there are no bars and callers
// print their plain lines as before.
type jobBars struct {
	tp *termProgress
	w  io.Writer
}

// newJobBars is the display for out, or nil when out is not a terminal.
func newJobBars(out io.Writer) *jobBars {
	f, ok := terminal(out)
	if !ok {
		return nil
	}
	return newJobBarsOn(f)
}

func newJobBarsOn(w io.Writer, opts ...mpb.ContainerOption) *jobBars {
	tp := newTermProgress(w, zerolog.InfoLevel, opts...)
	return &jobBars{tp: tp, w: tp.p}
}

// show takes a job's event: a progress event of the load (one with the
// load's snapshot, agentrunner.ProgressData.LoadPhase) updates the bars and
// is consumed; any other progress event (a phase) ends them. It reports
// whether the event was consumed.
func (j *jobBars) show(ev queue.Event) bool {
	if ev.Kind != queue.EventProgress {
		return false
	}
	var d agentrunner.ProgressData
	if len(ev.Data) == 0 || json.Unmarshal(ev.Data, &d) != nil || d.LoadPhase == "" {
		j.tp.clear()
		return false
	}
	j.tp.show(d.Progress())
	return true
}

// done removes the bars and waits until the lines above them are written.
func (j *jobBars) done() {
	j.tp.done()
}
