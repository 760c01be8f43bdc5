package main

import (
	"io"
	"os"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// activity shows, on a terminal, a spinner with a label and the time spent
// while a long step runs that reports no progress of its own (verify); its
// logger prints above the spinner. Elsewhere it shows nothing and the
// logger is the one given.
type activity struct {
	p   *mpb.Progress
	bar *mpb.Bar
	log zerolog.Logger
}

func startActivity(w io.Writer, log zerolog.Logger, label string) *activity {
	f, ok := w.(*os.File)
	if !ok || !isatty.IsTerminal(f.Fd()) {
		return &activity{log: log}
	}
	return newActivity(f, log.GetLevel(), label)
}

func newActivity(w io.Writer, lvl zerolog.Level, label string, opts ...mpb.ContainerOption) *activity {
	opts = append([]mpb.ContainerOption{mpb.WithOutput(w), mpb.WithRefreshRate(200 * time.Millisecond)}, opts...)
	x := &activity{p: mpb.New(opts...)}
	x.log = zerolog.New(zerolog.ConsoleWriter{Out: x.p, TimeFormat: time.TimeOnly}).Level(lvl).With().Timestamp().Logger()
	start := time.Now()
	x.bar = x.p.New(0, mpb.SpinnerStyle(),
		mpb.PrependDecorators(decor.Name(label+" ")),
		mpb.AppendDecorators(decor.Any(func(decor.Statistics) string { return time.Since(start).Round(time.Second).String() })))
	return x
}

// stop removes the spinner.
func (x *activity) stop() {
	if x.p == nil {
		return
	}
	x.bar.Abort(true)
	x.p.Wait()
}
