// Package blob is agentwatt's object storage: one bucket on any S3 endpoint
// (AWS S3, MinIO, Ceph, R2, or the embedded gateway in blob/s3embed),
// reached through minio-go. The runner uploads bundles with it, the
// verifier and publisher read them, the workload registry stores workloads.
//
// A Store is opened on a Config (endpoint, credentials, bucket); Open
// creates the bucket if it is missing. Objects are named by keys such as
// "runs/<job>/<attempt>/manifest.json" and addressed outside the process
// as "s3://bucket/key" (Store.URL, ParseURL). Keys follow CheckKey, a rule
// stricter than S3's so they map onto files in the POSIX-backed embedded
// store.
//
// Integrity and failures:
//   - every upload carries a CRC32C checksum the server verifies; objects
//     over 16 MiB go up as multipart uploads (composite CRC32C per part);
//   - reads of objects stored with a full-object checksum are verified at
//     EOF; GetBytes also checks the body length against the header;
//   - network errors, throttling and 5xx answers are retried with capped
//     exponential backoff and jitter (Retry, WithRetry, WithSleep);
//     minio-go's own retries are off so this one policy is the only one;
//   - a missing object is ErrNotFound from Get, GetBytes and Stat.
//
// Tests in other packages get a live store from blob/blobtest.
package blob
