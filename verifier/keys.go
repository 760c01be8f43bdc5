package verifier

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/queue"
)

// RunnersSchemaVersion is the version of published/runners.json.
const RunnersSchemaVersion = 1

// Runners is published/runners.json: the enrolled runner keys, so that
// anyone can verify a published bundle offline.
type Runners struct {
	SchemaVersion int            `json:"schema_version"`
	UpdatedAt     time.Time      `json:"updated_at"`
	Runners       []RunnerPublic `json:"runners"`
}

// RunnerPublic is one enrolled runner's public key.
type RunnerPublic struct {
	Name      string    `json:"name"`
	KeyID     string    `json:"key_id"`     // bundle.KeyID of the key
	PublicKey string    `json:"public_key"` // PEM "PUBLIC KEY"
	TrustedBy string    `json:"trusted_by,omitempty"`
	TrustedAt time.Time `json:"trusted_at,omitzero"`
}

// PublicKeys is the public key of each enrolled runner key, by name: what
// Options.Trusted takes.
func PublicKeys(enrolled map[string]queue.RunnerKey) map[string]ed25519.PublicKey {
	keys := make(map[string]ed25519.PublicKey, len(enrolled))
	for name, k := range enrolled {
		keys[name] = k.PublicKey
	}
	return keys
}

// RunnersOf lists keys (name → key) as runners.json.
func RunnersOf(keys map[string]ed25519.PublicKey, now time.Time) *Runners {
	r := &Runners{SchemaVersion: RunnersSchemaVersion, UpdatedAt: now.UTC(), Runners: []RunnerPublic{}}
	for _, name := range sortedKeys(keys) {
		k := keys[name]
		r.Runners = append(r.Runners, RunnerPublic{Name: name, KeyID: bundle.KeyID(k), PublicKey: string(bundle.MarshalPublicKey(k))})
	}
	return r
}

// ParseKeys reads trusted runner keys from a runners.json or from one
// public key (PEM "PUBLIC KEY" or 32 bytes in base64, as `agentwatt runner
// trust` takes), named "key".
func ParseKeys(data []byte) (map[string]ed25519.PublicKey, error) {
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '{' {
		var r Runners
		if err := json.Unmarshal(t, &r); err != nil {
			return nil, fmt.Errorf("runners.json: %w", err)
		}
		out := map[string]ed25519.PublicKey{}
		for i, rp := range r.Runners {
			k, err := bundle.ParsePublicKey([]byte(rp.PublicKey))
			if err != nil {
				return nil, fmt.Errorf("runners.json: runners[%d] (%s): %w", i, rp.Name, err)
			}
			if rp.KeyID != "" && rp.KeyID != bundle.KeyID(k) {
				return nil, fmt.Errorf("runners.json: runners[%d] (%s): key_id %s is not the key's %s", i, rp.Name, rp.KeyID, bundle.KeyID(k))
			}
			out[rp.Name] = k
		}
		if len(out) == 0 {
			return nil, ErrNoKeys
		}
		return out, nil
	}
	k, err := bundle.ParsePublicKey(data)
	if err != nil {
		return nil, err
	}
	return map[string]ed25519.PublicKey{"key": k}, nil
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
