package verifyd_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/queue"
	"github.com/agentwatt/agentwatt/verifier"
	"github.com/agentwatt/agentwatt/verifier/verifiertest"
	"github.com/agentwatt/agentwatt/verifier/verifiertest/known"
	"github.com/agentwatt/agentwatt/verifyd"
)

// TestVerifyRejectsRevokedKeysLaterBundle: runner r1's key is revoked (the
// host went away; its key may have been copied). Whoever holds the key
// then runs a job and signs its bundle, backdating the manifest to before
// the revocation. Online, the queue's record says the attempt started
// after the revocation: rejected, and the verdict says why.
func TestVerifyRejectsRevokedKeysLaterBundle(t *testing.T) {
	e := newDaemonEnv(t)
	ctx := context.Background()
	if _, err := e.fleet.RevokeKey(ctx, "r1", "maint", "instance terminated"); err != nil {
		t.Fatal(err)
	}
	id := e.uploaded(t, "submit:after", nil) // created_at 2026-11-26: before the revocation
	v := e.verdictOf(t, id, 1)
	if v.Verified() {
		t.Fatal("a revoked key's bundle of an attempt started after the revocation verified")
	}
	c, ok := v.Check(verifier.CheckKeyScope)
	if !ok || c.Passed || !strings.Contains(c.Reason, "revoked") || !strings.Contains(c.Reason, "instance terminated") || !strings.Contains(c.Reason, "attempt started") {
		t.Errorf("check %s: %+v, want failed naming the revocation; failed: %s", verifier.CheckKeyScope, c, verifiertest.FailedReasons(v))
	}
	if j, _ := e.q.Get(ctx, id); j.State != queue.Rejected {
		t.Errorf("job: %s, want rejected", j.State)
	}
}

// TestRevokedKeysEarlierBundlesKept: a bundle made before the key was
// revoked stays trusted, online and offline (runners.json carries the
// revocation); one the key signed after it is rejected offline too.
func TestRevokedKeysEarlierBundlesKept(t *testing.T) {
	e := newDaemonEnv(t)
	ctx := context.Background()
	before := e.uploaded(t, "submit:before", nil)
	if _, err := e.fleet.RevokeKey(ctx, "r1", "maint", "instance terminated"); err != nil {
		t.Fatal(err)
	}
	// Online: the daemon verifies it now, after the revocation; it was
	// made (attempt and signature) before.
	v := e.verdictOf(t, before, 1)
	if !v.Verified() {
		t.Fatalf("a bundle made before the revocation: %s", verifiertest.FailedReasons(v))
	}
	if c, _ := v.Check(verifier.CheckKeyScope); !strings.Contains(c.Reason, "revoked at") {
		t.Errorf("the verdict does not mention the revocation: %+v", c)
	}

	// Offline, from the runners.json publication writes.
	enrolled, err := e.fleet.TrustedKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(verifyd.RunnersOf(enrolled, time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"revoked"`) || !strings.Contains(string(data), "instance terminated") {
		t.Fatalf("runners.json does not carry the revocation: %s", data)
	}
	keys, err := verifyd.ParseKeys(data)
	if err != nil {
		t.Fatal(err)
	}
	b := e.built[before]
	opts := keys.Options(known.Options(b))
	if v, err := verifier.Verify(ctx, bundle.DirSource(b.Dir), opts); err != nil || !v.Verified() {
		t.Fatalf("offline, the bundle made before: %v %s", err, verifiertest.FailedReasons(v))
	}
	later := filepath.Join(t.TempDir(), "later")
	if err := b.Derive(ctx, later, func(dir string) error {
		return verifiertest.EditJSON(dir, bundle.ManifestFile, func(m *bundle.Manifest) { m.CreatedAt = time.Now().Add(time.Minute) })
	}, e.key); err != nil {
		t.Fatal(err)
	}
	v, err = verifier.Verify(ctx, bundle.DirSource(later), opts)
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := v.Check(verifier.CheckKeyScope); v.Verified() || !ok || c.Passed || !strings.Contains(c.Reason, "signed at") {
		t.Errorf("offline, a bundle signed after the revocation: %+v; failed: %s", c, verifiertest.FailedReasons(v))
	}
	// A version 2 file cannot carry a revocation: refused, not ignored.
	v2 := strings.Replace(string(data), `"schema_version":3`, `"schema_version":2`, 1)
	if _, err := verifyd.ParseKeys([]byte(v2)); err == nil || !strings.Contains(err.Error(), "revoked needs schema_version 3") {
		t.Errorf("a revocation in a version 2 file: %v", err)
	}
}
