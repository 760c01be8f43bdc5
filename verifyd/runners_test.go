package verifyd_test

import (
	"crypto/ed25519"
	"encoding/json"
	"strings"
	"testing"

	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/spec"
	"github.com/agentwatt/agentwatt/verifier"
	"github.com/agentwatt/agentwatt/verifyd"
)

// runnersFile is a runners.json of schema 2 with one key and the given
// pools and sim flag, as a forger would write it.
func runnersFile(t testing.TB, pools []string, sim bool) []byte {
	t.Helper()
	pub := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)).Public().(ed25519.PublicKey)
	data, err := json.Marshal(map[string]any{
		"schema_version": verifyd.RunnersSchemaVersion,
		"runners": []map[string]any{{
			"name": "node-1", "public_key": string(bundle.MarshalPublicKey(pub)), "pools": pools, "sim": sim,
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestParseKeysRefusesForgedScopes: a runners.json may name only scopes the
// fleet itself enrols (fleet.CheckPools): a sim key alone in pool sim, pools
// named once and well-formed. A file that smuggles sim in beside a hardware
// pool would otherwise let a sim key sign hardware results offline.
func TestParseKeysRefusesForgedScopes(t *testing.T) {
	tests := []struct {
		name  string
		pools []string
		sim   bool
		want  string // "" accepted
	}{
		{"a hardware key", []string{"h200x8"}, false, ""},
		{"a sim key", []string{"sim"}, true, ""},
		{"sim beside a hardware pool, not flagged", []string{"sim", "h200x8"}, false, "alone"},
		{"sim beside a hardware pool, flagged", []string{"h200x8", "sim"}, true, "alone"},
		{"a hardware key flagged sim", []string{"h200x8"}, true, "sim"},
		{"a sim key not flagged", []string{"sim"}, false, "sim"},
		{"a sim rack key", []string{"simx72"}, true, ""},
		{"a key for every sim pool", []string{"sim", "simx4", "simx72"}, true, ""},
		// Attack: a runners file that passes a sim rack's key off as a
		// hardware key, or lets it sign the hardware rack too.
		{"a sim rack key not flagged", []string{"simx72"}, false, "sim"},
		{"a sim rack beside its hardware pool, not flagged", []string{"simx72", "gb300x72"}, false, "alone"},
		{"a sim rack beside its hardware pool, flagged", []string{"gb300x72", "simx72"}, true, "alone"},
		{"a pool named twice", []string{"h200x8", "h200x8"}, false, "twice"},
		{"a pool with a control character", []string{"h200x8\x1b[2J"}, false, "pool"},
		{"no pools", nil, false, "no pool"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, err := verifyd.ParseKeys(runnersFile(t, tc.pools, tc.sim))
			var scopes map[string]verifier.KeyScope
			if k != nil {
				scopes = k.Scopes
			}
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("ParseKeys: %v", err)
			case tc.want == "":
				if got := scopes["node-1"]; got.Sim != tc.sim || len(got.Pools) != len(tc.pools) {
					t.Errorf("scope = %+v, want pools %v sim %v", got, tc.pools, tc.sim)
				}
			case err == nil:
				t.Fatalf("ParseKeys accepted pools %q sim %v: scope %+v", tc.pools, tc.sim, scopes["node-1"])
			case !strings.Contains(err.Error(), tc.want):
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

// FuzzParseKeys: whatever ParseKeys accepts names only scopes the queue
// could have enrolled: a sim key exactly when its pools are [sim].
func FuzzParseKeys(f *testing.F) {
	f.Add(runnersFile(f, []string{"h200x8"}, false))
	f.Add(runnersFile(f, []string{"sim"}, true))
	f.Add(runnersFile(f, []string{"sim", "h200x8"}, false))
	f.Add(runnersFile(f, []string{"simx72", "gb300x72"}, false))
	f.Add(runnersFile(f, []string{"sim", "simx72"}, true))
	f.Add([]byte(`{"schema_version":1,"runners":[]}`))
	revoked := strings.Replace(string(runnersFile(f, []string{"h200x8"}, false)), `"sim":false`,
		`"sim":false,"revoked":{"at":"2026-12-01T00:00:00Z","by":"alice","reason":"gone"}`, 1)
	f.Add([]byte(revoked))
	f.Add([]byte(strings.Replace(revoked, `"schema_version":3`, `"schema_version":2`, 1)))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := verifyd.ParseKeys(data)
		var scopes map[string]verifier.KeyScope
		if k != nil {
			scopes = k.Scopes
		}
		if err != nil {
			return
		}
		for name, r := range k.Revoked {
			if _, ok := k.Trusted[name]; !ok || r.At.IsZero() {
				t.Fatalf("revocation of %s: %+v, not of a listed key or without a time", name, r)
			}
		}
		for name, s := range scopes {
			sims := 0
			for _, p := range s.Pools {
				if spec.SimPool(p) {
					sims++
				}
			}
			if len(s.Pools) == 0 || s.Sim != (sims > 0) || (sims > 0 && sims < len(s.Pools)) {
				t.Fatalf("key %s: accepted scope %+v", name, s)
			}
		}
	})
}
