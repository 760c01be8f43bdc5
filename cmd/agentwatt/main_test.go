package main

import (
	"encoding/json"
	"os"
	"testing"
)

// childArgsEnv, when set, makes the test binary run agentwatt with the JSON
// list of arguments it holds instead of the tests. Tests use it to run a
// subcommand in a child process: the embedded S3 gateway allows one instance
// per process, and in-process NATS clients cannot follow a restarted server.
const childArgsEnv = "AGENTWATT_TEST_CHILD_ARGS"

// runMainEnv, set to "1", makes the test binary run agentwatt with its own
// arguments: a runner started in a test launches its sim engine as
// `SELF sim serve …`, SELF being the test binary, with the submission's
// engine.env (which names this variable).
const runMainEnv = "AGENTWATT_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if raw := os.Getenv(childArgsEnv); raw != "" {
		var args []string
		if err := json.Unmarshal([]byte(raw), &args); err != nil {
			panic(err)
		}
		os.Args = append([]string{"agentwatt"}, args...)
		main()
	}
	if os.Getenv(runMainEnv) == "1" {
		main()
	}
	os.Exit(m.Run())
}
