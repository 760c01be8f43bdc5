// Package kvbucket holds what every owner of a JetStream KV bucket does the
// same way: bind to a bucket, creating it where missing (Ensure), list its
// keys (Keys) and check a Replicas setting (CheckReplicas). Package queue owns the job buckets, package fleet the
// runner keys and liveness, package accounts the vendors' tokens; each
// opens its own buckets through Ensure on the one JetStream connection.
//
// Files:
//
//   - bucket.go: Ensure, Keys and CheckReplicas.
package kvbucket
