// Package retest is the retest watcher (agentwatt bot retest): it follows
// framework releases on GitHub and queues, for every published
// configuration whose submission asks for it (retest.on_new_framework_release),
// the same configuration on the new release, its image pinned to a digest.
// It also retests, on a schedule, configurations whose latest result is old.
//
// A retest is an ordinary job (queue.NewJob with RetestOf, the published job
// it derives from; trigger retest:<framework>@<version> or
// retest:scheduled@<date>; By "agentwatt-retest"): the same runner,
// verifier and approval as any other. Its job id is derived from the spec
// and the trigger, so queueing one twice is queueing it once. It counts
// against its vendor's queued-job cap as a submission does
// (bots.QueuedFull, Config.MaxQueued): over it, a release's retest stays
// pending and a scheduled one waits for the next poll (ErrQueuedFull).
//
// What the watcher trusts: the publication (results.json and the history
// entries, for what is published and what was retracted) and the queue's
// job records (for a published job's full spec). What it does not: a
// release tag (refused unless it is a plain version, since it is written
// into an image reference, a trigger and the spec) and an image tag
// (resolved to a digest through the registry API; the job carries only
// the digest-pinned reference, checked again by spec.Validate), nor the
// registry host a vendor's template names (only public addresses are
// dialled unless Config.PrivateRegistries).
//
// State, in the KV bucket agentwatt-retest (Bucket): per framework the last
// release handled and the ETag of the releases list; retests waiting for
// an image; the last scheduled retest per configuration. The first poll of
// a framework records its newest release as the baseline and retests
// nothing. Releases newer than the last handled are handled oldest first,
// the state advanced after each, and the ETag saved once all are: a
// restart neither misses a release nor queues one twice.
//
// Files:
//   - frameworks.go: frameworks.yaml (Framework, ParseFrameworks, the built-in
//     DefaultFrameworks) and how a tag becomes a version (VersionOf).
//   - releases.go: the releases of a repository through go-github, with
//     If-None-Match (a 304 is no change) and Link pagination.
//   - image.go: an image tag resolved to its digest (go-containerregistry's
//     remote.Head), ErrImageNotFound, the public-addresses-only transport.
//   - configs.go: the published configurations and their latest job, less
//     those whose latest publication was retracted.
//   - state.go: the KV bucket (Bucket, Pending).
//   - config.go: Config, Validate and the defaults.
//   - watcher.go: Watcher, New, Run (the daemon) and RunOnce (one poll).
//   - retest.go: the retest submission, enqueueing under the vendor's cap,
//     pending images with backoff, scheduled retests.
//   - report.go: Report, what one poll did, and its text form.
package retest
