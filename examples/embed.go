// Package examples embeds the example submissions, so that `agentwatt demo`
// works from any directory with the binary alone.
package examples

import "embed"

// Submissions holds examples/submissions/*.yaml.
//
//go:embed submissions/*.yaml
var Submissions embed.FS

// SimSubmission is the path, inside Submissions, of the sim submission that
// `agentwatt demo` submits.
const SimSubmission = "submissions/sim.yaml"
