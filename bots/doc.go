// Package bots owns the HTTP intake API, one of the ways a submission
// reaches the queue (vendors submit a spec with a bearer token); package
// bots/ghbot is the other, the GitHub App for pull requests.
//
// Every path validates the spec with package spec, checks that the caller may
// submit for the spec's vendor, pins the workload to its digest and enqueues the
// job through package queue, where identical submissions are idempotent.
//
// Files:
//   - intake.go: the routes, submission and the trigger header.
//   - auth.go: bearer tokens (a vendor's or a maintainer's, checked by package
//     accounts through Authenticator) and who may see a job.
//   - jobs.go: the job API: one job, paginated lists, cancel, engine.env redaction.
//   - limits.go: per-vendor rate limits and the queued-job cap (429, Retry-After).
//   - server.go: the timeouts, header limit and connection cap of every HTTP
//     server agentwatt starts for the API.
//   - client.go: the client of the API, for `agentwatt submit` and tests.
//
// Whatever the headers can decide (token, role, trigger, rate) is decided
// before a request's body is read, so that nobody without a token makes the
// server read or hold a body.
package bots
