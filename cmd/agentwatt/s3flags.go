package main

import (
	"context"
	"fmt"
	"os"
	"strconv"

	"github.com/spf13/pflag"

	"github.com/agentwatt/agentwatt/blob"
)

// s3Flags are the object-storage flags shared by every command that talks
// to S3. Each defaults to its AGENTWATT_S3_* environment variable, which
// 'agentwatt local' writes into its env file.
type s3Flags struct {
	endpoint, accessKey, secretKey, bucket, region string
	secure                                         bool
}

// addS3Flags registers --s3-endpoint, --s3-access-key, --s3-secret-key,
// --s3-bucket, --s3-region and --s3-secure on fs.
func addS3Flags(fs *pflag.FlagSet, f *s3Flags) {
	secure, _ := strconv.ParseBool(os.Getenv("AGENTWATT_S3_SECURE"))
	bucket := os.Getenv("AGENTWATT_S3_BUCKET")
	if bucket == "" {
		bucket = "agentwatt"
	}
	fs.StringVar(&f.endpoint, "s3-endpoint", os.Getenv("AGENTWATT_S3_ENDPOINT"), "S3 endpoint, host:port or http(s)://host[:port] (env AGENTWATT_S3_ENDPOINT)")
	fs.StringVar(&f.accessKey, "s3-access-key", os.Getenv("AGENTWATT_S3_ACCESS_KEY"), "S3 access key (env AGENTWATT_S3_ACCESS_KEY)")
	fs.StringVar(&f.secretKey, "s3-secret-key", os.Getenv("AGENTWATT_S3_SECRET_KEY"), "S3 secret key (env AGENTWATT_S3_SECRET_KEY)")
	fs.StringVar(&f.bucket, "s3-bucket", bucket, "S3 bucket (env AGENTWATT_S3_BUCKET)")
	fs.StringVar(&f.region, "s3-region", os.Getenv("AGENTWATT_S3_REGION"), "S3 region; empty asks the server (env AGENTWATT_S3_REGION)")
	fs.BoolVar(&f.secure, "s3-secure", secure, "use HTTPS for a host:port endpoint (env AGENTWATT_S3_SECURE)")
}

// config is the blob configuration the flags describe.
func (f *s3Flags) config() blob.Config {
	return blob.Config{Endpoint: f.endpoint, AccessKey: f.accessKey, SecretKey: f.secretKey,
		Bucket: f.bucket, Secure: f.secure, Region: f.region}
}

// openStore opens the bucket the flags name, creating it when missing.
func openStore(ctx context.Context, f *s3Flags) (*blob.Store, error) {
	if f.endpoint == "" {
		return nil, fmt.Errorf("no S3 endpoint: pass --s3-endpoint or set AGENTWATT_S3_ENDPOINT (. the env file 'agentwatt local' prints)")
	}
	st, err := blob.Open(ctx, f.config())
	if err != nil {
		return nil, fmt.Errorf("open s3 bucket %q at %s: %w", f.bucket, f.endpoint, err)
	}
	return st, nil
}
