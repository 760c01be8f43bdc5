package bundle

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// maxKeyFile bounds a key file read.
const maxKeyFile = 64 << 10

// KeyID names a public key: "sha256:" and the hex sha256 of its 32 bytes.
// It is the fingerprint recorded when the key is enrolled (fleet.Key), so a
// verifier can look enrolled keys up by it.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Trusted indexes public keys by KeyID, the form VerifyIntegrity takes.
func Trusted(keys ...ed25519.PublicKey) map[string]ed25519.PublicKey {
	out := make(map[string]ed25519.PublicKey, len(keys))
	for _, k := range keys {
		out[KeyID(k)] = k
	}
	return out
}

// PublicKeyPath is where GenerateKey writes the public key of the private
// key at path: path + ".pub".
func PublicKeyPath(path string) string { return path + ".pub" }

// GenerateKey creates a new ed25519 key at path: the private key as PEM
// "PRIVATE KEY" (PKCS#8) readable only by its owner (0600, in a directory
// created 0700 if missing), and the public key beside it at
// PublicKeyPath(path) as PEM "PUBLIC KEY" (PKIX), the form `agentwatt runner
// trust` and `openssl pkey -pubout` read. Both are written to a temporary
// name first; an existing private key is never replaced (fs.ErrExist).
func GenerateKey(path string) (ed25519.PrivateKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("encode key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("key dir: %w", err)
	}
	if err := writeExclusive(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return nil, fmt.Errorf("write key %s: %w", path, err)
	}
	if err := writePublicKey(path, pub); err != nil {
		return nil, err
	}
	return priv, nil
}

// LoadOrCreateKey loads the private key at path, generating it (GenerateKey)
// on first use, and rewrites a missing public key file. A private key file
// that group or others may read is refused (ErrKeyPermissions).
func LoadOrCreateKey(path string) (ed25519.PrivateKey, error) {
	priv, err := LoadKey(path)
	if errors.Is(err, fs.ErrNotExist) {
		priv, err = GenerateKey(path)
		if errors.Is(err, fs.ErrExist) { // another process won the race
			priv, err = LoadKey(path)
		}
	}
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(PublicKeyPath(path)); errors.Is(err, fs.ErrNotExist) {
		if err := writePublicKey(path, priv.Public().(ed25519.PublicKey)); err != nil {
			return nil, err
		}
	}
	return priv, nil
}

// LoadKey reads a private key written by GenerateKey (or `openssl genpkey
// -algorithm ed25519`), refusing a file that group or others may read.
func LoadKey(path string) (ed25519.PrivateKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s (mode %04o): %w", path, st.Mode().Perm(), ErrKeyPermissions)
	}
	data, err := readLimited(f, maxKeyFile)
	if err != nil {
		return nil, fmt.Errorf("read key %s: %w", path, err)
	}
	priv, err := ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return priv, nil
}

// ParsePrivateKey reads a PEM "PRIVATE KEY" (PKCS#8) ed25519 key.
func ParsePrivateKey(data []byte) (ed25519.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("want a PEM \"PRIVATE KEY\" block: %w", ErrBadKey)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("PKCS#8: %v: %w", err, ErrBadKey)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("key is %T: %w", k, ErrBadKey)
	}
	return priv, nil
}

// MarshalPublicKey is pub as PEM "PUBLIC KEY" (PKIX).
func MarshalPublicKey(pub ed25519.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil { // only for a key of the wrong length
		panic(fmt.Sprintf("bundle: marshal public key: %v", err))
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// ParsePublicKey reads an ed25519 public key in the forms `agentwatt runner
// trust` and `verify --keys` accept:
//   - PEM, type "PUBLIC KEY", PKIX (what `openssl pkey -pubout` and
//     MarshalPublicKey write);
//   - the 32 raw key bytes in standard or URL-safe base64, padded or not,
//     surrounding whitespace ignored.
//
// Every error says which form failed and why, and matches ErrBadKey.
func ParsePublicKey(data []byte) (ed25519.PublicKey, error) {
	if block, _ := pem.Decode(data); block != nil {
		if block.Type != "PUBLIC KEY" {
			return nil, fmt.Errorf("PEM block %q, want \"PUBLIC KEY\": %w", block.Type, ErrBadKey)
		}
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("PEM public key: %v: %w", err, ErrBadKey)
		}
		pub, ok := k.(ed25519.PublicKey)
		if !ok {
			return nil, fmt.Errorf("PEM public key is %T: %w", k, ErrBadKey)
		}
		return pub, nil
	}
	s := strings.TrimSpace(string(data))
	if s == "" {
		return nil, fmt.Errorf("public key is empty: %w", ErrBadKey)
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		b, err := enc.DecodeString(s)
		if err != nil {
			continue
		}
		if len(b) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("base64 public key: %d bytes, want %d: %w", len(b), ed25519.PublicKeySize, ErrBadKey)
		}
		return ed25519.PublicKey(b), nil
	}
	return nil, fmt.Errorf("public key: neither a PEM \"PUBLIC KEY\" block nor base64: %w", ErrBadKey)
}

func writePublicKey(privPath string, pub ed25519.PublicKey) error {
	path := PublicKeyPath(privPath)
	if err := writeFileAtomic(path, MarshalPublicKey(pub), 0o644); err != nil {
		return fmt.Errorf("write public key %s: %w", path, err)
	}
	return nil
}

// writeExclusive writes data to a temporary file and links it to path,
// failing with fs.ErrExist if path exists: the file appears complete or not
// at all, and never replaces another.
func writeExclusive(path string, data []byte, perm os.FileMode) error {
	tmp, err := writeTemp(path, data, perm)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fs.ErrExist
		}
		return err
	}
	return syncDir(filepath.Dir(path))
}

// writeFileAtomic writes data to a temporary file and renames it to path.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp, err := writeTemp(path, data, perm)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(path))
}

func writeTemp(path string, data []byte, perm os.FileMode) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return "", err
	}
	name := f.Name()
	fail := func(err error) (string, error) {
		f.Close()
		os.Remove(name)
		return "", err
	}
	if err := f.Chmod(perm); err != nil {
		return fail(err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(name)
		return "", err
	}
	return name, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	_ = d.Sync() // not every file system syncs directories
	return nil
}
