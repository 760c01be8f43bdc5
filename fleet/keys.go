package fleet

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/internal/kvbucket"
	"github.com/agentwatt/agentwatt/queue"
	"github.com/agentwatt/agentwatt/spec"
)

// Key is an enrolled runner signing key, as stored (JSON) in BucketKeys. Bundles signed with it are
// trusted by the verifier for jobs of its pools only.
type Key struct {
	Name        string            `json:"name"`
	PublicKey   ed25519.PublicKey `json:"public_key"` // base64 in JSON
	Fingerprint string            `json:"fingerprint"`
	// Pools are the pools the key may sign results of. A key enrolled
	// before pools existed has none and signs nothing but simulated results.
	Pools []string `json:"pools,omitempty"`
	// Sim marks the key of a sim runner (pools = [sim]): it can never sign
	// a hardware result.
	Sim       bool      `json:"sim,omitempty"`
	TrustedBy string    `json:"trusted_by"`
	TrustedAt time.Time `json:"trusted_at"`
}

// CheckPools validates the pools a key is enrolled for: at least one, each
// a valid pool, no repeats, and the sim pool only alone (a sim runner's key
// signs nothing else). It returns them sorted and whether the key is a sim
// key.
func CheckPools(name string, pools []string) ([]string, bool, error) {
	if len(pools) == 0 {
		return nil, false, invalidf("runner key %s: no pool: name the pools it may sign results of (--pool h200x8, --pool sim)", name)
	}
	out := slices.Sorted(slices.Values(pools))
	for i, p := range out {
		if !queue.ValidPool(p) {
			return nil, false, invalidf("runner key %s: pool %q: want lower-case letters, digits, '-' or '_'", name, p)
		}
		if i > 0 && out[i-1] == p {
			return nil, false, invalidf("runner key %s: pool %s named twice", name, p)
		}
	}
	sim := slices.Contains(out, spec.Sim)
	if sim && len(out) > 1 {
		return nil, false, invalidf("runner key %s: pools %v: a sim runner's key is enrolled for pool %s alone", name, out, spec.Sim)
	}
	return out, sim, nil
}

// TrustKey enrols pub under name for pools, recording who did it.
// Enrolling the same key again with the same pools is a no-op, with other
// pools it changes the key's scope; a different key under an enrolled name
// is refused with ErrKeyConflict (revoke the old one first).
func (f *Fleet) TrustKey(ctx context.Context, name string, pub ed25519.PublicKey, by string, pools []string) error {
	if !queue.ValidName(name) {
		return invalidf("runner key name %q: want a DNS label", name)
	}
	if len(pub) != ed25519.PublicKeySize {
		return invalidf("runner key %s: %d bytes, want an ed25519 public key (%d)", name, len(pub), ed25519.PublicKeySize)
	}
	if by == "" {
		return invalidf("runner key %s: who trusts it (by) is empty", name)
	}
	pools, sim, err := CheckPools(name, pools)
	if err != nil {
		return err
	}
	rec := Key{Name: name, PublicKey: pub, Fingerprint: bundle.KeyID(pub), Pools: pools, Sim: sim, TrustedBy: by, TrustedAt: f.now().UTC()}
	data, _ := json.Marshal(rec)
	_, err = f.keys.Create(ctx, name, data)
	if errors.Is(err, jetstream.ErrKeyExists) {
		e, gerr := f.keys.Get(ctx, name)
		if gerr != nil {
			return fmt.Errorf("runner key %s: %w", name, gerr)
		}
		var old Key
		if err := json.Unmarshal(e.Value(), &old); err != nil {
			return fmt.Errorf("runner key %s: decode: %w", name, err)
		}
		if !bytes.Equal(old.PublicKey, pub) {
			return fmt.Errorf("runner key %s (%s): %w", name, old.Fingerprint, ErrKeyConflict)
		}
		if slices.Equal(old.Pools, pools) && old.Sim == sim {
			return nil
		}
		if _, err := f.keys.Update(ctx, name, data, e.Revision()); err != nil {
			return fmt.Errorf("runner key %s: change its pools: %w", name, err)
		}
		f.log.Info().Str("key", name).Strs("pools", pools).Strs("old_pools", old.Pools).Str("by", by).Msg("runner key pools changed")
		return nil
	}
	if err != nil {
		return fmt.Errorf("trust runner key %s: %w", name, err)
	}
	f.log.Info().Str("key", name).Str("fingerprint", rec.Fingerprint).Strs("pools", pools).Str("by", by).Msg("runner key trusted")
	return nil
}

// Key returns the key enrolled under name, or ErrKeyNotFound.
func (f *Fleet) Key(ctx context.Context, name string) (Key, error) {
	e, err := f.keys.Get(ctx, name)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrInvalidKey) {
		return Key{}, fmt.Errorf("runner key %s: %w", name, ErrKeyNotFound)
	}
	if err != nil {
		return Key{}, fmt.Errorf("runner key %s: %w", name, err)
	}
	var k Key
	if err := json.Unmarshal(e.Value(), &k); err != nil {
		return Key{}, fmt.Errorf("runner key %s: decode: %w", name, err)
	}
	return k, nil
}

// RevokeKey removes an enrolled key; bundles signed with it are no
// longer trusted. The bucket keeps the revoked record in its history.
func (f *Fleet) RevokeKey(ctx context.Context, name string) error {
	if _, err := f.Key(ctx, name); err != nil {
		return err
	}
	if err := f.keys.Delete(ctx, name); err != nil {
		return fmt.Errorf("revoke runner key %s: %w", name, err)
	}
	return nil
}

// TrustedKeys returns every enrolled key by name.
func (f *Fleet) TrustedKeys(ctx context.Context) (map[string]Key, error) {
	names, err := kvbucket.Keys(ctx, f.keys)
	if err != nil {
		return nil, err
	}
	out := make(map[string]Key, len(names))
	for _, n := range names {
		k, err := f.Key(ctx, n)
		if errors.Is(err, ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[n] = k
	}
	return out, nil
}
