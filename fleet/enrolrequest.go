package fleet

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"fmt"

	"github.com/agentwatt/agentwatt/queue"
)

// EnrolRequest is what a runner presents to enrol its key: the token, the
// name to enrol the key under (its --id), its instance, the pool it runs
// and its public key, with a signature by the matching private key over
// EnrolMessage (proof of possession: nobody enrols a key they do not hold,
// and the signature binds the token to this key, name, instance and pool).
type EnrolRequest struct {
	Token     string            `json:"token"`
	Name      string            `json:"name"`
	Instance  string            `json:"instance,omitempty"`
	Pool      string            `json:"pool"`
	PublicKey ed25519.PublicKey `json:"public_key"` // base64 in JSON
	Signature []byte            `json:"signature"`  // base64 in JSON
}

// MaxEnrolRequestBytes bounds an encoded EnrolRequest.
const MaxEnrolRequestBytes = 4 << 10

// enrolContext separates the enrolment signature from every other
// signature a runner key makes (bundles are signed as DSSE envelopes).
const enrolContext = "agentwatt-enrol-v1"

// EnrolMessage is what the new key signs: a context string and the token
// id, name, instance, pool and public key, each length-prefixed so no two
// requests share a message.
func EnrolMessage(tokenID, name, instance, pool string, pub ed25519.PublicKey) []byte {
	var b bytes.Buffer
	for _, f := range []string{enrolContext, tokenID, name, instance, pool, string(pub)} {
		fmt.Fprintf(&b, "%d:%s\n", len(f), f)
	}
	return b.Bytes()
}

// NewEnrolRequest builds the request that enrols priv's public key under
// name with token, signed by priv.
func NewEnrolRequest(token, name, instance, pool string, priv ed25519.PrivateKey) (EnrolRequest, error) {
	id, err := ParseToken(token)
	if err != nil {
		return EnrolRequest{}, err
	}
	pub := priv.Public().(ed25519.PublicKey)
	r := EnrolRequest{Token: token, Name: name, Instance: instance, Pool: pool, PublicKey: pub,
		Signature: ed25519.Sign(priv, EnrolMessage(id, name, instance, pool, pub))}
	if _, err := r.check(); err != nil {
		return EnrolRequest{}, err
	}
	return r, nil
}

// DecodeEnrolRequest decodes and checks a request as the enrolment service
// receives it: at most MaxEnrolRequestBytes, no unknown fields, a
// well-formed token, name, instance, pool and key, and a valid proof of
// possession.
func DecodeEnrolRequest(data []byte) (EnrolRequest, error) {
	var r EnrolRequest
	if len(data) > MaxEnrolRequestBytes {
		return r, invalidf("enrolment request of %d bytes: at most %d", len(data), MaxEnrolRequestBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return EnrolRequest{}, invalidf("enrolment request: %v", err)
	}
	if dec.More() {
		return EnrolRequest{}, invalidf("enrolment request: data after the JSON object")
	}
	if _, err := r.check(); err != nil {
		return EnrolRequest{}, err
	}
	return r, nil
}

// check validates the request's form and its proof of possession and
// returns the token's id.
func (r EnrolRequest) check() (string, error) {
	id, err := ParseToken(r.Token)
	if err != nil {
		return "", err
	}
	switch {
	case !queue.ValidName(r.Name):
		return "", invalidf("runner key name %q: want a DNS label", r.Name)
	case r.Instance != "" && !ValidInstance(r.Instance):
		return "", invalidf("instance %q: want up to 128 letters, digits, '.', '_', ':' or '-'", r.Instance)
	case !queue.ValidPool(r.Pool):
		return "", invalidf("pool %q: want lower-case letters, digits, '-' or '_'", r.Pool)
	case len(r.PublicKey) != ed25519.PublicKeySize:
		return "", invalidf("public key of %d bytes, want an ed25519 public key (%d)", len(r.PublicKey), ed25519.PublicKeySize)
	case len(r.Signature) != ed25519.SignatureSize ||
		!ed25519.Verify(r.PublicKey, EnrolMessage(id, r.Name, r.Instance, r.Pool, r.PublicKey), r.Signature):
		return "", fmt.Errorf("%w: the proof of possession does not verify: the request must be signed by the key it enrols, over this token, name, instance and pool", ErrEnrolRefused)
	}
	return id, nil
}
