package fleet

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func newPriv(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return priv
}

func mintOne(t *testing.T, f *Fleet, req MintRequest) string {
	t.Helper()
	if req.By == "" {
		req.By = "scaler"
	}
	if req.TTL == 0 {
		req.TTL = 30 * time.Minute
	}
	m, err := f.MintTokens(testCtx(t, time.Minute), req)
	if err != nil || len(m) != 1 {
		t.Fatalf("MintTokens: %v, %v", m, err)
	}
	return m[0].Token
}

func enrolReq(t *testing.T, token, name, instance, pool string, priv ed25519.PrivateKey) EnrolRequest {
	t.Helper()
	r, err := NewEnrolRequest(token, name, instance, pool, priv)
	if err != nil {
		t.Fatalf("NewEnrolRequest: %v", err)
	}
	return r
}

// The token is shown once and stored only as its sha256: nothing in the
// bucket (value or key) holds it or its secret.
func TestMintStoresOnlyTheHash(t *testing.T) {
	f := newTestFleet(t, Config{})
	ctx := testCtx(t, time.Minute)
	m, err := f.MintTokens(ctx, MintRequest{Pool: "h200x8", TTL: 30 * time.Minute, Count: 3, By: "alice"})
	if err != nil || len(m) != 3 {
		t.Fatalf("MintTokens: %v, %v", m, err)
	}
	for _, mt := range m {
		id, err := ParseToken(mt.Token)
		if err != nil || id != mt.Info.ID {
			t.Fatalf("ParseToken(%q) = %q, %v", mt.Token, id, err)
		}
		_, secret, _ := strings.Cut(mt.Token, ".")
		e, err := f.tokens.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(e.Value(), []byte(mt.Token)) || bytes.Contains(e.Value(), []byte(secret)) || strings.Contains(e.Key(), secret) {
			t.Errorf("the bucket holds the token: %s = %s", e.Key(), e.Value())
		}
		var rec EnrolToken
		if err := json.Unmarshal(e.Value(), &rec); err != nil || rec.SHA256 != tokenHash(mt.Token) || rec.Pool != "h200x8" || rec.MintedBy != "alice" ||
			rec.ExpiresAt.Sub(rec.MintedAt) != 30*time.Minute {
			t.Errorf("record %+v, %v", rec, err)
		}
	}
	for _, tc := range []struct {
		name string
		req  MintRequest
	}{
		{"no pool", MintRequest{TTL: time.Minute, By: "a"}},
		{"bad pool", MintRequest{Pool: "H200", TTL: time.Minute, By: "a"}},
		{"no ttl", MintRequest{Pool: "sim", By: "a"}},
		{"ttl too long", MintRequest{Pool: "sim", TTL: 25 * time.Hour, By: "a"}},
		{"too many", MintRequest{Pool: "sim", TTL: time.Minute, Count: 101, By: "a"}},
		{"many for one instance", MintRequest{Pool: "sim", TTL: time.Minute, Count: 2, Instance: "i-1", By: "a"}},
		{"bad instance", MintRequest{Pool: "sim", TTL: time.Minute, Instance: "i 1", By: "a"}},
		{"no by", MintRequest{Pool: "sim", TTL: time.Minute}},
	} {
		if _, err := f.MintTokens(ctx, tc.req); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", tc.name, err)
		}
	}
}

func TestEnrol(t *testing.T) {
	f := newTestFleet(t, Config{})
	ctx := testCtx(t, time.Minute)
	token := mintOne(t, f, MintRequest{Pool: "h200x8", Instance: "i-0abc"})
	priv := newPriv(t)
	k, err := f.Enrol(ctx, enrolReq(t, token, "gpu-i-0abc", "i-0abc", "h200x8", priv))
	if err != nil {
		t.Fatalf("Enrol: %v", err)
	}
	id, _ := ParseToken(token)
	if !k.PublicKey.Equal(priv.Public().(ed25519.PublicKey)) || len(k.Pools) != 1 || k.Pools[0] != "h200x8" || k.Sim ||
		k.Enrolment == nil || k.Enrolment.TokenID != id || k.Enrolment.Instance != "i-0abc" || k.Enrolment.MintedBy != "scaler" ||
		k.TrustedBy != "enrol-token:"+id || k.TrustedAt.IsZero() {
		t.Errorf("enrolled %+v (enrolment %+v)", k, k.Enrolment)
	}
	rec, _, err := f.Token(ctx, id)
	if err != nil || rec.UsedAt.IsZero() || rec.UsedBy != "gpu-i-0abc" || rec.UsedKey != k.Fingerprint {
		t.Errorf("token after use: %+v, %v", rec, err)
	}
}

// Attacks on enrolment: each is refused, and a refusal that comes before
// the token is consumed leaves it usable by its runner.
func TestEnrolAttacks(t *testing.T) {
	f := newTestFleet(t, Config{})
	ctx := testCtx(t, 2*time.Minute)
	now := time.Now()
	f.now = func() time.Time { return now }

	t.Run("replayed token", func(t *testing.T) {
		token := mintOne(t, f, MintRequest{Pool: "h200x8"})
		if _, err := f.Enrol(ctx, enrolReq(t, token, "node-a", "", "h200x8", newPriv(t))); err != nil {
			t.Fatal(err)
		}
		// The same token, another key and name: refused.
		_, err := f.Enrol(ctx, enrolReq(t, token, "node-b", "", "h200x8", newPriv(t)))
		if !errors.Is(err, ErrEnrolRefused) || !strings.Contains(err.Error(), "was used") {
			t.Errorf("replay: %v, want ErrEnrolRefused (used)", err)
		}
		if _, err := f.Key(ctx, "node-b"); !errors.Is(err, ErrKeyNotFound) {
			t.Errorf("the replay enrolled node-b: %v", err)
		}
	})
	t.Run("expired token", func(t *testing.T) {
		token := mintOne(t, f, MintRequest{Pool: "h200x8", TTL: time.Minute})
		f.now = func() time.Time { return now.Add(time.Minute) }
		defer func() { f.now = func() time.Time { return now } }()
		_, err := f.Enrol(ctx, enrolReq(t, token, "node-c", "", "h200x8", newPriv(t)))
		if !errors.Is(err, ErrEnrolRefused) || !strings.Contains(err.Error(), "expired") {
			t.Errorf("expired: %v, want ErrEnrolRefused (expired)", err)
		}
	})
	t.Run("token for another pool", func(t *testing.T) {
		// A sim token never enrols a hardware key, nor an h100 token an h200 key.
		for _, tc := range []struct{ minted, asked string }{{"sim", "h200x8"}, {"h100x1", "h200x8"}, {"h200x8", "sim"}} {
			token := mintOne(t, f, MintRequest{Pool: tc.minted})
			_, err := f.Enrol(ctx, enrolReq(t, token, "node-d", "", tc.asked, newPriv(t)))
			if !errors.Is(err, ErrEnrolRefused) || !strings.Contains(err.Error(), "is for pool "+tc.minted) {
				t.Errorf("token of %s for %s: %v, want ErrEnrolRefused", tc.minted, tc.asked, err)
			}
		}
	})
	t.Run("token for another instance", func(t *testing.T) {
		token := mintOne(t, f, MintRequest{Pool: "h200x8", Instance: "i-1"})
		_, err := f.Enrol(ctx, enrolReq(t, token, "node-e", "i-2", "h200x8", newPriv(t)))
		if !errors.Is(err, ErrEnrolRefused) {
			t.Errorf("other instance: %v", err)
		}
	})
	t.Run("wrong proof of possession", func(t *testing.T) {
		token := mintOne(t, f, MintRequest{Pool: "h200x8"})
		victim := newPriv(t).Public().(ed25519.PublicKey)
		// Signed by another key than the one presented.
		r := enrolReq(t, token, "node-f", "", "h200x8", newPriv(t))
		r.PublicKey = victim
		if _, err := f.Enrol(ctx, r); !errors.Is(err, ErrEnrolRefused) || !strings.Contains(err.Error(), "proof of possession") {
			t.Errorf("another key's signature: %v", err)
		}
		// A valid signature for another name or pool does not carry over.
		r = enrolReq(t, token, "node-f", "", "h200x8", newPriv(t))
		r.Name = "node-g"
		if _, err := f.Enrol(ctx, r); !errors.Is(err, ErrEnrolRefused) {
			t.Errorf("renamed request: %v", err)
		}
		// None of these consumed the token.
		if _, err := f.Enrol(ctx, enrolReq(t, token, "node-f", "", "h200x8", newPriv(t))); err != nil {
			t.Errorf("the token after refused proofs: %v", err)
		}
	})
	t.Run("unknown or forged token", func(t *testing.T) {
		token := mintOne(t, f, MintRequest{Pool: "h200x8"})
		id, _ := ParseToken(token)
		// The right id with another secret.
		forged := "awe_" + id + "." + strings.Repeat("A", 43)
		if _, err := f.Enrol(ctx, enrolReq(t, forged, "node-h", "", "h200x8", newPriv(t))); !errors.Is(err, ErrEnrolRefused) {
			t.Errorf("forged secret: %v", err)
		}
		if _, err := f.Enrol(ctx, enrolReq(t, "awe_0123456789abcdef."+strings.Repeat("A", 43), "node-h", "", "h200x8", newPriv(t))); !errors.Is(err, ErrEnrolRefused) {
			t.Errorf("unknown token: %v", err)
		}
	})
	t.Run("taken name", func(t *testing.T) {
		if err := f.TrustKey(ctx, "gpu-node-7", newKey(t), "alice", []string{"h200x8"}); err != nil {
			t.Fatal(err)
		}
		token := mintOne(t, f, MintRequest{Pool: "h200x8"})
		if _, err := f.Enrol(ctx, enrolReq(t, token, "gpu-node-7", "", "h200x8", newPriv(t))); !errors.Is(err, ErrKeyConflict) {
			t.Errorf("an enrolled name: %v, want ErrKeyConflict", err)
		}
		if _, err := f.RevokeKey(ctx, "gpu-node-7", "alice", "gone"); err != nil {
			t.Fatal(err)
		}
		if _, err := f.Enrol(ctx, enrolReq(t, token, "gpu-node-7", "", "h200x8", newPriv(t))); !errors.Is(err, ErrKeyRevoked) {
			t.Errorf("a revoked name: %v, want ErrKeyRevoked", err)
		}
		// Neither refusal used the token up.
		if _, err := f.Enrol(ctx, enrolReq(t, token, "gpu-node-8", "", "h200x8", newPriv(t))); err != nil {
			t.Errorf("the token after refused names: %v", err)
		}
	})
}

// Two runners present one token at once: exactly one is enrolled.
func TestEnrolConcurrentPresentations(t *testing.T) {
	f := newTestFleet(t, Config{})
	ctx := testCtx(t, time.Minute)
	token := mintOne(t, f, MintRequest{Pool: "h200x8"})
	const n = 8
	reqs := make([]EnrolRequest, n)
	for i := range reqs {
		reqs[i] = enrolReq(t, token, "racer-"+string(rune('a'+i)), "", "h200x8", newPriv(t))
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range reqs {
		wg.Go(func() { _, errs[i] = f.Enrol(ctx, reqs[i]) })
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, ErrEnrolRefused):
			t.Errorf("racer %d: %v, want ErrEnrolRefused", i, err)
		}
	}
	keys, err := f.TrustedKeys(ctx)
	if won != 1 || err != nil || len(keys) != 1 {
		t.Errorf("%d presentations won, %d keys enrolled (%v); want 1", won, len(keys), err)
	}
}

// The service end to end over NATS: a runner's connection enrols through
// it; failures are answered with the reason, and limited.
func TestEnrolService(t *testing.T) {
	f, e := newTestFleetServer(t, Config{})
	ctx := testCtx(t, time.Minute)
	srvConn, err := e.Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srvConn.Close)
	svc := NewEnrolService(f, srvConn, zerolog.Nop())
	svcCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- svc.Run(svcCtx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	runner, err := e.Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(runner.Close)

	token := mintOne(t, f, MintRequest{Pool: "sim"})
	priv := newPriv(t)
	var k Key
	deadline := time.Now().Add(20 * time.Second)
	for {
		k, err = RequestEnrol(ctx, runner, enrolReq(t, token, "sim-1", "pod-1", "sim", priv))
		if err == nil || !strings.Contains(err.Error(), "no enrolment service") || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond) // the service is still subscribing
	}
	if err != nil || k.Name != "sim-1" || !k.Sim || k.Enrolment == nil || k.Enrolment.Instance != "pod-1" {
		t.Fatalf("RequestEnrol: %+v, %v", k, err)
	}
	// A replay over the wire: refused with the reason.
	_, err = RequestEnrol(ctx, runner, enrolReq(t, token, "sim-2", "", "sim", newPriv(t)))
	if !errors.Is(err, ErrEnrolRefused) || !strings.Contains(err.Error(), "was used") {
		t.Errorf("replay over NATS: %v", err)
	}
	// Garbage is refused as invalid.
	msg, err := runner.RequestWithContext(ctx, EnrolSubject, []byte(`{"token":1}`))
	if err != nil || msg.Header.Get("Nats-Service-Error-Code") != codeInvalid {
		t.Errorf("garbage: %v %v", msg, err)
	}
	// Failures are limited: past the burst, even a good token waits.
	for range FailBurst {
		_, _ = RequestEnrol(ctx, runner, enrolReq(t, token, "sim-3", "", "sim", newPriv(t)))
	}
	good := mintOne(t, f, MintRequest{Pool: "sim"})
	if _, err := RequestEnrol(ctx, runner, enrolReq(t, good, "sim-4", "", "sim", newPriv(t))); err == nil || !strings.Contains(err.Error(), "too many failed") {
		t.Errorf("after %d failures: %v, want too many failed enrolments", FailBurst, err)
	}
}

func FuzzDecodeEnrolRequest(fz *testing.F) {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	r, err := NewEnrolRequest("awe_0123456789abcdef."+strings.Repeat("A", 43), "node-1", "i-1", "h200x8", priv)
	if err != nil {
		fz.Fatal(err)
	}
	good, _ := json.Marshal(r)
	fz.Add(good)
	fz.Add([]byte(`{}`))
	fz.Add([]byte(`{"token":"awe_x","name":"n"}`))
	fz.Add(append(good, good...))
	fz.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeEnrolRequest(data)
		if err != nil {
			return
		}
		id, err := ParseToken(r.Token)
		if err != nil || !ed25519.Verify(r.PublicKey, EnrolMessage(id, r.Name, r.Instance, r.Pool, r.PublicKey), r.Signature) {
			t.Fatalf("accepted a request whose token or proof does not check: %+v", r)
		}
	})
}

func FuzzParseToken(fz *testing.F) {
	fz.Add("awe_0123456789abcdef." + strings.Repeat("A", 43))
	fz.Add("awe_0123456789abcdef." + strings.Repeat("A", 44))
	fz.Add("awm_0123456789abcdef.x")
	fz.Add("")
	fz.Fuzz(func(t *testing.T, s string) {
		id, err := ParseToken(s)
		if err == nil && (!tokenIDRe.MatchString(id) || !strings.HasPrefix(s, "awe_"+id+".") || len(s) != 4+16+1+43) {
			t.Fatalf("ParseToken(%q) accepted id %q", s, id)
		}
	})
}
