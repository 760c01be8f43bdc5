package workload

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"regexp"
	"strings"
)

// Digest names a workload by content: "sha256:" followed by 64 lower-case
// hex digits, the SHA-256 of the workload's uncompressed JSONL bytes (every
// line including its terminating newline, exactly as stored inside the zstd
// frame). Compression level and zstd version do not change it.
type Digest string

const digestPrefix = "sha256:"

// ParseDigest checks that s is a well-formed digest.
func ParseDigest(s string) (Digest, error) {
	hexPart, ok := strings.CutPrefix(s, digestPrefix)
	if !ok || len(hexPart) != sha256.Size*2 || strings.Trim(hexPart, "0123456789abcdef") != "" {
		return "", fmt.Errorf("%w: %q is not sha256:<64 lower-case hex digits>", ErrInvalidRef, s)
	}
	return Digest(s), nil
}

// Hex returns the 64 hex digits without the "sha256:" prefix.
func (d Digest) Hex() string { return strings.TrimPrefix(string(d), digestPrefix) }

// Short returns "sha256:" and the first 12 hex digits, for humans.
func (d Digest) Short() string {
	if len(d) < len(digestPrefix)+12 {
		return string(d)
	}
	return string(d[:len(digestPrefix)+12])
}

func (d Digest) String() string { return string(d) }

func digestOf(h hash.Hash) Digest { return Digest(digestPrefix + hex.EncodeToString(h.Sum(nil))) }

// DigestBytes returns the digest of uncompressed workload bytes.
func DigestBytes(b []byte) Digest {
	sum := sha256.Sum256(b)
	return Digest(digestPrefix + hex.EncodeToString(sum[:]))
}

// Ref refers to a workload in a registry: a name and, optionally, an exact
// digest. Without a digest it means whatever the name's "latest" points at.
type Ref struct {
	Name   string
	Digest Digest
}

// String formats r as "name" or "name@sha256:…".
func (r Ref) String() string {
	if r.Digest == "" {
		return r.Name
	}
	return r.Name + "@" + string(r.Digest)
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// ValidName checks a workload name: 1-64 characters of a-z, 0-9, '.', '_',
// '-', starting with a letter or digit. Names become object-store key
// segments, so nothing else is allowed.
func ValidName(name string) error {
	if !nameRE.MatchString(name) || strings.Contains(name, "..") {
		return fmt.Errorf("%w: name %q: want 1-64 of a-z 0-9 . _ - starting with a letter or digit", ErrInvalidRef, name)
	}
	return nil
}

// ParseRef parses "name" or "name@sha256:<hex>".
func ParseRef(s string) (Ref, error) {
	name, dig, hasDigest := strings.Cut(s, "@")
	if err := ValidName(name); err != nil {
		return Ref{}, err
	}
	r := Ref{Name: name}
	if hasDigest {
		d, err := ParseDigest(dig)
		if err != nil {
			return Ref{}, err
		}
		r.Digest = d
	}
	return r, nil
}
