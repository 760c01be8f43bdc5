package bundle

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"testing"
)

func newPublicKey(t testing.TB) ed25519.PublicKey {
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

func TestParsePublicKeyForms(t *testing.T) {
	pub := newPublicKey(t)
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
		if !tt.ok && !errors.Is(err, ErrBadKey) {
			t.Errorf("%s: got %x, %v; want ErrBadKey", tt.name, got, err)
		}
	}
}

func FuzzParsePublicKey(f *testing.F) {
	pub := newPublicKey(f)
	f.Add(pemKey(f, pub))
	f.Add([]byte(base64.StdEncoding.EncodeToString(pub)))
	f.Add([]byte("-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := ParsePublicKey(data)
		if err == nil && len(k) != ed25519.PublicKeySize {
			t.Fatalf("accepted a %d-byte key", len(k))
		}
		if err != nil && !errors.Is(err, ErrBadKey) {
			t.Fatalf("error %v does not wrap ErrBadKey", err)
		}
	})
}
