package fleet

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentwatt/agentwatt/bundle"
)

func newKey(t testing.TB) ed25519.PublicKey {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

func TestRunnerKeys(t *testing.T) {
	f := newTestFleet(t, Config{})
	ctx := testCtx(t, time.Minute)
	k1, k2 := newKey(t), newKey(t)
	h200 := []string{"h200x8"}
	if err := f.TrustKey(ctx, "runner-1", k1, "maint", h200); err != nil {
		t.Fatal(err)
	}
	if err := f.TrustKey(ctx, "runner-1", k1, "maint", h200); err != nil {
		t.Errorf("trusting the same key again: %v", err)
	}
	if err := f.TrustKey(ctx, "runner-1", k2, "maint", h200); !errors.Is(err, ErrKeyConflict) {
		t.Errorf("another key under the same name: got %v, want ErrKeyConflict", err)
	}
	if err := f.TrustKey(ctx, "runner-2", k2, "maint", []string{"sim"}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, key, by string
		pub           ed25519.PublicKey
		pools         []string
	}{
		{"bad name", "Runner 3", "maint", k1, h200},
		{"short key", "runner-3", "maint", k1[:16], h200},
		{"nobody", "runner-3", "", k1, h200},
		{"no pool", "runner-3", "maint", k1, nil},
		{"bad pool", "runner-3", "maint", k1, []string{"H200 x8"}},
		{"pool twice", "runner-3", "maint", k1, []string{"h200x8", "h200x8"}},
		{"sim with hardware", "runner-3", "maint", k1, []string{"sim", "h200x8"}},
		// Attack: a key that signs a simulated rack and the hardware rack
		// its results could be passed off as.
		{"sim rack with hardware", "runner-3", "maint", k1, []string{"simx72", "gb300x72"}},
		{"sim pools with hardware", "runner-3", "maint", k1, []string{"sim", "simx4", "h200x8"}},
	} {
		if err := f.TrustKey(ctx, tt.key, tt.pub, tt.by, tt.pools); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: got %v, want ErrInvalid", tt.name, err)
		}
	}
	keys, err := f.TrustedKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || !keys["runner-1"].PublicKey.Equal(k1) || !keys["runner-2"].PublicKey.Equal(k2) {
		t.Fatalf("TrustedKeys: %+v", keys)
	}
	if k := keys["runner-1"]; k.TrustedBy != "maint" || k.Fingerprint != bundle.KeyID(k1) || k.TrustedAt.IsZero() || !slices.Equal(k.Pools, h200) || k.Sim {
		t.Errorf("record: %+v", k)
	}
	if k := keys["runner-2"]; !slices.Equal(k.Pools, []string{"sim"}) || !k.Sim {
		t.Errorf("sim key's record: %+v, want pools [sim], sim", k)
	}
	// A sim key may sign every sim pool, single host and racks.
	for _, pools := range [][]string{{"simx72"}, {"sim", "simx4", "simx72"}} {
		got, sim, err := CheckPools("runner-4", pools)
		if err != nil || !sim || len(got) != len(pools) {
			t.Errorf("CheckPools(%v) = %v, sim %v, %v; want a sim key", pools, got, sim, err)
		}
	}
	// Enrolling the same key with other pools changes its scope.
	if err := f.TrustKey(ctx, "runner-1", k1, "maint", []string{"h200x8", "b200x8"}); err != nil {
		t.Fatal(err)
	}
	if k, err := f.Key(ctx, "runner-1"); err != nil || !slices.Equal(k.Pools, []string{"b200x8", "h200x8"}) {
		t.Errorf("after re-enrolling with two pools: %+v, %v", k, err)
	}
	if _, err := f.RevokeKey(ctx, "runner-1", "maint", ""); !errors.Is(err, ErrInvalid) {
		t.Errorf("revoke without a reason: %v, want ErrInvalid", err)
	}
	rk, err := f.RevokeKey(ctx, "runner-1", "maint", "host retired")
	if err != nil {
		t.Fatal(err)
	}
	// The record stays, with the revocation: the verifier still needs the
	// key for the bundles it signed before.
	k, err := f.Key(ctx, "runner-1")
	if err != nil || !k.Revoked() || k.Revocation.By != "maint" || k.Revocation.Reason != "host retired" || k.Revocation.At.IsZero() || !k.PublicKey.Equal(k1) {
		t.Fatalf("revoked key: %+v, %v", k, err)
	}
	// Revoking again changes nothing.
	if again, err := f.RevokeKey(ctx, "runner-1", "other", "again"); err != nil || !again.Revocation.At.Equal(rk.Revocation.At) || again.Revocation.By != "maint" {
		t.Errorf("revoke twice: %+v, %v", again.Revocation, err)
	}
	// Attack: a revoked name cannot be taken over by another key, nor the
	// revoked key trusted again.
	if err := f.TrustKey(ctx, "runner-1", k2, "maint", h200); !errors.Is(err, ErrKeyRevoked) {
		t.Errorf("re-enrolling a revoked name with a new key: %v, want ErrKeyRevoked", err)
	}
	if err := f.TrustKey(ctx, "runner-1", k1, "maint", h200); !errors.Is(err, ErrKeyRevoked) {
		t.Errorf("trusting a revoked key again: %v, want ErrKeyRevoked", err)
	}
	if _, err := f.RevokeKey(ctx, "nobody", "maint", "why"); !errors.Is(err, ErrKeyNotFound) {
		t.Errorf("revoke an unknown key: %v", err)
	}
}

// Keys enrolled before runner keys moved out of package queue are still
// trusted: the bucket, its keys and the record bytes are the ones the queue
// wrote, including a key from before pools existed.
func TestKeyRecordsFromBeforeTheSplit(t *testing.T) {
	f := newTestFleet(t, Config{})
	ctx := testCtx(t, time.Minute)
	if f.keys.Bucket() != "agentwatt-runner-keys" || f.runners.Bucket() != "agentwatt-runners" {
		t.Fatalf("buckets %s, %s", f.keys.Bucket(), f.runners.Bucket())
	}
	k1, k2 := newKey(t), newKey(t)
	b64 := base64.StdEncoding.EncodeToString
	for name, rec := range map[string]string{
		"gpu-node-7": `{"name":"gpu-node-7","public_key":"` + b64(k1) + `","fingerprint":"` + bundle.KeyID(k1) + `","pools":["h200x8"],"trusted_by":"alice","trusted_at":"2026-11-30T09:00:00Z"}`,
		"old-sim":    `{"name":"old-sim","public_key":"` + b64(k2) + `","fingerprint":"` + bundle.KeyID(k2) + `","trusted_by":"alice","trusted_at":"2026-01-30T09:00:00Z"}`,
	} {
		if _, err := f.keys.Put(ctx, name, []byte(rec)); err != nil {
			t.Fatal(err)
		}
	}
	keys, err := f.TrustedKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if k := keys["gpu-node-7"]; !k.PublicKey.Equal(k1) || !slices.Equal(k.Pools, []string{"h200x8"}) || k.Sim || k.TrustedBy != "alice" {
		t.Errorf("gpu-node-7: %+v", k)
	}
	if k := keys["old-sim"]; !k.PublicKey.Equal(k2) || len(k.Pools) != 0 || k.Sim {
		t.Errorf("old-sim (no pools): %+v", k)
	}
	// Enrolling the old key again with its pools keeps it; another key
	// under its name is refused.
	if err := f.TrustKey(ctx, "gpu-node-7", k1, "bob", []string{"h200x8"}); err != nil {
		t.Errorf("re-enrol: %v", err)
	}
	if err := f.TrustKey(ctx, "gpu-node-7", k2, "bob", []string{"h200x8"}); !errors.Is(err, ErrKeyConflict) {
		t.Errorf("another key under an old name: %v, want ErrKeyConflict", err)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tt := range []struct {
		name  string
		cfg   Config
		field string
	}{
		{"defaults", Config{}, ""},
		{"r3", Config{Replicas: 3, RunnerTTL: time.Minute}, ""},
		{"r2", Config{Replicas: 2}, "Replicas"},
		{"negative ttl", Config{RunnerTTL: -time.Second}, "RunnerTTL"},
	} {
		err := tt.cfg.Validate()
		if tt.field == "" && err != nil || tt.field != "" && (!errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.field)) {
			t.Errorf("%s: Validate() = %v, want an error naming %q", tt.name, err, tt.field)
		}
	}
	if got := (Config{}).withDefaults().RunnerTTL; got != 90*time.Second {
		t.Errorf("default RunnerTTL %s, want 90s", got)
	}
}
