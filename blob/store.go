package blob

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/rs/zerolog"
)

// Store reads and writes objects in one bucket. It is safe for concurrent
// use.
type Store struct {
	client *minio.Client
	bucket string
	retry  Retry
	sleep  SleepFunc
	log    zerolog.Logger

	transport http.RoundTripper
}

// Option changes how Open builds a Store.
type Option func(*Store)

// WithRetry sets the retry policy (DefaultRetry otherwise). Attempts below
// 1 count as 1: no retries.
func WithRetry(r Retry) Option {
	return func(s *Store) {
		r.Attempts = max(r.Attempts, 1)
		s.retry = r
	}
}

// WithSleep replaces the wait between retries; tests pass one that
// records the waits and returns at once.
func WithSleep(f SleepFunc) Option { return func(s *Store) { s.sleep = f } }

// WithLogger sets the logger for retries (zerolog.Nop otherwise).
func WithLogger(l zerolog.Logger) Option { return func(s *Store) { s.log = l } }

// WithTransport sets the HTTP transport (minio-go's default otherwise).
func WithTransport(rt http.RoundTripper) Option { return func(s *Store) { s.transport = rt } }

// Open validates cfg, connects, and creates the bucket when it is missing.
// It makes requests, so it fails when the endpoint is unreachable or the
// credentials are wrong (after the retry policy's attempts).
func Open(ctx context.Context, cfg Config, opts ...Option) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	host, secure, err := cfg.hostAndTLS()
	if err != nil {
		return nil, err // unreachable: Validate checked it
	}
	s := &Store{bucket: cfg.Bucket, retry: DefaultRetry, sleep: sleepCtx, log: zerolog.Nop()}
	for _, o := range opts {
		o(s)
	}
	s.client, err = minio.New(host, &minio.Options{
		Creds:           credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:          secure,
		Region:          cfg.Region,
		Transport:       s.transport,
		TrailingHeaders: true, // required for PutObjectOptions.Checksum
		MaxRetries:      1,    // our policy retries, with our sleep
	})
	if err != nil {
		return nil, fmt.Errorf("blob: open %s: %w", host, err)
	}
	if err := s.ensureBucket(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Store) ensureBucket(ctx context.Context) error {
	return s.do(ctx, "make bucket", "", func(int) error {
		ok, err := s.client.BucketExists(ctx, s.bucket)
		if err != nil {
			return fmt.Errorf("blob: check bucket %s: %w", s.bucket, err)
		}
		if ok {
			return nil
		}
		err = s.client.MakeBucket(ctx, s.bucket, minio.MakeBucketOptions{})
		var er minio.ErrorResponse
		if errors.As(err, &er) && er.Code == minio.BucketAlreadyOwnedByYou {
			return nil // created concurrently by us
		}
		if err != nil {
			return fmt.Errorf("blob: make bucket %s: %w", s.bucket, err)
		}
		return nil
	})
}

// Bucket is the Store's bucket.
func (s *Store) Bucket() string { return s.bucket }

// URL is the object's address, "s3://bucket/key".
func (s *Store) URL(key string) string { return FormatURL(s.bucket, key) }

// isNoSuchKey reports S3's "no such key" (a 404 HEAD is mapped to it by
// minio-go too).
func isNoSuchKey(err error) bool {
	var er minio.ErrorResponse
	return errors.As(err, &er) && er.Code == minio.NoSuchKey
}
