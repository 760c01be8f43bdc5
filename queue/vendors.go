package queue

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Vendor is a registered submitter.
type Vendor struct {
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// vendorToken is the record of one token, stored under its hash.
type vendorToken struct {
	Vendor    string    `json:"vendor"`
	CreatedAt time.Time `json:"created_at"`
}

// tokenPrefix marks agentwatt vendor tokens, so that a leaked one is easy to
// recognize (secret scanners, logs).
const tokenPrefix = "awv_"

// AddVendor registers a vendor (if new) and issues a new API token for it.
// The token is returned once and stored only as its sha256: tokens are 256
// random bits, so a plain hash is enough. Calling it again for the same
// vendor issues another token; earlier ones stay valid.
func (q *Queue) AddVendor(ctx context.Context, name string) (token string, err error) {
	if !labelRe.MatchString(name) {
		return "", invalidf("vendor %q: want a DNS label (lower-case letters, digits, '-')", name)
	}
	now := q.now().UTC()
	v, _ := json.Marshal(Vendor{Name: name, CreatedAt: now})
	if _, err := q.vendors.Create(ctx, "vendor."+name, v); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		return "", fmt.Errorf("add vendor %s: %w", name, err)
	}
	var secret [32]byte
	if _, err := rand.Read(secret[:]); err != nil {
		return "", fmt.Errorf("add vendor %s: %w", name, err)
	}
	token = tokenPrefix + base64.RawURLEncoding.EncodeToString(secret[:])
	rec, _ := json.Marshal(vendorToken{Vendor: name, CreatedAt: now})
	if _, err := q.vendors.Create(ctx, tokenKey(token), rec); err != nil {
		return "", fmt.Errorf("add vendor %s: store token: %w", name, err)
	}
	q.log.Info().Str("vendor", name).Msg("vendor token issued")
	return token, nil
}

// AuthenticateVendor returns the vendor a token belongs to, or
// ErrUnauthorized.
func (q *Queue) AuthenticateVendor(ctx context.Context, token string) (vendor string, err error) {
	if !strings.HasPrefix(token, tokenPrefix) || len(token) > 128 {
		return "", ErrUnauthorized
	}
	e, err := q.vendors.Get(ctx, tokenKey(token))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return "", ErrUnauthorized
	}
	if err != nil {
		return "", fmt.Errorf("authenticate vendor: %w", err)
	}
	var rec vendorToken
	if err := json.Unmarshal(e.Value(), &rec); err != nil || rec.Vendor == "" {
		return "", fmt.Errorf("authenticate vendor: bad token record: %v", err)
	}
	return rec.Vendor, nil
}

// RevokeVendorToken makes a token invalid.
func (q *Queue) RevokeVendorToken(ctx context.Context, token string) error {
	if err := q.vendors.Delete(ctx, tokenKey(token)); err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	return nil
}

// ListVendors returns the registered vendors by name.
func (q *Queue) ListVendors(ctx context.Context) ([]Vendor, error) {
	keys, err := bucketKeys(ctx, q.vendors, "vendor.*")
	if err != nil {
		return nil, err
	}
	var out []Vendor
	for _, k := range keys {
		e, err := q.vendors.Get(ctx, k)
		if err != nil {
			continue // deleted meanwhile
		}
		var v Vendor
		if json.Unmarshal(e.Value(), &v) == nil {
			out = append(out, v)
		}
	}
	return out, nil
}

func tokenKey(token string) string {
	sum := sha256.Sum256([]byte(token))
	return "token." + hex.EncodeToString(sum[:])
}
