package blob

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/minio/minio-go/v7"
)

// List returns every object whose key starts with prefix (recursively,
// not split at "/"), sorted by key. An empty prefix lists the bucket. A
// failed listing is retried from the start.
func (s *Store) List(ctx context.Context, prefix string) ([]Info, error) {
	if err := checkPrefix(prefix); err != nil {
		return nil, err
	}
	var out []Info
	err := s.do(ctx, "list", prefix, func(int) error {
		out = out[:0]
		// Cancelling on return stops minio-go's lister goroutine should
		// we leave the loop early.
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		for oi := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
			if oi.Err != nil {
				return fmt.Errorf("blob: list %s: %w", s.URL(prefix), oi.Err)
			}
			out = append(out, infoOf(oi))
		}
		return ctx.Err()
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b Info) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// Delete removes key. Deleting a missing key succeeds (S3 semantics), so
// Delete is safe to repeat.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	return s.do(ctx, "delete", key, func(int) error {
		if err := s.client.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{}); err != nil {
			return fmt.Errorf("blob: delete %s: %w", s.URL(key), err)
		}
		return nil
	})
}
