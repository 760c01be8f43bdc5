package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
)

// app is what every subcommand shares: the logger, where results go and in which
// format. Subcommands receive it when they are built, never through globals.
type app struct {
	log      zerolog.Logger
	out      io.Writer
	errOut   io.Writer
	format   string // "text" or "json", from -o
	logLevel string
}

// json reports whether results should be printed as JSON (-o json).
func (a *app) json() bool { return a.format == "json" }

func newRootCmd() *cobra.Command {
	a := &app{out: os.Stdout, errOut: os.Stderr}
	root := &cobra.Command{
		Use:   "agentwatt",
		Short: "Open, verifiable benchmark for agentic LLM inference (Agents per Megawatt)",
		Long: `agentwatt benchmarks serving configurations for agentic LLM inference.

Vendors submit a serving configuration; runners on GPU nodes replay real
multi-turn coding-agent trajectories against it, measure power, and upload raw
traces; a verifier recomputes every number from those traces before a result is
published. The lead metric is Agents per Megawatt.

Start with 'agentwatt demo' to see the whole pipeline on this machine, or
'agentwatt validate FILE' to check a submission.`,
		Example: `  agentwatt validate examples/submissions/sim.yaml
  agentwatt demo
  agentwatt local --dir ./agentwatt-data`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			switch a.format {
			case "text", "json":
			default:
				return fmt.Errorf("-o %q: want text or json", a.format)
			}
			lvl, err := zerolog.ParseLevel(strings.ToLower(a.logLevel))
			if err != nil || lvl == zerolog.NoLevel {
				return fmt.Errorf("--log-level %q: want trace, debug, info, warn or error", a.logLevel)
			}
			a.log = newLogger(a.errOut, lvl)
			return nil
		},
	}
	root.Version = agentwattVersion()
	root.SetVersionTemplate("agentwatt {{.Version}}\n")
	root.PersistentFlags().StringVarP(&a.format, "output", "o", "text", "output format: text or json")
	root.PersistentFlags().StringVar(&a.logLevel, "log-level", "info", "log level: trace, debug, info, warn, error")
	root.AddCommand(commands(a)...)
	registerRootCompletions(root)
	return root
}

// newLogger logs human-readable lines on a terminal and JSON otherwise.
func newLogger(w io.Writer, lvl zerolog.Level) zerolog.Logger {
	if f, ok := w.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly}
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger()
}
