package verifier

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/fleet"
	"github.com/agentwatt/agentwatt/spec"
)

// KeySource lists the enrolled runner keys (a *fleet.Fleet).
type KeySource interface {
	TrustedKeys(ctx context.Context) (map[string]fleet.Key, error)
}

// RunnersSchemaVersion is the version of published/runners.json this
// build writes: version 2 lists each key's pools and whether it is a sim
// key. Version 1 files (no scope) are still read; their keys are unscoped
// and vouch for simulated results only (KeyScope).
const RunnersSchemaVersion = 2

// Runners is published/runners.json: the enrolled runner keys and their
// scope, so that anyone can verify a published bundle offline.
type Runners struct {
	SchemaVersion int            `json:"schema_version"`
	UpdatedAt     time.Time      `json:"updated_at"`
	Runners       []RunnerPublic `json:"runners"`
}

// RunnerPublic is one enrolled runner's public key and scope.
type RunnerPublic struct {
	Name      string    `json:"name"`
	KeyID     string    `json:"key_id"`     // bundle.KeyID of the key
	PublicKey string    `json:"public_key"` // PEM "PUBLIC KEY"
	Pools     []string  `json:"pools,omitempty"`
	Sim       bool      `json:"sim,omitempty"`
	TrustedBy string    `json:"trusted_by,omitempty"`
	TrustedAt time.Time `json:"trusted_at,omitzero"`
}

// KeyScope is what an enrolled key may sign: results of its pools; a sim
// key only simulated results of pool sim. A key without a scope (enrolled
// before pools existed, a runners.json of version 1, a bare public key)
// vouches for simulated results only.
type KeyScope struct {
	Pools []string `json:"pools"`
	Sim   bool     `json:"sim"`
}

// allows says why a key of scope s (nil: unknown) may not sign a result of
// pool (empty: not named) that is simulated or not; "" when it may.
func (s *KeyScope) allows(pool string, simulated bool) string {
	switch {
	case s == nil && !simulated:
		return "the key has no published scope (pools): it vouches for simulated results only; re-enrol it with 'agentwatt runner trust --pool' or use the current runners.json"
	case s == nil:
		if pool != "" && pool != spec.Sim {
			return fmt.Sprintf("the key has no published scope (pools): it vouches for pool %s only, the result is of pool %s", spec.Sim, pool)
		}
	case s.Sim && !simulated:
		return "a sim runner's key signed a result that is not simulated"
	case s.Sim && pool != "" && pool != spec.Sim:
		return fmt.Sprintf("a sim runner's key signed a result of pool %s", pool)
	case pool != "" && !slices.Contains(s.Pools, pool):
		return fmt.Sprintf("the key is enrolled for pools %v, the result is of pool %s", s.Pools, pool)
	}
	return ""
}

// PublicKeys is the public key of each enrolled runner key, by name: what
// Options.Trusted takes.
func PublicKeys(enrolled map[string]fleet.Key) map[string]ed25519.PublicKey {
	keys := make(map[string]ed25519.PublicKey, len(enrolled))
	for name, k := range enrolled {
		keys[name] = k.PublicKey
	}
	return keys
}

// Scopes is the scope of each enrolled runner key that has one, by name:
// what Options.Scopes takes.
func Scopes(enrolled map[string]fleet.Key) map[string]KeyScope {
	out := make(map[string]KeyScope, len(enrolled))
	for name, k := range enrolled {
		if len(k.Pools) > 0 {
			out[name] = KeyScope{Pools: slices.Clone(k.Pools), Sim: k.Sim}
		}
	}
	return out
}

// RunnersOf lists the enrolled keys as runners.json.
func RunnersOf(enrolled map[string]fleet.Key, now time.Time) *Runners {
	r := &Runners{SchemaVersion: RunnersSchemaVersion, UpdatedAt: now.UTC(), Runners: []RunnerPublic{}}
	for _, name := range sortedKeys(enrolled) {
		k := enrolled[name]
		r.Runners = append(r.Runners, RunnerPublic{Name: name, KeyID: bundle.KeyID(k.PublicKey), PublicKey: string(bundle.MarshalPublicKey(k.PublicKey)),
			Pools: k.Pools, Sim: k.Sim, TrustedBy: k.TrustedBy, TrustedAt: k.TrustedAt})
	}
	return r
}

// ParseKeys reads trusted runner keys and their scopes from a runners.json
// (version 1 or 2), or one public key (PEM "PUBLIC KEY" or 32 bytes in
// base64, as `agentwatt runner trust` takes), named "key" and unscoped. A
// key without a scope is absent from scopes.
func ParseKeys(data []byte) (keys map[string]ed25519.PublicKey, scopes map[string]KeyScope, err error) {
	t := bytes.TrimSpace(data)
	if len(t) == 0 || t[0] != '{' {
		k, err := bundle.ParsePublicKey(data)
		if err != nil {
			return nil, nil, err
		}
		return map[string]ed25519.PublicKey{"key": k}, map[string]KeyScope{}, nil
	}
	var r Runners
	dec := json.NewDecoder(bytes.NewReader(t))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, nil, fmt.Errorf("runners.json: %w", err)
	}
	if r.SchemaVersion != 1 && r.SchemaVersion != RunnersSchemaVersion {
		return nil, nil, fmt.Errorf("runners.json: schema_version %d: this build reads 1 and %d", r.SchemaVersion, RunnersSchemaVersion)
	}
	keys, scopes = map[string]ed25519.PublicKey{}, map[string]KeyScope{}
	for i, rp := range r.Runners {
		at := fmt.Sprintf("runners.json: runners[%d] (%s)", i, rp.Name)
		k, err := bundle.ParsePublicKey([]byte(rp.PublicKey))
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", at, err)
		}
		if rp.KeyID != "" && rp.KeyID != bundle.KeyID(k) {
			return nil, nil, fmt.Errorf("%s: key_id %s is not the key's %s", at, rp.KeyID, bundle.KeyID(k))
		}
		if _, dup := keys[rp.Name]; dup {
			return nil, nil, fmt.Errorf("%s: name listed twice", at)
		}
		keys[rp.Name] = k
		switch {
		case r.SchemaVersion == 1:
			if len(rp.Pools) > 0 || rp.Sim {
				return nil, nil, fmt.Errorf("%s: pools and sim need schema_version %d", at, RunnersSchemaVersion)
			}
		default:
			// The scopes the queue itself enrols, by the same rule.
			pools, sim, err := fleet.CheckPools(rp.Name, rp.Pools)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", at, err)
			}
			if rp.Sim != sim {
				return nil, nil, fmt.Errorf("%s: sim %v with pools %v: a sim key is enrolled for pool %s alone", at, rp.Sim, rp.Pools, spec.Sim)
			}
			scopes[rp.Name] = KeyScope{Pools: pools, Sim: sim}
		}
	}
	if len(keys) == 0 {
		return nil, nil, ErrNoKeys
	}
	return keys, scopes, nil
}

// PeekManifest reads a bundle's manifest.json without trusting it: only to
// learn which workload to fetch before Verify checks everything.
func PeekManifest(ctx context.Context, src bundle.Source) (*bundle.Manifest, error) {
	rc, err := src.Open(ctx, bundle.ManifestFile)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnreadable, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, bundle.DefaultLimits.Manifest))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnreadable, err)
	}
	return bundle.DecodeManifest(bundle.ManifestFile, data)
}
