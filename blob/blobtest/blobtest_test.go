package blobtest

import (
	"context"
	"os"
	"testing"

	"github.com/minio/minio-go/v7/pkg/s3utils"
	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/blob"
	"github.com/agentwatt/agentwatt/blob/s3embed"
)

func TestStartGivesFreshBuckets(t *testing.T) {
	cwd, _ := os.Getwd()
	a, b := Start(t), Start(t)
	if a.Bucket == b.Bucket {
		t.Fatalf("two Starts gave the same bucket %q", a.Bucket)
	}
	if a.Endpoint != b.Endpoint {
		t.Errorf("two gateways in one process: %s and %s", a.Endpoint, b.Endpoint)
	}
	// The gateway's working-directory change stays in the child.
	if wd, _ := os.Getwd(); wd != cwd {
		t.Errorf("working directory changed to %q", wd)
	}
	ctx := context.Background()
	sa, err := blob.Open(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if err := sa.PutBytes(ctx, "k", []byte("in a"), ""); err != nil {
		t.Fatal(err)
	}
	sb := Store(t)
	if infos, err := sb.List(ctx, ""); err != nil || len(infos) != 0 {
		t.Errorf("a fresh bucket lists %v, %v; want empty", infos, err)
	}
}

// TestBesideInProcessGateway shows a package may run its own s3embed
// gateway in-process while blobtest's runs in the child.
func TestBesideInProcessGateway(t *testing.T) {
	cfg := Start(t)
	srv, err := s3embed.Start(context.Background(), s3embed.Config{Dir: t.TempDir(), Quiet: true}, zerolog.Nop())
	if err != nil {
		t.Fatalf("in-process gateway next to blobtest's: %v", err)
	}
	defer srv.Stop()
	if srv.Endpoint() == cfg.Endpoint {
		t.Fatal("same endpoint")
	}
	if _, err := blob.Open(context.Background(), srv.BlobConfig("mine")); err != nil {
		t.Fatal(err)
	}
}

func TestBucketName(t *testing.T) {
	tests := []struct {
		test string
		n    int64
		want string
	}{
		{"TestX", 1, "bt1-testx"},
		{"TestRoundTrip/multipart_33_MiB", 12, "bt12-testroundtrip-multipart-33-mib"},
		{"___", 3, "bt3"},
		{"Test/ÜBER--weird__name/", 4, "bt4-test-ber-weird-name"},
		{"TestAVeryLongNameThatGoesOnAndOnAndOnAndOnAndOnAndOnAndOnAndOnForever", 99999,
			"bt99999-testaverylongnamethatgoesonandonandonandonandonandon"}, // 60 bytes
	}
	for _, tt := range tests {
		got := bucketName(tt.test, tt.n)
		if got != tt.want {
			t.Errorf("bucketName(%q, %d) = %q, want %q", tt.test, tt.n, got, tt.want)
		}
		if err := s3utils.CheckValidBucketNameStrict(got); err != nil {
			t.Errorf("bucketName(%q) = %q is not a valid bucket: %v", tt.test, got, err)
		}
	}
}
