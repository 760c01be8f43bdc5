package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentwatt/agentwatt/queue"
)

// Shell completion: cobra's default `completion` command writes the scripts
// (bash, zsh, fish, powershell); this file completes what cobra cannot know:
// flag values and job ids.

// completionTimeout bounds a completion that asks the queue, so that TAB
// never hangs on a NATS server that does not answer.
const completionTimeout = 3 * time.Second

// completeJobIDs completes a JOB argument with the ids of the jobs in the
// queue that the command's --nats flags name, in one of states (any state
// when none), described by state, vendor and name.
func completeJobIDs(a *app, nf *natsFlags, states ...queue.State) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		parent := cmd.Context()
		if parent == nil {
			parent = context.Background()
		}
		ctx, cancel := context.WithTimeout(parent, completionTimeout)
		defer cancel()
		q, closeQ, err := connectQueue(ctx, a, nf)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		defer closeQ()
		jobs, err := q.List(ctx, queue.Filter{})
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		prefix := strings.ToLower(toComplete)
		var out []cobra.Completion
		for _, j := range jobs {
			if !strings.HasPrefix(j.ID, prefix) || (len(states) > 0 && !slices.Contains(states, j.State)) {
				continue
			}
			// Vendor and name are DNS labels (queue.ValidName) and the state
			// is the queue's own: nothing here can reach a terminal unescaped.
			out = append(out, cobra.CompletionWithDesc(j.ID, fmt.Sprintf("%s %s/%s", j.State, j.Vendor, j.Name)))
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// completeStates completes a --state flag.
func completeStates(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
	var out []cobra.Completion
	for _, s := range queue.States() {
		out = append(out, string(s))
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// registerRootCompletions completes the flags every command has.
func registerRootCompletions(root *cobra.Command) {
	_ = root.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]cobra.Completion{"text", "json"}, cobra.ShellCompDirectiveNoFileComp))
	_ = root.RegisterFlagCompletionFunc("log-level", cobra.FixedCompletions([]cobra.Completion{"trace", "debug", "info", "warn", "error"}, cobra.ShellCompDirectiveNoFileComp))
}
