package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/agentwatt/agentwatt/bots"
	"github.com/agentwatt/agentwatt/spec"
)

func newSubmitCmd(a *app) *cobra.Command {
	c := bots.Client{}
	var trigger string
	cmd := &cobra.Command{
		Use:   "submit FILE",
		Short: "Submit a serving configuration to an agentwatt server",
		Long: `Submit a serving configuration (a Submission YAML file) to the intake API of an
agentwatt server, authenticated with your vendor token. Prints the job id.

The job id is derived from the spec and the trigger: submitting the same file
again returns the same job. FILE "-" reads standard input ('agentwatt
examples sim | agentwatt submit -' submits the built-in example). Pass a new --trigger to benchmark it again.
The server validates the file like 'agentwatt validate' and answers with the
same FILE:LINE:COL problems when it is invalid (FILE is the file's base name,
sent in the X-Agentwatt-Filename header). A vendor may have a limited
number of jobs queued and submit at a limited rate; past either the server
answers 429 and says when to retry.`,
		Example: `  agentwatt submit examples/submissions/sim.yaml --server http://127.0.0.1:8080 --token $AGENTWATT_TOKEN
  AGENTWATT_SERVER=http://127.0.0.1:8080 AGENTWATT_TOKEN=awt_… agentwatt submit my.yaml -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if c.BaseURL == "" {
				return fmt.Errorf("--server is required (or set AGENTWATT_SERVER)")
			}
			if c.Token == "" {
				return fmt.Errorf("--token is required (or set AGENTWATT_TOKEN); 'agentwatt vendor add NAME' prints one")
			}
			body, file, err := readSubmission(cmd.InOrStdin(), args[0])
			if err != nil {
				return err
			}
			resp, err := c.Submit(cmd.Context(), body, trigger, file)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			if a.json() {
				return printJSONLine(a.out, resp)
			}
			if resp.Created {
				fmt.Fprintf(a.out, "%s\tqueued for pool %s\n", esc(resp.ID), esc(resp.Pool))
			} else {
				fmt.Fprintf(a.out, "%s\talready submitted (state %s); use --trigger to run it again\n", esc(resp.ID), esc(resp.State))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&c.BaseURL, "server", os.Getenv("AGENTWATT_SERVER"), "agentwatt server URL (env AGENTWATT_SERVER)")
	f.StringVar(&c.Token, "token", os.Getenv("AGENTWATT_TOKEN"), "vendor token (env AGENTWATT_TOKEN)")
	f.StringVar(&trigger, "trigger", "", "trigger name, at most 128 letters, digits and . _ : @ / # + = -; a new trigger makes a new job for the same spec (default \"api\")")
	return cmd
}

// readSubmission reads FILE, or standard input for "-" (then the server names
// the file "submission"). The server refuses more than spec.MaxFileSize.
func readSubmission(stdin io.Reader, file string) ([]byte, string, error) {
	if file != "-" {
		body, err := os.ReadFile(file)
		return body, file, err
	}
	body, err := io.ReadAll(io.LimitReader(stdin, spec.MaxFileSize+1))
	return body, "", err
}
