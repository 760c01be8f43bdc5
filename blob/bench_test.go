package blob_test

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/agentwatt/agentwatt/blob/blobtest"
)

// BenchmarkPut uploads a 64 MiB object (multipart, CRC32C per part) to the
// embedded gateway; MB/s is the upload rate through loopback, including
// the gateway writing to disk.
func BenchmarkPut(b *testing.B) {
	st := blobtest.Store(b)
	data := payload(64*MiB, 11)
	ctx := context.Background()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		if err := st.Put(ctx, "bench/put", bytes.NewReader(data), int64(len(data)), ""); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGet downloads the same 64 MiB object.
func BenchmarkGet(b *testing.B) {
	st := blobtest.Store(b)
	data := payload(64*MiB, 12)
	ctx := context.Background()
	if err := st.PutBytes(ctx, "bench/get", data, ""); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		rc, err := st.Get(ctx, "bench/get")
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil || n != int64(len(data)) {
			b.Fatalf("read %d bytes, err %v", n, err)
		}
	}
}
