// Package examples embeds the example submissions, so that `agentwatt demo`
// works from any directory with the binary alone, and `agentwatt examples`
// prints them for `agentwatt submit` outside a checkout. embed.go holds the
// files; submissions.go lists and reads them by name.
package examples

import "embed"

// Submissions holds examples/submissions/*.yaml.
//
//go:embed submissions/*.yaml
var Submissions embed.FS

// SimSubmission is the path, inside Submissions, of the sim submission that
// `agentwatt demo` submits.
const SimSubmission = "submissions/sim.yaml"
