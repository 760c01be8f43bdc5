package bundle

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
)

func TestGenerateKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "runner.key")
	priv, err := GenerateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Mode().Perm(); got != 0o600 {
		t.Errorf("private key mode = %04o, want 0600", got)
	}
	if st, _ := os.Stat(filepath.Dir(path)); st.Mode().Perm() != 0o700 {
		t.Errorf("key dir mode = %04o, want 0700", st.Mode().Perm())
	}
	pubPEM, err := os.ReadFile(PublicKeyPath(path))
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParsePublicKey(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(priv.Public()) {
		t.Error("public key file does not hold the key's public half")
	}
	if _, err := GenerateKey(path); !errors.Is(err, fs.ErrExist) {
		t.Errorf("second GenerateKey: %v, want fs.ErrExist", err)
	}
	again, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Equal(priv) {
		t.Error("LoadOrCreateKey made a new key instead of loading the existing one")
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 2 {
		t.Errorf("key dir holds %d entries, want the key and its .pub (no temporary files)", len(entries))
	}
}

func TestLoadOrCreateKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "runner.key")
	a, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(PublicKeyPath(path))
	b, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if !a.Equal(b) {
		t.Fatal("second call returned another key")
	}
	if _, err := os.Stat(PublicKeyPath(path)); err != nil {
		t.Fatalf("missing public key not rewritten: %v", err)
	}
}

func TestLoadKeyRefusesReadableByOthers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "runner.key")
	if _, err := GenerateKey(path); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []os.FileMode{0o640, 0o604, 0o644} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadOrCreateKey(path); !errors.Is(err, ErrKeyPermissions) {
			t.Errorf("mode %04o: %v, want ErrKeyPermissions", mode, err)
		}
	}
}

func TestParseKeys(t *testing.T) {
	k := testKey(9)
	raw := []byte(pub(k))
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"pkix pem", string(MarshalPublicKey(pub(k))), true},
		{"base64 std", base64.StdEncoding.EncodeToString(raw), true},
		{"base64 raw url", base64.RawURLEncoding.EncodeToString(raw) + "\n", true},
		{"short", base64.StdEncoding.EncodeToString(raw[:31]), false},
		{"private pem", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", false},
		{"empty", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParsePublicKey([]byte(tc.in))
			if !tc.ok {
				if !errors.Is(err, ErrBadKey) {
					t.Fatalf("err = %v, want ErrBadKey", err)
				}
				return
			}
			if err != nil || !got.Equal(pub(k)) {
				t.Fatalf("got %x, %v; want %x", got, err, raw)
			}
		})
	}
	if _, err := ParsePrivateKey(MarshalPublicKey(pub(k))); !errors.Is(err, ErrBadKey) {
		t.Errorf("ParsePrivateKey(public PEM): %v, want ErrBadKey", err)
	}
}

// TestKeyID pins the key id to the queue's enrolment fingerprint:
// "sha256:" + hex(sha256(32 key bytes)).
func TestKeyID(t *testing.T) {
	p := pub(testKey(4))
	sum := sha256.Sum256(p)
	if got, want := KeyID(p), "sha256:"+hex.EncodeToString(sum[:]); got != want {
		t.Fatalf("KeyID = %s, want %s", got, want)
	}
	if !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(KeyID(p)) {
		t.Fatalf("KeyID %s: wrong form", KeyID(p))
	}
}

// TestSignerWithLibrary signs and verifies through the library's envelope
// signer and verifier only.
func TestSignerWithLibrary(t *testing.T) {
	k := testKey(5)
	es, err := dsse.NewEnvelopeSigner(NewSigner(k))
	if err != nil {
		t.Fatal(err)
	}
	env, err := es.SignPayload(context.Background(), "text/plain", []byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	if env.Signatures[0].KeyID != KeyID(pub(k)) {
		t.Errorf("signature key id = %s, want %s", env.Signatures[0].KeyID, KeyID(pub(k)))
	}
	ev, _ := dsse.NewEnvelopeVerifier(NewVerifier(pub(k)))
	if _, err := ev.Verify(context.Background(), env); err != nil {
		t.Fatalf("verify: %v", err)
	}
	// The signature covers the library's PAE of (type, payload).
	sig, _ := base64.StdEncoding.DecodeString(env.Signatures[0].Sig)
	if !ed25519.Verify(pub(k), dsse.PAE("text/plain", []byte("hello")), sig) {
		t.Error("signature is not over dsse.PAE")
	}
	env.PayloadType = "text/html"
	if _, err := ev.Verify(context.Background(), env); err == nil {
		t.Error("verify accepted a changed payload type")
	}
	ev2, _ := dsse.NewEnvelopeVerifier(NewVerifier(pub(testKey(6))))
	env.PayloadType = "text/plain"
	if _, err := ev2.Verify(context.Background(), env); err == nil {
		t.Error("another key verified the signature")
	}
}
