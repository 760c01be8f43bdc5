package queue

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// RunnerKey is an enrolled runner signing key. Bundles signed with it are
// trusted by the verifier.
type RunnerKey struct {
	Name        string            `json:"name"`
	PublicKey   ed25519.PublicKey `json:"public_key"` // base64 in JSON
	Fingerprint string            `json:"fingerprint"`
	TrustedBy   string            `json:"trusted_by"`
	TrustedAt   time.Time         `json:"trusted_at"`
}

// Fingerprint names a public key: "sha256:" and the hex sha256 of its 32 bytes.
func Fingerprint(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// TrustRunnerKey enrols pub under name, recording who did it. Enrolling the
// same key again is a no-op; a different key under an enrolled name is
// refused with ErrRunnerKeyConflict (revoke the old one first).
func (q *Queue) TrustRunnerKey(ctx context.Context, name string, pub ed25519.PublicKey, by string) error {
	if !labelRe.MatchString(name) {
		return invalidf("runner key name %q: want a DNS label", name)
	}
	if len(pub) != ed25519.PublicKeySize {
		return invalidf("runner key %s: %d bytes, want an ed25519 public key (%d)", name, len(pub), ed25519.PublicKeySize)
	}
	if by == "" {
		return invalidf("runner key %s: who trusts it (by) is empty", name)
	}
	rec := RunnerKey{Name: name, PublicKey: pub, Fingerprint: Fingerprint(pub), TrustedBy: by, TrustedAt: q.now().UTC()}
	data, _ := json.Marshal(rec)
	_, err := q.runnerKeys.Create(ctx, name, data)
	if errors.Is(err, jetstream.ErrKeyExists) {
		old, gerr := q.RunnerKey(ctx, name)
		if gerr != nil {
			return gerr
		}
		if bytes.Equal(old.PublicKey, pub) {
			return nil
		}
		return fmt.Errorf("runner key %s (%s): %w", name, old.Fingerprint, ErrRunnerKeyConflict)
	}
	if err != nil {
		return fmt.Errorf("trust runner key %s: %w", name, err)
	}
	q.log.Info().Str("key", name).Str("fingerprint", rec.Fingerprint).Str("by", by).Msg("runner key trusted")
	return nil
}

// RunnerKey returns the key enrolled under name, or ErrRunnerKeyNotFound.
func (q *Queue) RunnerKey(ctx context.Context, name string) (RunnerKey, error) {
	e, err := q.runnerKeys.Get(ctx, name)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrInvalidKey) {
		return RunnerKey{}, fmt.Errorf("runner key %s: %w", name, ErrRunnerKeyNotFound)
	}
	if err != nil {
		return RunnerKey{}, fmt.Errorf("runner key %s: %w", name, err)
	}
	var k RunnerKey
	if err := json.Unmarshal(e.Value(), &k); err != nil {
		return RunnerKey{}, fmt.Errorf("runner key %s: decode: %w", name, err)
	}
	return k, nil
}

// RevokeRunnerKey removes an enrolled key; bundles signed with it are no
// longer trusted. The bucket keeps the revoked record in its history.
func (q *Queue) RevokeRunnerKey(ctx context.Context, name string) error {
	if _, err := q.RunnerKey(ctx, name); err != nil {
		return err
	}
	if err := q.runnerKeys.Delete(ctx, name); err != nil {
		return fmt.Errorf("revoke runner key %s: %w", name, err)
	}
	return nil
}

// TrustedRunnerKeys returns every enrolled key by name.
func (q *Queue) TrustedRunnerKeys(ctx context.Context) (map[string]RunnerKey, error) {
	names, err := bucketKeys(ctx, q.runnerKeys)
	if err != nil {
		return nil, err
	}
	out := make(map[string]RunnerKey, len(names))
	for _, n := range names {
		k, err := q.RunnerKey(ctx, n)
		if errors.Is(err, ErrRunnerKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[n] = k
	}
	return out, nil
}

// ParsePublicKey reads an ed25519 public key in one of two forms:
//   - PEM, type "PUBLIC KEY", PKIX (what `openssl pkey -pubout` and Go's
//     x509.MarshalPKIXPublicKey write);
//   - the 32 raw key bytes in standard or URL-safe base64, padded or not,
//     surrounding whitespace ignored.
func ParsePublicKey(data []byte) (ed25519.PublicKey, error) {
	if block, _ := pem.Decode(data); block != nil {
		if block.Type != "PUBLIC KEY" {
			return nil, invalidf("PEM block %q: want \"PUBLIC KEY\"", block.Type)
		}
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, invalidf("PEM public key: %v", err)
		}
		pub, ok := k.(ed25519.PublicKey)
		if !ok {
			return nil, invalidf("PEM public key is %T, want ed25519", k)
		}
		return pub, nil
	}
	s := strings.TrimSpace(string(data))
	if s == "" {
		return nil, invalidf("public key is empty")
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		b, err := enc.DecodeString(s)
		if err != nil {
			continue
		}
		if len(b) != ed25519.PublicKeySize {
			return nil, invalidf("base64 public key: %d bytes, want %d", len(b), ed25519.PublicKeySize)
		}
		return ed25519.PublicKey(b), nil
	}
	return nil, invalidf("public key: neither a PEM \"PUBLIC KEY\" block nor base64")
}
