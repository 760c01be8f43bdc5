// Command agentwatt is the one binary of the agentwatt benchmark service: intake,
// queue, runner, verifier, bots and the local stack are its subcommands.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/agentwatt/agentwatt/internal/termtext"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd().ExecuteContext(ctx)
	stop()
	os.Exit(exitCode(err))
}

// exitError carries a process exit code through cobra. Commands return it when
// the code means something other than "failed" (validate: 1 invalid; verify: 1
// rejected, 2 could not verify).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// exitCode turns a command's error into the process exit code, printing it once.
// This is the one place where errors become exit codes.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(os.Stderr, "agentwatt:", termtext.Lines(ee.err.Error()))
		}
		return ee.code
	}
	if errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "agentwatt: interrupted")
		return 130
	}
	fmt.Fprintln(os.Stderr, "agentwatt:", termtext.Lines(err.Error()))
	return 1
}
