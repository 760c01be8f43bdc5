package blob

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/minio/minio-go/v7/pkg/s3utils"
)

// maxKeyLen is S3's limit on a key, in bytes.
const maxKeyLen = 1024

// CheckKey reports whether key is one the Store accepts: 1-1024 bytes of
// UTF-8 without control characters, made of '/'-separated segments that are
// neither empty nor "." or "..". The rule is stricter than S3's so that keys
// map one-to-one onto files in a POSIX-backed store (the embedded gateway):
// "a//b", "/a", "a/" and "a/../b" are refused.
func CheckKey(key string) error {
	if err := checkKeyChars(key); err != nil {
		return err
	}
	if key == "" {
		return fmt.Errorf("%w: empty", ErrInvalidKey)
	}
	for seg := range strings.SplitSeq(key, "/") {
		switch seg {
		case "":
			return fmt.Errorf("%w: %q has an empty path segment", ErrInvalidKey, key)
		case ".", "..":
			return fmt.Errorf("%w: %q has a %q path segment", ErrInvalidKey, key, seg)
		}
	}
	return nil
}

// checkPrefix accepts "" and any valid key, optionally ending in "/".
func checkPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	return CheckKey(strings.TrimSuffix(prefix, "/"))
}

func checkKeyChars(key string) error {
	if len(key) > maxKeyLen {
		return fmt.Errorf("%w: %d bytes, more than %d", ErrInvalidKey, len(key), maxKeyLen)
	}
	if !utf8.ValidString(key) {
		return fmt.Errorf("%w: not UTF-8", ErrInvalidKey)
	}
	for _, r := range key {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%w: control character %U", ErrInvalidKey, r)
		}
	}
	return nil
}

// ParseURL splits "s3://bucket/key" into bucket and key. The key may be
// empty ("s3://bucket" or "s3://bucket/") or a prefix ending in "/"
// ("s3://bucket/runs/"). The key is taken literally, not percent-decoded,
// as the AWS CLI does.
func ParseURL(s string) (bucket, key string, err error) {
	rest, ok := strings.CutPrefix(s, "s3://")
	if !ok {
		return "", "", fmt.Errorf("%w: %q does not start with s3://", ErrInvalidURL, s)
	}
	bucket, key, _ = strings.Cut(rest, "/")
	if err := s3utils.CheckValidBucketNameStrict(bucket); err != nil {
		return "", "", fmt.Errorf("%w: %q: bucket %q: %v", ErrInvalidURL, s, bucket, err)
	}
	if err := checkPrefix(key); err != nil {
		return "", "", fmt.Errorf("%w: %q: %w", ErrInvalidURL, s, err)
	}
	return bucket, key, nil
}

// FormatURL is the inverse of ParseURL: "s3://bucket/key".
func FormatURL(bucket, key string) string {
	return "s3://" + bucket + "/" + key
}
