package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/agentwatt/agentwatt/spec"
)

// validateResult is one file's verdict, as -o json prints it.
type validateResult struct {
	File     string         `json:"file"`
	Valid    bool           `json:"valid"`
	Pool     string         `json:"pool,omitempty"`
	Digest   string         `json:"digest,omitempty"`
	Problems []spec.Problem `json:"problems,omitempty"`
	Error    string         `json:"error,omitempty"` // the file could not be read
}

func newValidateCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "validate FILE...",
		Short: "Check submission files against the submission spec v1",
		Long: `Check submission files (YAML, apiVersion agentwatt.dev/v1, kind Submission)
against the spec and the rules they name, as the intake API will.

Every problem of every file is printed, one per line, as FILE:LINE:COL: message
(not only the first): syntax errors, unknown fields (with the field you likely
meant), duplicate keys, wrong types, missing fields, an image not pinned by
@sha256: digest, an engine.command (a submission never names a program for
the runner; the sim is engine.sim_profile), control characters in any string,
a credential written in engine.env or engine.args (name it in engine.secrets),
a ready_timeout outside the profile's bounds, unknown precisions, accelerators,
topologies, tiers, profiles or rules versions, alias bombs, files over 1 MiB and files that are not UTF-8. A valid file prints
FILE: ok; -o json adds its pool and digest. FILE "-" reads standard input.

Exit status: 0 when every file is valid, 1 when a file is invalid, 2 when a
file could not be read.`,
		Example: `  agentwatt validate examples/submissions/*.yaml
  agentwatt validate -o json my-submission.yaml`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			results := make([]validateResult, 0, len(args))
			invalid, unreadable := 0, 0
			for _, file := range args {
				r := validateFile(cmd.InOrStdin(), file)
				switch {
				case r.Error != "":
					unreadable++
				case !r.Valid:
					invalid++
				}
				results = append(results, r)
			}
			if err := printValidateResults(a, results); err != nil {
				return err
			}
			a.log.Debug().Int("files", len(args)).Int("invalid", invalid).Int("unreadable", unreadable).Msg("validate")
			switch {
			case unreadable > 0:
				return &exitError{code: 2}
			case invalid > 0:
				return &exitError{code: 1}
			}
			return nil
		},
	}
	return cmd
}

// validateFile parses one file ("-" is stdin) into its result.
func validateFile(stdin io.Reader, file string) validateResult {
	r := validateResult{File: file}
	var (
		sub *spec.Submission
		err error
	)
	if file == "-" {
		r.File = "<stdin>"
		var data []byte
		data, err = io.ReadAll(io.LimitReader(stdin, spec.MaxFileSize+1))
		if err == nil {
			sub, err = spec.Parse(r.File, data)
		}
	} else {
		sub, err = spec.ParseFile(file)
	}
	var probs spec.Problems
	switch {
	case err == nil:
		r.Valid, r.Pool, r.Digest = true, sub.Pool(), sub.Digest()
	case errors.As(err, &probs):
		r.Problems = probs
	default:
		r.Error = err.Error()
	}
	return r
}

func printValidateResults(a *app, results []validateResult) error {
	if a.json() {
		enc := json.NewEncoder(a.out)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(results)
	}
	for _, r := range results {
		switch {
		case r.Error != "":
			fmt.Fprintf(a.out, "%s: cannot read: %s\n", esc(r.File), esc(r.Error))
		case r.Valid:
			fmt.Fprintf(a.out, "%s: ok\n", esc(r.File))
		default:
			for _, p := range r.Problems {
				fmt.Fprintln(a.out, esc(p.String()))
			}
		}
	}
	return nil
}
