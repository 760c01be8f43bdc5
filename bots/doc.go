// Package bots owns the ways a submission reaches the queue: the HTTP intake API
// (vendors submit a spec with a bearer token), and later the GitHub webhook bot,
// chat-ops commands and the retest watcher.
//
// Every path validates the spec with package spec, checks that the caller may
// submit for the spec's vendor, pins the workload to its digest and enqueues the
// job through package queue, where identical submissions are idempotent.
package bots
