package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentwatt/agentwatt/internal/termtext"
	"github.com/agentwatt/agentwatt/queue"
)

func newStatusCmd(a *app) *cobra.Command {
	var (
		nf                  natsFlags
		follow              bool
		state, vendor, pool string
	)
	cmd := &cobra.Command{
		Use:   "status [JOB]",
		Short: "List jobs, show one job's history, or follow its events",
		Long: `status reads job records straight from the queue (NATS JetStream).

Without JOB it lists jobs, oldest first, optionally filtered by --state,
--vendor and --pool. With JOB it shows the job: its state, attempt, runner,
what it runs, and every transition of its history with who made it and why.

With -f it prints the job's events as they arrive (state changes, progress,
probe results, log lines), starting from the first one kept, and returns
when the job reaches an end state: verified, rejected, published, failed or
canceled. It exits 0 when the job ends verified or published and 1 when it
ends failed, rejected or canceled; Ctrl-C stops following. On a terminal
the load's progress is drawn as bars (the probe's window, one line per tier
with its bracket and pass share, the ETA) with the other events above them.
With -o json it prints one JSON event per line.

States: held, queued, running, uploaded, verifying, verified, rejected,
published, failed, canceling, canceled.

JOB is a job id or a unique prefix of it (at least 4 hex digits, as git and
docker take abbreviated ids); an ambiguous prefix lists the jobs it matches.`,
		Example: `  agentwatt status
  agentwatt status --state failed --vendor acme
  agentwatt status 3f2a9c0e5b7d41e8a6c4d2b0f1e3a5c7
  agentwatt status -f 3f2a9c0e
  agentwatt status -o json --nats nats://nats-1:4222,nats://nats-2:4222`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			f := queue.Filter{Vendor: vendor, Pool: pool}
			if state != "" {
				st, err := queue.ParseState(state)
				if err != nil {
					return err
				}
				f.State = st
			}
			if follow && len(args) == 0 {
				return errors.New("-f follows one job: give its id")
			}
			q, closeQ, err := connectQueue(ctx, a, &nf)
			if err != nil {
				return err
			}
			defer closeQ()
			switch {
			case len(args) == 0:
				jobs, err := q.List(ctx, f)
				if err != nil {
					return err
				}
				return printJobList(a, jobs)
			}
			id, err := q.Resolve(ctx, args[0])
			if err != nil {
				return err
			}
			if follow {
				return followJob(ctx, a, q, id)
			}
			j, err := q.Get(ctx, id)
			if err != nil {
				return err
			}
			if a.json() {
				return printQueueJSON(a.out, j)
			}
			printJobDetail(a.out, j)
			return nil
		},
	}
	cmd.ValidArgsFunction = completeJobIDs(a, &nf)
	fs := cmd.Flags()
	addNATSFlags(fs, &nf)
	fs.BoolVarP(&follow, "follow", "f", false, "follow the job's events until it ends")
	fs.StringVar(&state, "state", "", "list only jobs in this state")
	fs.StringVar(&vendor, "vendor", "", "list only this vendor's jobs")
	fs.StringVar(&pool, "pool", "", "list only this pool's jobs (h200x8, sim, …)")
	_ = cmd.RegisterFlagCompletionFunc("state", completeStates)
	return cmd
}

func printJobList(a *app, jobs []*queue.Job) error {
	if a.json() {
		if jobs == nil {
			jobs = []*queue.Job{}
		}
		return printQueueJSON(a.out, jobs)
	}
	if len(jobs) == 0 {
		fmt.Fprintln(a.out, "no jobs")
		return nil
	}
	tw := tabwriter.NewWriter(a.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tSTATE\tATTEMPT\tPOOL\tVENDOR\tNAME\tUPDATED")
	for _, j := range jobs {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\n", esc(j.ID), esc(j.State), j.Attempt, esc(j.Pool), esc(j.Vendor), esc(j.Name), j.UpdatedAt.Local().Format(time.DateTime))
	}
	return tw.Flush()
}

func printJobDetail(w io.Writer, j *queue.Job) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s\t%s\n", k, termtext.Escape(v))
		}
	}
	row("job", j.ID)
	st := string(j.State)
	if j.Attempt > 0 {
		st += fmt.Sprintf(" (attempt %d", j.Attempt)
		if j.Runner != "" {
			st += ", runner " + j.Runner
		}
		st += ")"
	}
	row("state", st)
	row("reason", j.Reason)
	row("vendor", j.Vendor)
	row("name", j.Name)
	row("pool", j.Pool)
	row("profile", j.Profile)
	row("trigger", j.Trigger)
	row("spec", j.SpecDigest)
	wl := j.Workload
	if j.WorkloadDigest != "" {
		wl += "@" + j.WorkloadDigest
	}
	row("workload", wl)
	row("submitted by", j.SubmittedBy)
	row("retry of", j.RetryOf)
	row("retried as", j.RetriedAs)
	row("created", j.CreatedAt.Local().Format(time.DateTime))
	row("updated", j.UpdatedAt.Local().Format(time.DateTime))
	_ = tw.Flush()
	fmt.Fprintln(w, "history:")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, h := range j.History {
		from := string(h.From)
		if from == "" {
			from = "·"
		}
		fmt.Fprintf(tw, "  %s\t%s → %s\tattempt %d\t%s\t%s\n", h.At.Local().Format(time.DateTime), esc(from), esc(h.To), h.Attempt, esc(h.By), esc(h.Reason))
	}
	_ = tw.Flush()
}

// followJob prints the job's events until a state event says it ended. In
// case that event was never published (the record is the truth; events are
// best effort), a watch on the record ends the follow shortly after the
// record reaches an end state.
func followJob(ctx context.Context, a *app, q *queue.Queue, id string) error {
	j, err := q.Get(ctx, id)
	if err != nil {
		return err
	}
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = q.WatchJob(fctx, id, func(j *queue.Job) error {
			if j.State.Terminal() {
				time.AfterFunc(3*time.Second, cancel)
				return queue.ErrStop
			}
			return nil
		})
	}()
	defer wg.Wait()
	final := j.State
	// On a terminal the load's progress draws bars; other events print above.
	var bars *jobBars
	out := a.out
	if !a.json() {
		if bars = newJobBars(a.out); bars != nil {
			defer bars.done()
			out = bars.w
		}
	}
	err = q.FollowEvents(fctx, id, func(ev queue.Event) error {
		if bars != nil && bars.show(ev) {
			return nil
		}
		if err := printJobEvent(a, out, ev); err != nil {
			return err
		}
		if ev.Kind == queue.EventState {
			final = ev.State
			if ev.State.Terminal() {
				return queue.ErrStop
			}
		}
		return nil
	})
	if errors.Is(err, context.Canceled) && ctx.Err() == nil {
		if j, gerr := q.Get(ctx, id); gerr == nil {
			final, err = j.State, nil
		}
	}
	if err != nil {
		return err
	}
	switch final {
	case queue.Verified, queue.Published:
		return nil
	}
	return &exitError{code: 1, err: fmt.Errorf("job %s ended %s", id, final)}
}

// printJobEvent prints ev to w: as JSON with -o json, else as a line.
func printJobEvent(a *app, w io.Writer, ev queue.Event) error {
	if a.json() {
		b, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", termtext.JSON(b))
		return err
	}
	var b strings.Builder
	b.WriteString(ev.Time.Local().Format(time.TimeOnly))
	b.WriteString(" ")
	switch ev.Kind {
	case queue.EventState:
		from := string(ev.From)
		if from == "" {
			from = "·"
		}
		fmt.Fprintf(&b, "%s → %s", esc(from), esc(ev.State))
	default:
		b.WriteString(esc(ev.Kind))
	}
	if ev.Attempt > 0 {
		fmt.Fprintf(&b, " [attempt %d]", ev.Attempt)
	}
	if ev.By != "" {
		fmt.Fprintf(&b, " by %s", esc(ev.By))
	}
	if ev.Message != "" {
		b.WriteString(": " + esc(ev.Message))
	}
	if len(ev.Data) > 0 {
		b.WriteString(" " + esc(ev.Data))
	}
	_, err := fmt.Fprintln(w, b.String())
	return err
}

// printQueueJSON prints v as indented JSON, with the runes encoding/json
// leaves raw but a terminal acts on escaped.
func printQueueJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", termtext.JSON(b))
	return err
}

// printJSONLine is printQueueJSON on one line.
func printJSONLine(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", termtext.JSON(b))
	return err
}

// esc shows untrusted text (a job's fields, an event's message, which may
// carry an engine's log) with its control characters escaped, on one line.
func esc[S ~string | ~[]byte](s S) string { return termtext.Escape(string(s)) }

// escArgs is esc for the text arguments of a Printf call (strings and
// string types such as queue.State); other arguments pass as they are.
func escArgs(args []any) []any {
	out := make([]any, len(args))
	for i, v := range args {
		if rv := reflect.ValueOf(v); rv.IsValid() && rv.Kind() == reflect.String {
			v = termtext.Escape(rv.String())
		}
		out[i] = v
	}
	return out
}
