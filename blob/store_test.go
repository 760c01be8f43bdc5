package blob_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/agentwatt/agentwatt/blob"
	"github.com/agentwatt/agentwatt/blob/blobtest"
)

const MiB = 1 << 20

// payload is n deterministic pseudo-random bytes.
func payload(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16)})
	r.Read(b)
	return b
}

// onlyReader hides every interface but io.Reader (no Seek, no ReadAt).
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

func sum(b []byte) [32]byte { return sha256.Sum256(b) }

func readAll(t *testing.T, st *blob.Store, key string) []byte {
	t.Helper()
	rc, err := st.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get(%s): %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	st := blobtest.Store(t)
	ctx := context.Background()
	tests := []struct {
		name string
		size int
		put  func(key string, b []byte) error
	}{
		{"empty bytes", 0, func(k string, b []byte) error { return st.PutBytes(ctx, k, b, "") }},
		{"empty stream", 0, func(k string, b []byte) error { return st.Put(ctx, k, onlyReader{bytes.NewReader(b)}, -1, "") }},
		{"one byte", 1, func(k string, b []byte) error { return st.PutBytes(ctx, k, b, "text/plain") }},
		{"small stream unknown size", 300 << 10, func(k string, b []byte) error {
			return st.Put(ctx, k, onlyReader{bytes.NewReader(b)}, -1, "")
		}},
		{"single put limit", 16 * MiB, func(k string, b []byte) error { return st.PutBytes(ctx, k, b, "") }},
		{"multipart sized stream", 16*MiB + 1, func(k string, b []byte) error {
			return st.Put(ctx, k, onlyReader{bytes.NewReader(b)}, int64(len(b)), "")
		}},
		{"multipart 33 MiB bytes", 33 * MiB, func(k string, b []byte) error { return st.PutBytes(ctx, k, b, "") }},
		{"multipart 40 MiB stream unknown size", 40 * MiB, func(k string, b []byte) error {
			return st.Put(ctx, k, onlyReader{bytes.NewReader(b)}, -1, "")
		}},
		{"multipart 34 MiB file", 34 * MiB, func(k string, b []byte) error {
			path := filepath.Join(t.TempDir(), "f")
			if err := os.WriteFile(path, b, 0o600); err != nil {
				return err
			}
			return st.PutFile(ctx, k, path)
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := payload(tt.size, uint64(i))
			key := "rt/" + tt.name
			if err := tt.put(key, want); err != nil {
				t.Fatalf("put: %v", err)
			}
			if got := readAll(t, st, key); sum(got) != sum(want) {
				t.Fatalf("Get: got %d bytes sha256 %x, want %d bytes %x", len(got), sum(got), len(want), sum(want))
			}
			got, err := st.GetBytes(ctx, key, int64(tt.size))
			if err != nil || sum(got) != sum(want) {
				t.Fatalf("GetBytes: got %d bytes, err %v; want %d bytes", len(got), err, len(want))
			}
			info, err := st.Stat(ctx, key)
			if err != nil || info.Size != int64(tt.size) || info.Key != key || info.ETag == "" {
				t.Fatalf("Stat = %+v, %v; want key %s size %d with an ETag", info, err, key, tt.size)
			}
			if time.Since(info.Modified) > time.Hour || info.Modified.After(time.Now().Add(time.Minute)) {
				t.Errorf("Stat.Modified = %v, want about now", info.Modified)
			}
		})
	}
}

// TestPutFromOffset checks that a seekable reader is uploaded from where it
// stands, not from its start, also when Put retries.
func TestPutFromOffset(t *testing.T) {
	st := blobtest.Store(t)
	ctx := context.Background()
	for _, n := range []int{1000, 17 * MiB} {
		b := payload(n, 7)
		r := bytes.NewReader(b)
		r.Seek(100, io.SeekStart)
		if err := st.Put(ctx, "off", r, -1, ""); err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, st, "off"); sum(got) != sum(b[100:]) {
			t.Fatalf("size %d: got %d bytes, want the %d after offset 100", n, len(got), n-100)
		}
	}
}

// TestPutShortBody checks that a reader ending before the declared size
// fails the upload and commits nothing.
func TestPutShortBody(t *testing.T) {
	st := blobtest.Store(t)
	ctx := context.Background()
	for _, tt := range []struct {
		name        string
		have, claim int
		seekable    bool
	}{
		{"single stream", 10, 11, false},
		{"multipart stream", 20 * MiB, 40 * MiB, false},
		{"single seekable", 10, 11, true},
		{"multipart seekable", 20 * MiB, 40 * MiB, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var r io.Reader = bytes.NewReader(payload(tt.have, 1))
			if !tt.seekable {
				r = onlyReader{r}
			}
			err := st.Put(ctx, "short", r, int64(tt.claim), "")
			if err == nil {
				t.Fatal("Put of a short body succeeded")
			}
			if _, err := st.Stat(ctx, "short"); !errors.Is(err, blob.ErrNotFound) {
				t.Fatalf("Stat after failed Put = %v, want ErrNotFound", err)
			}
		})
	}
}

func TestStatListDelete(t *testing.T) {
	st := blobtest.Store(t)
	ctx := context.Background()
	keys := []string{"runs/j2/1/b", "runs/j1/1/manifest.json", "runs/j1/2/x", "workloads/w", "runs/j1/1/a"}
	for i, k := range keys {
		if err := st.PutBytes(ctx, k, payload(i+1, uint64(i)), "application/json"); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		prefix string
		want   []string
	}{
		{"", []string{"runs/j1/1/a", "runs/j1/1/manifest.json", "runs/j1/2/x", "runs/j2/1/b", "workloads/w"}},
		{"runs/j1/", []string{"runs/j1/1/a", "runs/j1/1/manifest.json", "runs/j1/2/x"}},
		{"runs/j1/1/", []string{"runs/j1/1/a", "runs/j1/1/manifest.json"}},
		{"runs/j1/1/m", []string{"runs/j1/1/manifest.json"}},
		{"nothing/", nil},
	}
	for _, tt := range tests {
		infos, err := st.List(ctx, tt.prefix)
		if err != nil {
			t.Fatalf("List(%q): %v", tt.prefix, err)
		}
		var got []string
		for _, in := range infos {
			got = append(got, in.Key)
			if in.Size <= 0 || in.ETag == "" || in.Modified.IsZero() {
				t.Errorf("List(%q) entry %+v lacks size, ETag or time", tt.prefix, in)
			}
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("List(%q) = %v, want %v", tt.prefix, got, tt.want)
		}
	}
	if _, err := st.List(ctx, "a//b"); !errors.Is(err, blob.ErrInvalidKey) {
		t.Errorf("List(bad prefix) = %v, want ErrInvalidKey", err)
	}

	info, err := st.Stat(ctx, "runs/j1/1/manifest.json")
	if err != nil || info.Size != 2 {
		t.Fatalf("Stat = %+v, %v; want size 2", info, err)
	}
	if err := st.Delete(ctx, "runs/j1/1/manifest.json"); err != nil {
		t.Fatal(err)
	}
	if err := st.Delete(ctx, "runs/j1/1/manifest.json"); err != nil {
		t.Fatalf("second Delete = %v, want nil (idempotent)", err)
	}
	if _, err := st.Stat(ctx, "runs/j1/1/manifest.json"); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("Stat after Delete = %v, want ErrNotFound", err)
	}
	if _, err := st.Get(ctx, "runs/j1/1/manifest.json"); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("Get after Delete = %v, want ErrNotFound", err)
	}
	if _, err := st.GetBytes(ctx, "never/written", 10); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("GetBytes(missing) = %v, want ErrNotFound", err)
	}
	infos, _ := st.List(ctx, "runs/j1/1/")
	if len(infos) != 1 || infos[0].Key != "runs/j1/1/a" {
		t.Errorf("List after Delete = %+v, want only runs/j1/1/a", infos)
	}
}

func TestGetBytesBound(t *testing.T) {
	st := blobtest.Store(t)
	ctx := context.Background()
	b := payload(1000, 3)
	if err := st.PutBytes(ctx, "k", b, ""); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		limit   int64
		wantErr error
	}{
		{-1, nil}, {1000, nil}, {5000, nil}, {999, blob.ErrTooLarge}, {0, blob.ErrTooLarge},
	}
	for _, tt := range tests {
		got, err := st.GetBytes(ctx, "k", tt.limit)
		if !errors.Is(err, tt.wantErr) {
			t.Fatalf("GetBytes(limit %d) err = %v, want %v", tt.limit, err, tt.wantErr)
		}
		if err == nil && !bytes.Equal(got, b) {
			t.Fatalf("GetBytes(limit %d) returned %d bytes, want the 1000 stored", tt.limit, len(got))
		}
	}
}

func TestInvalidKeyRefusedBeforeRequest(t *testing.T) {
	st := blobtest.Store(t)
	ctx := context.Background()
	for _, key := range []string{"", "/a", "a/../b", "a//b", "a/"} {
		checks := map[string]error{
			"Put":      st.PutBytes(ctx, key, []byte("x"), ""),
			"Delete":   st.Delete(ctx, key),
			"GetBytes": func() error { _, err := st.GetBytes(ctx, key, -1); return err }(),
			"Stat":     func() error { _, err := st.Stat(ctx, key); return err }(),
		}
		for op, err := range checks {
			if !errors.Is(err, blob.ErrInvalidKey) {
				t.Errorf("%s(%q) = %v, want ErrInvalidKey", op, key, err)
			}
		}
	}
}

// TestChecksums checks with a plain minio-go client that the server stored
// a CRC32C for both upload kinds and that it verifies the header: a wrong
// CRC32C is refused.
func TestChecksums(t *testing.T) {
	cfg := blobtest.Start(t)
	ctx := context.Background()
	st, err := blob.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds: credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""), Region: cfg.Region,
		TrailingHeaders: true, MaxRetries: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, key string
		size      int
		wantMode  string
	}{
		{"single", "one", 5000, "FULL_OBJECT"},
		{"multipart", "many", 20 * MiB, "COMPOSITE"},
	} {
		if err := st.PutBytes(ctx, tt.key, payload(tt.size, 9), ""); err != nil {
			t.Fatal(err)
		}
		oi, err := raw.StatObject(ctx, cfg.Bucket, tt.key, minio.StatObjectOptions{Checksum: true})
		if err != nil {
			t.Fatal(err)
		}
		if oi.ChecksumCRC32C == "" || oi.ChecksumMode != tt.wantMode {
			t.Errorf("%s: stored CRC32C %q mode %q, want a CRC32C in mode %s", tt.name, oi.ChecksumCRC32C, oi.ChecksumMode, tt.wantMode)
		}
	}
	_, err = raw.PutObject(ctx, cfg.Bucket, "bad", bytes.NewReader([]byte("hello")), 5, minio.PutObjectOptions{
		DisableMultipart: true,
		UserMetadata:     map[string]string{"x-amz-checksum-crc32c": "AAAAAA=="},
	})
	if err == nil {
		t.Fatal("server accepted a body with a wrong CRC32C")
	}
	if _, err := st.Stat(ctx, "bad"); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("Stat(bad) = %v, want ErrNotFound", err)
	}
}

func TestOpen(t *testing.T) {
	cfg := blobtest.Start(t)
	ctx := context.Background()
	if _, err := blob.Open(ctx, cfg); err != nil {
		t.Fatalf("Open on an existing bucket: %v", err)
	}
	fresh := cfg
	fresh.Bucket = cfg.Bucket + "-new"
	st, err := blob.Open(ctx, fresh)
	if err != nil {
		t.Fatalf("Open creating a bucket: %v", err)
	}
	if got := st.URL("a/b"); got != "s3://"+fresh.Bucket+"/a/b" {
		t.Errorf("URL = %q", got)
	}

	var sleeps int
	bad := cfg
	bad.SecretKey = "wrong"
	_, err = blob.Open(ctx, bad, blob.WithSleep(func(context.Context, time.Duration) error { sleeps++; return nil }))
	if err == nil {
		t.Fatal("Open with a wrong secret succeeded")
	}
	if sleeps != 0 {
		t.Errorf("wrong credentials were retried %d times, want 0", sleeps)
	}
	if _, err := blob.Open(ctx, blob.Config{}); !errors.Is(err, blob.ErrInvalidConfig) {
		t.Errorf("Open(empty config) = %v, want ErrInvalidConfig", err)
	}
}

// A conditional put refuses to overwrite a change made since the read, on
// the real S3 server (versitygw checks the precondition under its publish
// lock), and an IfAbsent put refuses an object that exists.
func TestPutBytesIf(t *testing.T) {
	st := blobtest.Store(t)
	ctx := context.Background()
	const key = "published/results.json"
	if err := st.PutBytesIf(ctx, key, []byte("v1"), "application/json", blob.Condition{IfAbsent: true}); err != nil {
		t.Fatalf("first IfAbsent put: %v", err)
	}
	if err := st.PutBytesIf(ctx, key, []byte("other"), "application/json", blob.Condition{IfAbsent: true}); !errors.Is(err, blob.ErrPrecondition) {
		t.Fatalf("IfAbsent put over an object: %v, want ErrPrecondition", err)
	}
	b, etag, err := st.GetBytesVersion(ctx, key, 1<<10)
	if err != nil || string(b) != "v1" || etag == "" {
		t.Fatalf("GetBytesVersion = %q, %q, %v", b, etag, err)
	}
	// Another writer changes the object after our read.
	if err := st.PutBytes(ctx, key, []byte("v2 by another writer"), "application/json"); err != nil {
		t.Fatal(err)
	}
	if err := st.PutBytesIf(ctx, key, []byte("v2 from a stale read"), "application/json", blob.Condition{IfMatch: etag}); !errors.Is(err, blob.ErrPrecondition) {
		t.Fatalf("put with a stale ETag: %v, want ErrPrecondition", err)
	}
	b, etag, err = st.GetBytesVersion(ctx, key, 1<<10)
	if err != nil || string(b) != "v2 by another writer" {
		t.Fatalf("after the refused put: %q, %v", b, err)
	}
	if err := st.PutBytesIf(ctx, key, []byte("v3"), "application/json", blob.Condition{IfMatch: etag}); err != nil {
		t.Fatalf("put with the current ETag: %v", err)
	}
	if b, err := st.GetBytes(ctx, key, 1<<10); err != nil || string(b) != "v3" {
		t.Fatalf("after the conditional put: %q, %v", b, err)
	}
}
