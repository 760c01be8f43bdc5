package queue

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"slices"
	"testing"
	"time"
)

func newKey(t testing.TB) ed25519.PublicKey {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

func pemKey(t testing.TB, pub any) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func TestParsePublicKey(t *testing.T) {
	pub := newKey(t)
	tests := []struct {
		name string
		in   []byte
		ok   bool
	}{
		{"pem pkix", pemKey(t, pub), true},
		{"pem with text around", append([]byte("# runner-7\n"), pemKey(t, pub)...), true},
		{"base64 std", []byte(base64.StdEncoding.EncodeToString(pub) + "\n"), true},
		{"base64 raw url", []byte(base64.RawURLEncoding.EncodeToString(pub)), true},
		{"empty", nil, false},
		{"short", []byte(base64.StdEncoding.EncodeToString(pub[:31])), false},
		{"not base64", []byte("ssh-ed25519 AAAA"), false},
		{"private key pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}}), false},
		{"garbage pem", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1, 2, 3}}), false},
	}
	for _, tt := range tests {
		got, err := ParsePublicKey(tt.in)
		if tt.ok && (err != nil || !got.Equal(pub)) {
			t.Errorf("%s: got %x, %v; want the key", tt.name, got, err)
		}
		if !tt.ok && !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: got %x, %v; want ErrInvalid", tt.name, got, err)
		}
	}
}

func FuzzParsePublicKey(f *testing.F) {
	pub := newKey(f)
	f.Add(pemKey(f, pub))
	f.Add([]byte(base64.StdEncoding.EncodeToString(pub)))
	f.Add([]byte("-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := ParsePublicKey(data)
		if err == nil && len(k) != ed25519.PublicKeySize {
			t.Fatalf("accepted a %d-byte key", len(k))
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Fatalf("error %v does not wrap ErrInvalid", err)
		}
	})
}

func TestRunnerKeys(t *testing.T) {
	q := newTestQueue(t, Config{})
	ctx := testCtx(t, time.Minute)
	k1, k2 := newKey(t), newKey(t)
	h200 := []string{"h200x8"}
	if err := q.TrustRunnerKey(ctx, "runner-1", k1, "maint", h200); err != nil {
		t.Fatal(err)
	}
	if err := q.TrustRunnerKey(ctx, "runner-1", k1, "maint", h200); err != nil {
		t.Errorf("trusting the same key again: %v", err)
	}
	if err := q.TrustRunnerKey(ctx, "runner-1", k2, "maint", h200); !errors.Is(err, ErrRunnerKeyConflict) {
		t.Errorf("another key under the same name: got %v, want ErrRunnerKeyConflict", err)
	}
	if err := q.TrustRunnerKey(ctx, "runner-2", k2, "maint", []string{"sim"}); err != nil {
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
	} {
		if err := q.TrustRunnerKey(ctx, tt.key, tt.pub, tt.by, tt.pools); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: got %v, want ErrInvalid", tt.name, err)
		}
	}
	keys, err := q.TrustedRunnerKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || !keys["runner-1"].PublicKey.Equal(k1) || !keys["runner-2"].PublicKey.Equal(k2) {
		t.Fatalf("TrustedRunnerKeys: %+v", keys)
	}
	if k := keys["runner-1"]; k.TrustedBy != "maint" || k.Fingerprint != Fingerprint(k1) || k.TrustedAt.IsZero() || !slices.Equal(k.Pools, h200) || k.Sim {
		t.Errorf("record: %+v", k)
	}
	if k := keys["runner-2"]; !slices.Equal(k.Pools, []string{"sim"}) || !k.Sim {
		t.Errorf("sim key's record: %+v, want pools [sim], sim", k)
	}
	// Enrolling the same key with other pools changes its scope.
	if err := q.TrustRunnerKey(ctx, "runner-1", k1, "maint", []string{"h200x8", "b200x8"}); err != nil {
		t.Fatal(err)
	}
	if k, err := q.RunnerKey(ctx, "runner-1"); err != nil || !slices.Equal(k.Pools, []string{"b200x8", "h200x8"}) {
		t.Errorf("after re-enrolling with two pools: %+v, %v", k, err)
	}
	if err := q.RevokeRunnerKey(ctx, "runner-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := q.RunnerKey(ctx, "runner-1"); !errors.Is(err, ErrRunnerKeyNotFound) {
		t.Errorf("revoked key: got %v, want ErrRunnerKeyNotFound", err)
	}
	if err := q.TrustRunnerKey(ctx, "runner-1", k2, "maint", h200); err != nil {
		t.Errorf("re-enrolling a revoked name with a new key: %v", err)
	}
}

func TestRunnerLiveness(t *testing.T) {
	q := newTestQueue(t, Config{RunnerTTL: time.Second})
	ctx := testCtx(t, time.Minute)
	for _, id := range []string{"gpu-node-1.dc2", "gpu-node-2"} {
		if err := q.RegisterRunner(ctx, RunnerInfo{ID: id, Pool: "h200x8", KeyName: "runner-1"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.RegisterRunner(ctx, RunnerInfo{ID: "bad id"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad id: got %v, want ErrInvalid", err)
	}
	rs, err := q.ListRunners(ctx)
	if err != nil || len(rs) != 2 || rs[0].ID != "gpu-node-1.dc2" || rs[0].SeenAt.IsZero() {
		t.Fatalf("ListRunners: %+v, %v", rs, err)
	}
	if err := q.DeregisterRunner(ctx, "gpu-node-2"); err != nil {
		t.Fatal(err)
	}
	// The other entry expires after RunnerTTL without a refresh.
	deadline := time.Now().Add(30 * time.Second)
	for {
		rs, err := q.ListRunners(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("runners still listed after their TTL: %+v", rs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
