// Package s3embed runs versitygw (github.com/versity/versitygw, embedgw)
// inside the agentwatt process as the local stack's S3 server: the POSIX
// backend keeps objects as plain files under Dir/data, their metadata
// (ETags, checksums, content types) as sidecar files under Dir/meta, and
// the root credentials in Dir/credentials.json, generated once (mode 0600)
// and reused on every restart. Restarting on the same Dir keeps every
// bucket and object.
//
//	srv, err := s3embed.Start(ctx, s3embed.Config{Dir: dir, Quiet: true}, log)
//	defer srv.Stop()
//	store, err := blob.Open(ctx, srv.BlobConfig("agentwatt"))
//
// It listens on a loopback address only (a free port by default) and
// refuses addresses that bind all interfaces: there is no TLS, and whoever
// reads Dir has the keys. Production uses a real S3 through blob.Config.
//
// Two process-wide constraints come from versitygw v1.8.0:
//   - one gateway per process (embedgw keeps package-level state): a second
//     Start fails with ErrAlreadyRunning until the first has stopped; tests
//     that need a restart with live clients use child processes;
//   - the POSIX backend changes the process's working directory to
//     Dir/data while the gateway runs, and opens objects by relative path:
//     resolve relative paths before Start and never os.Chdir while it runs.
//     Stop restores the previous working directory.
//
// Tests in other packages should use blob/blobtest, which runs the gateway
// in a child process for exactly these reasons.
//
// Known limit of the POSIX backend: a key cannot be both an object and a
// "directory" of other keys ("a" and "a/b"), since it maps keys to paths.
package s3embed
