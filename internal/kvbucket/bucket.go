package kvbucket

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Ensure binds to the bucket kc names, creating it where missing. An
// existing bucket is updated to kc only when replicas is set (servers, which
// own the configuration), and left as it is when replicas is 0 (the CLI,
// which must never rewrite a cluster's configuration); a bucket created with
// replicas 0 gets one replica.
func Ensure(ctx context.Context, js jetstream.JetStream, kc jetstream.KeyValueConfig, replicas int) (jetstream.KeyValue, error) {
	kc.Replicas = max(replicas, 1)
	kv, err := js.KeyValue(ctx, kc.Bucket)
	switch {
	case errors.Is(err, jetstream.ErrBucketNotFound):
		kv, err = js.CreateKeyValue(ctx, kc)
		if errors.Is(err, jetstream.ErrBucketExists) {
			kv, err = js.KeyValue(ctx, kc.Bucket) // created meanwhile by another process
		}
	case err == nil && replicas != 0:
		kv, err = js.CreateOrUpdateKeyValue(ctx, kc)
	}
	if err != nil {
		return nil, fmt.Errorf("kv bucket %s: %w", kc.Bucket, err)
	}
	return kv, nil
}

// Keys lists a bucket's keys (matching filters, if any), sorted and without
// the duplicates a listing under concurrent writes may report. A listing is
// a KV watcher that ends when it has seen the last entry; when that entry
// expires (TTL buckets) between the watcher's start and its delivery,
// nats.go never marks the listing done. So each try has its own short
// deadline, and a try that runs out is retried.
func Keys(ctx context.Context, kv jetstream.KeyValue, filters ...string) ([]string, error) {
	const tries, perTry = 4, 10 * time.Second
	for try := 1; ; try++ {
		keys, err := listOnce(ctx, kv, perTry, filters)
		if err == nil || ctx.Err() != nil || try == tries || !errors.Is(err, context.DeadlineExceeded) {
			return keys, err
		}
	}
}

func listOnce(ctx context.Context, kv jetstream.KeyValue, timeout time.Duration, filters []string) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var (
		lister jetstream.KeyLister
		err    error
	)
	if len(filters) > 0 {
		lister, err = kv.ListKeysFiltered(ctx, filters...)
	} else {
		lister, err = kv.ListKeys(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("list keys of %s: %w", kv.Bucket(), err)
	}
	var keys []string
	for k := range lister.Keys() {
		keys = append(keys, k)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list keys of %s: %w", kv.Bucket(), err)
	}
	slices.Sort(keys)
	return slices.Compact(keys), nil
}

// CheckReplicas is the one rule for a bucket's Replicas setting: 1, 3 or 5
// (a NATS cluster keeps an odd number of copies), or 0 to bind to what
// exists. The error is a plain sentence; callers wrap it with their own
// sentinel and field name.
func CheckReplicas(n int) error {
	switch n {
	case 0, 1, 3, 5:
		return nil
	}
	return fmt.Errorf("%d: want 1, 3 or 5 (0: bind to what exists)", n)
}
