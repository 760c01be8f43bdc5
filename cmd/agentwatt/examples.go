package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/agentwatt/agentwatt/examples"
)

func newExamplesCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "examples [NAME]",
		Short: "List the example submissions built into this binary, or print one",
		Long: `List the example submissions built into this binary (the files of
examples/submissions/ in the repository), or print the one called NAME, so
that a submission can be started, validated and submitted without a checkout.
-o json lists them as JSON; with NAME it prints the YAML as it is.`,
		Example: `  agentwatt examples
  agentwatt examples sim > my-submission.yaml
  agentwatt validate my-submission.yaml && agentwatt submit my-submission.yaml`,
		Args: cobra.MaximumNArgs(1),
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
			list, _ := examples.List()
			names := make([]cobra.Completion, len(list))
			for i, e := range list {
				names[i] = cobra.CompletionWithDesc(e.Name, e.Summary)
			}
			return names, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				data, err := examples.Read(args[0])
				if err != nil {
					return err
				}
				_, err = a.out.Write(data)
				return err
			}
			list, err := examples.List()
			if err != nil {
				return err
			}
			if a.json() {
				enc := json.NewEncoder(a.out)
				enc.SetIndent("", "  ")
				enc.SetEscapeHTML(false)
				return enc.Encode(list)
			}
			tw := tabwriter.NewWriter(a.out, 0, 4, 2, ' ', 0)
			for _, e := range list {
				fmt.Fprintf(tw, "%s\t%s\n", e.Name, e.Summary)
			}
			return tw.Flush()
		},
	}
}
