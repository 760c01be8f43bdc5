package blob

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/minio/minio-go/v7"
)

// Info describes one stored object.
type Info struct {
	Key      string
	Size     int64
	ETag     string
	Modified time.Time
}

func infoOf(oi minio.ObjectInfo) Info {
	return Info{Key: oi.Key, Size: oi.Size, ETag: oi.ETag, Modified: oi.LastModified}
}

// Get opens key for reading; the caller closes the reader. A missing key
// is ErrNotFound, reported here rather than at the first Read. The request
// that opens the object is retried; a failure mid-stream is returned by
// Read and not retried. When the server stored a full-object checksum, a
// corrupted body fails at EOF.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	obj, _, err := s.open(ctx, key)
	if err != nil {
		return nil, err // not a typed nil *minio.Object
	}
	return obj, nil
}

func (s *Store) open(ctx context.Context, key string) (*minio.Object, minio.ObjectInfo, error) {
	if err := CheckKey(key); err != nil {
		return nil, minio.ObjectInfo{}, err
	}
	var (
		obj *minio.Object
		oi  minio.ObjectInfo
	)
	err := s.do(ctx, "get", key, func(int) error {
		o, err := s.client.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{Checksum: true})
		if err == nil {
			// GetObject is lazy: Stat sends the GET and reads the headers.
			oi, err = o.Stat()
		}
		if err != nil {
			if o != nil {
				o.Close()
			}
			if isNoSuchKey(err) {
				return fmt.Errorf("blob: get %s: %w", s.URL(key), ErrNotFound)
			}
			return fmt.Errorf("blob: get %s: %w", s.URL(key), err)
		}
		obj = o
		return nil
	})
	return obj, oi, err
}

// GetBytes reads key whole, refusing (ErrTooLarge) an object over limit
// bytes without reading its body. limit < 0 means no bound.
func (s *Store) GetBytes(ctx context.Context, key string, limit int64) ([]byte, error) {
	b, _, err := s.GetBytesVersion(ctx, key, limit)
	return b, err
}

// GetBytesVersion is GetBytes that also returns the object's ETag, for a
// later PutBytesIf that must not overwrite a change made meanwhile.
func (s *Store) GetBytesVersion(ctx context.Context, key string, limit int64) ([]byte, string, error) {
	obj, oi, err := s.open(ctx, key)
	if err != nil {
		return nil, "", err
	}
	defer obj.Close()
	if limit >= 0 && oi.Size > limit {
		return nil, "", fmt.Errorf("blob: get %s: %d bytes, limit %d: %w", s.URL(key), oi.Size, limit, ErrTooLarge)
	}
	if oi.Size < 0 {
		return nil, "", fmt.Errorf("blob: get %s: server sent no size", s.URL(key))
	}
	// Read one byte past the advertised size so that a longer body is
	// caught rather than truncated; the extra room avoids a regrow.
	var buf bytes.Buffer
	buf.Grow(int(oi.Size) + bytes.MinRead)
	if _, err := buf.ReadFrom(io.LimitReader(obj, oi.Size+1)); err != nil {
		return nil, "", fmt.Errorf("blob: get %s: %w", s.URL(key), err)
	}
	if n := int64(buf.Len()); n != oi.Size {
		return nil, "", fmt.Errorf("blob: get %s: body has %d bytes, header said %d", s.URL(key), n, oi.Size)
	}
	return buf.Bytes(), oi.ETag, nil
}

// Stat returns key's Info, or ErrNotFound.
func (s *Store) Stat(ctx context.Context, key string) (Info, error) {
	if err := CheckKey(key); err != nil {
		return Info{}, err
	}
	var info Info
	err := s.do(ctx, "stat", key, func(int) error {
		oi, err := s.client.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
		if isNoSuchKey(err) {
			return fmt.Errorf("blob: stat %s: %w", s.URL(key), ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("blob: stat %s: %w", s.URL(key), err)
		}
		info = infoOf(oi)
		return nil
	})
	return info, err
}
