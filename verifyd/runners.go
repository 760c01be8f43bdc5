package verifyd

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/fleet"
	"github.com/agentwatt/agentwatt/spec"
	"github.com/agentwatt/agentwatt/verifier"
)

// runners.json: the enrolled runner keys and their scopes as publication
// writes them (published/runners.json) and `agentwatt verify --keys` reads
// them back. Its scopes obey the queue's own enrolment rule
// (fleet.CheckPools), so a file cannot grant what the queue would refuse.

// RunnersSchemaVersion is the version of published/runners.json this
// build writes: version 2 lists each key's pools and whether it is a sim
// key; version 3 adds the revocation of revoked keys (a version 2 reader
// refuses it rather than trust a revoked key's later bundles). Versions 1
// (no scope; its keys are unscoped and vouch for simulated results only,
// verifier.KeyScope) and 2 are still read.
const RunnersSchemaVersion = 3

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
	// Revoked is set for a revoked key (version 3): its bundles made
	// before At stay trusted, later ones are rejected.
	Revoked *RevokedPublic `json:"revoked,omitempty"`
}

// RevokedPublic is a key's revocation as runners.json publishes it.
type RevokedPublic struct {
	At     time.Time `json:"at"`
	By     string    `json:"by"`
	Reason string    `json:"reason"`
}

// ParseKeys reads trusted runner keys, their scopes and revocations from
// a runners.json (version 1 to 3), or one public key (PEM "PUBLIC KEY" or
// 32 bytes in base64, as `agentwatt runner trust` takes), named "key" and
// unscoped. A key without a scope is absent from Scopes; Jobs is nil.
func ParseKeys(data []byte) (*Keys, error) {
	t := bytes.TrimSpace(data)
	if len(t) == 0 || t[0] != '{' {
		k, err := bundle.ParsePublicKey(data)
		if err != nil {
			return nil, err
		}
		return &Keys{Trusted: map[string]ed25519.PublicKey{"key": k}, Scopes: map[string]verifier.KeyScope{}}, nil
	}
	keys, scopes, revoked, err := parseRunners(t)
	if err != nil {
		return nil, err
	}
	return &Keys{Trusted: keys, Scopes: scopes, Revoked: revoked}, nil
}

func parseRunners(t []byte) (keys map[string]ed25519.PublicKey, scopes map[string]verifier.KeyScope, revoked map[string]verifier.Revocation, err error) {
	var r Runners
	dec := json.NewDecoder(bytes.NewReader(t))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, nil, nil, fmt.Errorf("runners.json: %w", err)
	}
	if r.SchemaVersion < 1 || r.SchemaVersion > RunnersSchemaVersion {
		return nil, nil, nil, fmt.Errorf("runners.json: schema_version %d: this build reads 1 to %d", r.SchemaVersion, RunnersSchemaVersion)
	}
	keys, scopes, revoked = map[string]ed25519.PublicKey{}, map[string]verifier.KeyScope{}, map[string]verifier.Revocation{}
	for i, rp := range r.Runners {
		at := fmt.Sprintf("runners.json: runners[%d] (%s)", i, rp.Name)
		k, err := bundle.ParsePublicKey([]byte(rp.PublicKey))
		if err != nil {
			return nil, nil, nil, fmt.Errorf("%s: %w", at, err)
		}
		if rp.KeyID != "" && rp.KeyID != bundle.KeyID(k) {
			return nil, nil, nil, fmt.Errorf("%s: key_id %s is not the key's %s", at, rp.KeyID, bundle.KeyID(k))
		}
		if _, dup := keys[rp.Name]; dup {
			return nil, nil, nil, fmt.Errorf("%s: name listed twice", at)
		}
		keys[rp.Name] = k
		if rv := rp.Revoked; rv != nil {
			if r.SchemaVersion < 3 {
				return nil, nil, nil, fmt.Errorf("%s: revoked needs schema_version 3", at)
			}
			if rv.At.IsZero() {
				return nil, nil, nil, fmt.Errorf("%s: revoked without a time (at)", at)
			}
			revoked[rp.Name] = verifier.Revocation{At: rv.At, By: rv.By, Reason: rv.Reason}
		}
		switch {
		case r.SchemaVersion == 1:
			if len(rp.Pools) > 0 || rp.Sim {
				return nil, nil, nil, fmt.Errorf("%s: pools and sim need schema_version %d", at, RunnersSchemaVersion)
			}
		default:
			// The scopes the queue itself enrols, by the same rule.
			pools, sim, err := fleet.CheckPools(rp.Name, rp.Pools)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("%s: %w", at, err)
			}
			if rp.Sim != sim {
				return nil, nil, nil, fmt.Errorf("%s: sim %v with pools %v: a sim key is enrolled for sim pools (%s, %sx<N>) alone", at, rp.Sim, rp.Pools, spec.Sim, spec.Sim)
			}
			scopes[rp.Name] = verifier.KeyScope{Pools: pools, Sim: sim}
		}
	}
	if len(keys) == 0 {
		return nil, nil, nil, verifier.ErrNoKeys
	}
	return keys, scopes, revoked, nil
}

// RunnersOf lists the enrolled keys as runners.json.
func RunnersOf(enrolled map[string]fleet.Key, now time.Time) *Runners {
	r := &Runners{SchemaVersion: RunnersSchemaVersion, UpdatedAt: now.UTC(), Runners: []RunnerPublic{}}
	for _, name := range slices.Sorted(maps.Keys(enrolled)) {
		k := enrolled[name]
		rp := RunnerPublic{Name: name, KeyID: bundle.KeyID(k.PublicKey), PublicKey: string(bundle.MarshalPublicKey(k.PublicKey)),
			Pools: k.Pools, Sim: k.Sim, TrustedBy: k.TrustedBy, TrustedAt: k.TrustedAt}
		if rv := k.Revocation; rv != nil {
			rp.Revoked = &RevokedPublic{At: rv.At, By: rv.By, Reason: rv.Reason}
		}
		r.Runners = append(r.Runners, rp)
	}
	return r
}
