// Package ghbot is agentwatt's GitHub App: vendors submit serving
// configurations by pull request on a submissions repository, maintainers
// approve results by comment.
//
// The repository holds submissions/<vendor>/<name>.yaml, VENDORS.yaml (who
// may submit for each vendor) and MAINTAINERS; the bot reads both lists from
// the default branch only, and reads a pull request's files through the
// contents API at its head SHA: it never checks out or runs anything from a
// pull request.
//
// Trust is pinned to the head SHA: an author listed for every vendor folder
// touched (or a maintainer) has each head queued at once; anyone else waits
// for a maintainer's /ok-to-test, which covers only the head it was written
// for. A new push cancels the old head's jobs, and approval given for it
// lapses.
//
// Files:
//   - config.go: Config, its Validate and defaults.
//   - bot.go: New (streams, buckets), Run (the delivery and event workers).
//   - webhook.go: the webhook handler: method, event, delivery id, content
//     type, body limit, X-Hub-Signature-256, replay refusal; an accepted
//     delivery is kept in StreamDeliveries before the 202.
//   - handle.go: pull_request deliveries: a new head, review and queue, close.
//   - review.go: the head's submission files validated, the author judged,
//     agentwatt/validate's annotations.
//   - policy.go: VENDORS.yaml and MAINTAINERS.
//   - commands.go: issue_comment deliveries: the chat-ops commands, who may
//     use each, approval and retraction.
//   - progress.go: job events to check runs; pending approvals applied.
//   - comment.go: the pull request's one status comment; Markdown escaping.
//   - record.go: the pull request's record in BucketPRs.
//   - gh.go: the GitHub REST calls (go-github v62, ghinstallation tokens).
package ghbot
