package bundle

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"errors"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
)

// errBadSignature is what Verifier.Verify returns for a signature that does
// not verify.
var errBadSignature = errors.New("ed25519 signature does not verify")

// Signer signs DSSE envelopes with an ed25519 private key. The envelope's
// pre-authentication encoding is the library's (dsse.EnvelopeSigner); Signer
// only signs the bytes it is given.
type Signer struct {
	priv ed25519.PrivateKey
	Verifier
}

var _ dsse.SignerVerifier = (*Signer)(nil)

// NewSigner wraps priv.
func NewSigner(priv ed25519.PrivateKey) *Signer {
	return &Signer{priv: priv, Verifier: *NewVerifier(priv.Public().(ed25519.PublicKey))}
}

// Sign signs data (the DSSE pre-authentication encoding) with ed25519.
func (s *Signer) Sign(_ context.Context, data []byte) ([]byte, error) {
	return ed25519.Sign(s.priv, data), nil
}

// Verifier checks ed25519 signatures of one public key.
type Verifier struct {
	pub ed25519.PublicKey
	id  string
}

var _ dsse.Verifier = (*Verifier)(nil)

// NewVerifier wraps pub.
func NewVerifier(pub ed25519.PublicKey) *Verifier {
	return &Verifier{pub: pub, id: KeyID(pub)}
}

// Verify checks sig over data.
func (v *Verifier) Verify(_ context.Context, data, sig []byte) error {
	if len(v.pub) != ed25519.PublicKeySize || !ed25519.Verify(v.pub, data, sig) {
		return errBadSignature
	}
	return nil
}

// KeyID is KeyID(pub).
func (v *Verifier) KeyID() (string, error) { return v.id, nil }

// Public is the ed25519.PublicKey.
func (v *Verifier) Public() crypto.PublicKey { return v.pub }
