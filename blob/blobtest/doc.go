// Package blobtest gives tests in other packages a live S3 bucket: the
// embedded versitygw gateway (blob/s3embed) with a fresh bucket per call.
//
//	cfg := blobtest.Start(t)          // blob.Config for a new bucket
//	st := blobtest.Store(t)           // or an opened *blob.Store
//
// One gateway serves the whole test process. It runs in a child process —
// the test binary itself, re-executed with AGENTWATT_BLOBTEST_GATEWAY=1,
// which this package's init turns into a gateway server — for three
// reasons:
//   - it must outlive the test that first asked for it, and its temporary
//     directory must go when the test process ends, which a library cannot
//     hook without owning TestMain: the child removes its directory when
//     its stdin (a pipe from the test process) reaches EOF, which happens
//     however the test process ends, even on SIGKILL;
//   - versitygw's POSIX backend changes the process's working directory,
//     which would break relative testdata/ paths in the caller's tests;
//   - embedgw allows one gateway per process, so a package can still start
//     its own s3embed.Server in-process next to blobtest's.
//
// The child costs one exec of the test binary (well under a second) the
// first time Start is called in a process.
package blobtest
