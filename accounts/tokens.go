package accounts

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

	"github.com/agentwatt/agentwatt/internal/kvbucket"
	"github.com/agentwatt/agentwatt/queue"
)

// Vendor is a registered submitter.
type Vendor struct {
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// Maintainer is a person who operates the service through the HTTP API: a
// maintainer's token reads every job; it cannot submit.
type Maintainer struct {
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// Role is what a token lets its holder do through the API.
type Role string

const (
	// RoleVendor submits for its own vendor and sees its own jobs only.
	RoleVendor Role = "vendor"
	// RoleMaintainer sees every vendor's jobs.
	RoleMaintainer Role = "maintainer"
)

// Principal is whom a token belongs to.
type Principal struct {
	Name string // the vendor's name, or the maintainer's
	Role Role
}

// tokenRecord is the record of one token, stored under its hash. Exactly one
// of Vendor and Maintainer is set.
type tokenRecord struct {
	Vendor     string    `json:"vendor,omitempty"`
	Maintainer string    `json:"maintainer,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
}

// Token prefixes mark agentwatt tokens, so that a leaked one is easy to
// recognize (secret scanners, logs), and say which role a token claims: a
// token is accepted only with the prefix of the record it names.
const (
	tokenPrefix           = "awv_"
	maintainerTokenPrefix = "awm_"
	maxTokenLen           = 128
)

// AddVendor registers a vendor (if new) and issues a new API token for it.
// The token is returned once and stored only as its sha256: tokens are 256
// random bits, so a plain hash is enough. Calling it again for the same
// vendor issues another token; earlier ones stay valid.
func (s *Store) AddVendor(ctx context.Context, name string) (token string, err error) {
	if !queue.ValidName(name) {
		return "", invalidf("vendor %q: want a DNS label (lower-case letters, digits, '-')", name)
	}
	v, _ := json.Marshal(Vendor{Name: name, CreatedAt: s.now().UTC()})
	token, err = s.issueToken(ctx, "vendor."+name, v, tokenPrefix, tokenRecord{Vendor: name})
	if err != nil {
		return "", fmt.Errorf("add vendor %s: %w", name, err)
	}
	s.log.Info().Str("vendor", name).Msg("vendor token issued")
	return token, nil
}

// AddMaintainer registers a maintainer (if new) and issues a new API token
// for them, returned once and stored hashed like a vendor's.
func (s *Store) AddMaintainer(ctx context.Context, name string) (token string, err error) {
	if !queue.ValidName(name) {
		return "", invalidf("maintainer %q: want a DNS label (lower-case letters, digits, '-')", name)
	}
	m, _ := json.Marshal(Maintainer{Name: name, CreatedAt: s.now().UTC()})
	token, err = s.issueToken(ctx, "maintainer."+name, m, maintainerTokenPrefix, tokenRecord{Maintainer: name})
	if err != nil {
		return "", fmt.Errorf("add maintainer %s: %w", name, err)
	}
	s.log.Info().Str("maintainer", name).Msg("maintainer token issued")
	return token, nil
}

// issueToken creates the holder's record under key unless it exists, and a
// new token for rec.
func (s *Store) issueToken(ctx context.Context, key string, holder []byte, prefix string, rec tokenRecord) (string, error) {
	if _, err := s.kv.Create(ctx, key, holder); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		return "", err
	}
	var secret [32]byte
	if _, err := rand.Read(secret[:]); err != nil {
		return "", err
	}
	token := prefix + base64.RawURLEncoding.EncodeToString(secret[:])
	rec.CreatedAt = s.now().UTC()
	b, _ := json.Marshal(rec)
	if _, err := s.kv.Create(ctx, tokenKey(token), b); err != nil {
		return "", fmt.Errorf("store token: %w", err)
	}
	return token, nil
}

// Authenticate returns whom a vendor or maintainer token belongs to, or
// ErrUnauthorized.
func (s *Store) Authenticate(ctx context.Context, token string) (Principal, error) {
	role := RoleVendor
	if strings.HasPrefix(token, maintainerTokenPrefix) {
		role = RoleMaintainer
	} else if !strings.HasPrefix(token, tokenPrefix) {
		return Principal{}, ErrUnauthorized
	}
	if len(token) > maxTokenLen {
		return Principal{}, ErrUnauthorized
	}
	e, err := s.kv.Get(ctx, tokenKey(token))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Principal{}, ErrUnauthorized
	}
	if err != nil {
		return Principal{}, fmt.Errorf("authenticate: %w", err)
	}
	var rec tokenRecord
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		return Principal{}, fmt.Errorf("authenticate: bad token record: %w", err)
	}
	switch {
	case role == RoleVendor && rec.Vendor != "" && rec.Maintainer == "":
		return Principal{Name: rec.Vendor, Role: RoleVendor}, nil
	case role == RoleMaintainer && rec.Maintainer != "" && rec.Vendor == "":
		return Principal{Name: rec.Maintainer, Role: RoleMaintainer}, nil
	}
	// A token whose prefix claims another role than its record is not one
	// this package issued.
	return Principal{}, ErrUnauthorized
}

// AuthenticateVendor returns the vendor a token belongs to, or
// ErrUnauthorized (also for a maintainer's token).
func (s *Store) AuthenticateVendor(ctx context.Context, token string) (vendor string, err error) {
	p, err := s.Authenticate(ctx, token)
	if err != nil {
		return "", err
	}
	if p.Role != RoleVendor {
		return "", ErrUnauthorized
	}
	return p.Name, nil
}

// RevokeToken makes a token invalid (a vendor's or a maintainer's).
func (s *Store) RevokeToken(ctx context.Context, token string) error {
	if err := s.kv.Delete(ctx, tokenKey(token)); err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	return nil
}

// ListVendors returns the registered vendors by name.
func (s *Store) ListVendors(ctx context.Context) ([]Vendor, error) {
	return listHolders[Vendor](ctx, s, "vendor.*")
}

// ListMaintainers returns the registered maintainers by name.
func (s *Store) ListMaintainers(ctx context.Context) ([]Maintainer, error) {
	return listHolders[Maintainer](ctx, s, "maintainer.*")
}

func listHolders[T any](ctx context.Context, s *Store, filter string) ([]T, error) {
	keys, err := kvbucket.Keys(ctx, s.kv, filter)
	if err != nil {
		return nil, err
	}
	var out []T
	for _, k := range keys {
		e, err := s.kv.Get(ctx, k)
		if err != nil {
			continue // deleted meanwhile
		}
		var v T
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
