package fleet

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/queue"
)

// Enrolment without a human: an operator or the scaler mints a single-use
// token for one pool (MintTokens); a runner that generated its key at boot
// presents it once with its public key, name and instance and a signature
// by the new key over all of them (EnrolRequest); Enrol consumes the token
// with a compare-and-set and enrols the key for the token's pool alone.

// Token limits.
const (
	// MaxTokenTTL is the longest a token may live unused.
	MaxTokenTTL = 24 * time.Hour
	// MaxTokensPerMint bounds one MintTokens call.
	MaxTokensPerMint = 100
	// tokenBucketTTL keeps a used or expired token's record (so that a
	// replay is told why) for a week; then the bucket forgets it.
	tokenBucketTTL = 7 * 24 * time.Hour
)

// tokenPrefix starts every enrolment token, so that one is recognised in
// a file and never mistaken for an API token (awv_, awm_).
const tokenPrefix = "awe_"

// EnrolToken is a token's record in BucketEnrolTokens, under its id. It
// holds the sha256 of the token, never the token.
type EnrolToken struct {
	ID        string    `json:"id"`
	SHA256    string    `json:"sha256"` // hex sha256 of the whole token
	Pool      string    `json:"pool"`
	Instance  string    `json:"instance,omitempty"` // only this instance may present it
	MintedBy  string    `json:"minted_by"`
	MintedAt  time.Time `json:"minted_at"`
	ExpiresAt time.Time `json:"expires_at"`
	// UsedAt, UsedBy (the key name) and UsedKey (its fingerprint) are set
	// when the token is consumed.
	UsedAt  time.Time `json:"used_at,omitzero"`
	UsedBy  string    `json:"used_by,omitempty"`
	UsedKey string    `json:"used_key,omitempty"`
}

// MintRequest is what MintTokens is asked for.
type MintRequest struct {
	Pool     string
	TTL      time.Duration
	Instance string // optional: the one instance that may present the token
	Count    int    // tokens to mint; 0 is 1
	By       string // who mints them, recorded
}

// Minted is one token as minted: Token is shown once and stored nowhere.
type Minted struct {
	Token string     `json:"token"`
	Info  EnrolToken `json:"info"`
}

var (
	tokenIDRe  = regexp.MustCompile(`^[0-9a-f]{16}$`)
	instanceRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)
)

// ValidInstance reports whether s can name an instance (a cloud instance
// id, a host name, a pod name): up to 128 letters, digits, '.', '_', ':'
// or '-'.
func ValidInstance(s string) bool { return instanceRe.MatchString(s) }

// MintTokens mints req.Count single-use enrolment tokens for req.Pool.
// The tokens are returned once; the bucket keeps only their sha256.
func (f *Fleet) MintTokens(ctx context.Context, req MintRequest) ([]Minted, error) {
	if req.Count == 0 {
		req.Count = 1
	}
	switch {
	case !queue.ValidPool(req.Pool):
		return nil, invalidf("enrolment token pool %q: want lower-case letters, digits, '-' or '_'", req.Pool)
	case req.TTL <= 0 || req.TTL > MaxTokenTTL:
		return nil, invalidf("enrolment token ttl %s: want more than 0 and at most %s", req.TTL, MaxTokenTTL)
	case req.Instance != "" && !ValidInstance(req.Instance):
		return nil, invalidf("enrolment token instance %q: want up to 128 letters, digits, '.', '_', ':' or '-'", req.Instance)
	case req.Count < 0 || req.Count > MaxTokensPerMint:
		return nil, invalidf("enrolment token count %d: want 1 to %d", req.Count, MaxTokensPerMint)
	case req.Count > 1 && req.Instance != "":
		return nil, invalidf("enrolment token count %d with instance %s: one instance needs one token", req.Count, req.Instance)
	case req.By == "":
		return nil, invalidf("enrolment token: who mints it (by) is empty")
	}
	now := f.now().UTC()
	out := make([]Minted, 0, req.Count)
	for len(out) < req.Count {
		id, secret := make([]byte, 8), make([]byte, 32)
		rand.Read(id)
		rand.Read(secret)
		rec := EnrolToken{ID: hex.EncodeToString(id), Pool: req.Pool, Instance: req.Instance, MintedBy: req.By,
			MintedAt: now, ExpiresAt: now.Add(req.TTL)}
		token := tokenPrefix + rec.ID + "." + base64.RawURLEncoding.EncodeToString(secret)
		rec.SHA256 = tokenHash(token)
		data, _ := json.Marshal(rec)
		if _, err := f.tokens.Create(ctx, rec.ID, data); errors.Is(err, jetstream.ErrKeyExists) {
			continue // an id drawn twice: draw again
		} else if err != nil {
			return out, fmt.Errorf("mint enrolment token: %w", err)
		}
		f.log.Info().Str("token", rec.ID).Str("pool", rec.Pool).Str("instance", rec.Instance).Str("by", rec.MintedBy).
			Time("expires", rec.ExpiresAt).Msg("enrolment token minted")
		out = append(out, Minted{Token: token, Info: rec})
	}
	return out, nil
}

// ParseToken checks an enrolment token's form (awe_<16 hex>.<43 base64url>)
// and returns its id. Surrounding white space (a file's newline) is not
// part of it.
func ParseToken(token string) (id string, err error) {
	rest, ok := strings.CutPrefix(token, tokenPrefix)
	if !ok {
		return "", fmt.Errorf("%w: not an enrolment token (want %s…)", ErrEnrolRefused, tokenPrefix)
	}
	id, secret, ok := strings.Cut(rest, ".")
	if !ok || !tokenIDRe.MatchString(id) {
		return "", fmt.Errorf("%w: malformed enrolment token", ErrEnrolRefused)
	}
	if b, err := base64.RawURLEncoding.Strict().DecodeString(secret); err != nil || len(b) != 32 {
		return "", fmt.Errorf("%w: malformed enrolment token %s", ErrEnrolRefused, id)
	}
	return id, nil
}

func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Token returns the record of the token with id (never the token).
func (f *Fleet) Token(ctx context.Context, id string) (EnrolToken, uint64, error) {
	if !tokenIDRe.MatchString(id) {
		return EnrolToken{}, 0, invalidf("enrolment token id %q: want 16 hex digits", id)
	}
	e, err := f.tokens.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return EnrolToken{}, 0, fmt.Errorf("%w: unknown enrolment token %s", ErrEnrolRefused, id)
	}
	if err != nil {
		return EnrolToken{}, 0, fmt.Errorf("enrolment token %s: %w", id, err)
	}
	var t EnrolToken
	if err := json.Unmarshal(e.Value(), &t); err != nil {
		return EnrolToken{}, 0, fmt.Errorf("enrolment token %s: decode: %w", id, err)
	}
	return t, e.Revision(), nil
}

// Enrol enrols the key of req for the pool of its token, consuming the
// token. It checks, in order: the request's form and the proof of
// possession (req.Signature by req.PublicKey over EnrolMessage), the
// token: known, matching its sha256, unused, unexpired, of req.Pool and, if
// it names one, of req.Instance; then that the name is free. The token
// is consumed by compare-and-set before the key is written, so of two
// presentations of one token only one enrols. Every refusal wraps
// ErrEnrolRefused (or ErrKeyConflict, ErrKeyRevoked for a taken name).
func (f *Fleet) Enrol(ctx context.Context, req EnrolRequest) (Key, error) {
	id, err := req.check()
	if err != nil {
		return Key{}, err
	}
	tok, rev, err := f.Token(ctx, id)
	if err != nil {
		return Key{}, err
	}
	now := f.now().UTC()
	switch {
	case subtle.ConstantTimeCompare([]byte(tok.SHA256), []byte(tokenHash(req.Token))) != 1:
		return Key{}, fmt.Errorf("%w: unknown enrolment token %s", ErrEnrolRefused, id)
	case !tok.UsedAt.IsZero():
		return Key{}, fmt.Errorf("%w: enrolment token %s was used at %s (key %s): a token enrols one key once", ErrEnrolRefused, id, tok.UsedAt.Format(time.RFC3339), tok.UsedBy)
	case !now.Before(tok.ExpiresAt):
		return Key{}, fmt.Errorf("%w: enrolment token %s expired at %s", ErrEnrolRefused, id, tok.ExpiresAt.Format(time.RFC3339))
	case tok.Pool != req.Pool:
		return Key{}, fmt.Errorf("%w: enrolment token %s is for pool %s, not %s", ErrEnrolRefused, id, tok.Pool, req.Pool)
	case tok.Instance != "" && tok.Instance != req.Instance:
		return Key{}, fmt.Errorf("%w: enrolment token %s is for instance %s, not %q", ErrEnrolRefused, id, tok.Instance, req.Instance)
	}
	// Only a presenter of a good token learns whether the name is taken;
	// a taken name leaves the token unused.
	switch old, err := f.Key(ctx, req.Name); {
	case err == nil && old.Revoked():
		return Key{}, fmt.Errorf("runner key %s: %w", req.Name, ErrKeyRevoked)
	case err == nil:
		return Key{}, fmt.Errorf("runner key %s (%s): %w: enrol under a new name", req.Name, old.Fingerprint, ErrKeyConflict)
	case !errors.Is(err, ErrKeyNotFound):
		return Key{}, err
	}
	tok.UsedAt, tok.UsedBy, tok.UsedKey = now, req.Name, bundle.KeyID(req.PublicKey)
	data, _ := json.Marshal(tok)
	if _, err := f.tokens.Update(ctx, id, data, rev); errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists) {
		return Key{}, fmt.Errorf("%w: enrolment token %s was used meanwhile: a token enrols one key once", ErrEnrolRefused, id)
	} else if err != nil {
		return Key{}, fmt.Errorf("consume enrolment token %s: %w", id, err)
	}
	enr := &Enrolment{TokenID: id, Instance: req.Instance, MintedBy: tok.MintedBy}
	if err := f.trustKey(ctx, req.Name, req.PublicKey, "enrol-token:"+id, []string{tok.Pool}, enr); err != nil {
		return Key{}, err
	}
	return f.Key(ctx, req.Name)
}
