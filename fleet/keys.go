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
	// Sim marks the key of a sim runner (its pools are sim pools: "sim",
	// "simx<N>"): it can never sign a hardware result.
	Sim       bool      `json:"sim,omitempty"`
	TrustedBy string    `json:"trusted_by"`
	TrustedAt time.Time `json:"trusted_at"`
	// Enrolment is how the key was enrolled without a human (Enrol): the
	// token, the instance that presented it; nil for 'runner trust'.
	Enrolment *Enrolment `json:"enrolment,omitempty"`
	// Revocation is set once the key is revoked (RevokeKey): the verifier
	// rejects its bundles of attempts started or signed from then on.
	Revocation *Revocation `json:"revocation,omitempty"`
}

// Enrolment records the enrolment token a key was enrolled with.
type Enrolment struct {
	TokenID  string `json:"token_id"`
	Instance string `json:"instance,omitempty"`
	MintedBy string `json:"minted_by"`
}

// Revocation records who revoked a key, when and why.
type Revocation struct {
	At     time.Time `json:"at"`
	By     string    `json:"by"`
	Reason string    `json:"reason"`
}

// Revoked reports whether the key has been revoked.
func (k Key) Revoked() bool { return k.Revocation != nil }

// CheckPools validates the pools a key is enrolled for: at least one, each
// a valid pool, no repeats, and sim pools (spec.SimPool: "sim", "simx<N>")
// never with hardware pools (a sim runner's key signs nothing else). It
// returns them sorted and whether the key is a sim key.
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
	sims := 0
	for _, p := range out {
		if spec.SimPool(p) {
			sims++
		}
	}
	if sims > 0 && sims < len(out) {
		return nil, false, invalidf("runner key %s: pools %v: a sim runner's key is enrolled for sim pools alone (%s, %sx<N>), never with hardware pools", name, out, spec.Sim, spec.Sim)
	}
	return out, sims > 0, nil
}

// TrustKey enrols pub under name for pools, recording who did it.
// Enrolling the same key again with the same pools is a no-op, with other
// pools it changes the key's scope; a different key under an enrolled name
// is refused with ErrKeyConflict, and any key under a revoked name with
// ErrKeyRevoked (the name keeps its revoked key, so that the bundles it
// signed before still verify).
func (f *Fleet) TrustKey(ctx context.Context, name string, pub ed25519.PublicKey, by string, pools []string) error {
	return f.trustKey(ctx, name, pub, by, pools, nil)
}

func (f *Fleet) trustKey(ctx context.Context, name string, pub ed25519.PublicKey, by string, pools []string, enr *Enrolment) error {
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
	rec := Key{Name: name, PublicKey: pub, Fingerprint: bundle.KeyID(pub), Pools: pools, Sim: sim, TrustedBy: by, TrustedAt: f.now().UTC(), Enrolment: enr}
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
		if old.Revoked() {
			return fmt.Errorf("runner key %s (%s, revoked %s by %s): %w", name, old.Fingerprint, old.Revocation.At.Format(time.RFC3339), old.Revocation.By, ErrKeyRevoked)
		}
		if enr != nil {
			// An enrolment token enrols a new name only; it never changes
			// what an enrolled key may sign.
			return fmt.Errorf("runner key %s (%s): %w", name, old.Fingerprint, ErrKeyConflict)
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
	if enr != nil {
		f.log.Info().Str("key", name).Str("token", enr.TokenID).Str("instance", enr.Instance).Msg("runner key enrolled with a token")
	}
	return nil
}

// Key returns the key enrolled under name, or ErrKeyNotFound.
func (f *Fleet) Key(ctx context.Context, name string) (Key, error) {
	k, _, err := f.key(ctx, name)
	return k, err
}

// key is Key with the record's revision, for a compare-and-set.
func (f *Fleet) key(ctx context.Context, name string) (Key, uint64, error) {
	e, err := f.keys.Get(ctx, name)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrInvalidKey) {
		return Key{}, 0, fmt.Errorf("runner key %s: %w", name, ErrKeyNotFound)
	}
	if err != nil {
		return Key{}, 0, fmt.Errorf("runner key %s: %w", name, err)
	}
	var k Key
	if err := json.Unmarshal(e.Value(), &k); err != nil {
		return Key{}, 0, fmt.Errorf("runner key %s: decode: %w", name, err)
	}
	return k, e.Revision(), nil
}

// RevokeKey revokes the key enrolled under name, recording who did it and
// why. The record stays (Key.Revocation): the verifier keeps trusting the
// bundles the key signed for attempts started before the revocation, and
// rejects later ones. Revoking a revoked key changes nothing and returns
// its record.
func (f *Fleet) RevokeKey(ctx context.Context, name, by, reason string) (Key, error) {
	if by == "" || reason == "" {
		return Key{}, invalidf("revoke runner key %s: who (by) and why (reason) are required", name)
	}
	for {
		k, rev, err := f.key(ctx, name)
		if err != nil {
			return Key{}, err
		}
		if k.Revoked() {
			return k, nil
		}
		k.Revocation = &Revocation{At: f.now().UTC(), By: by, Reason: reason}
		data, _ := json.Marshal(k)
		_, err = f.keys.Update(ctx, name, data, rev)
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists) {
			continue // changed meanwhile: read it again
		}
		if err != nil {
			return Key{}, fmt.Errorf("revoke runner key %s: %w", name, err)
		}
		f.log.Info().Str("key", name).Str("fingerprint", k.Fingerprint).Str("by", by).Str("reason", reason).Msg("runner key revoked")
		return k, nil
	}
}

// TrustedKeys returns every enrolled key by name, revoked ones with their
// Revocation (the verifier needs them for the bundles they signed before).
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
