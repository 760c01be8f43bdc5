package bundle

import (
	"errors"
	"fmt"
)

// Sentinel errors of the writers, readers and key helpers.
var (
	// ErrInvalidName: a file name that cannot be part of a bundle (ValidName).
	ErrInvalidName = errors.New("invalid bundle file name")
	// ErrTooLarge: a file or document above its size limit.
	ErrTooLarge = errors.New("too large")
	// ErrDecompressedTooLarge: a compressed stream expands past its limit.
	ErrDecompressedTooLarge = errors.New("decompressed size above limit")
	// ErrBadPowerLine: a power.jsonl line that is not a valid sample.
	ErrBadPowerLine = errors.New("bad power sample")
	// ErrLineTooLong: a line above the line length limit.
	ErrLineTooLong = errors.New("line too long")
	// ErrDigestMismatch: a file's content does not match the manifest.
	ErrDigestMismatch = errors.New("content does not match the manifest")
	// ErrNotListed: a file the manifest does not list.
	ErrNotListed = errors.New("file not listed in the manifest")
	// ErrSealed: the writer was already sealed.
	ErrSealed = errors.New("bundle already sealed")
	// ErrKeyMismatch: the manifest names another key than the signer's.
	ErrKeyMismatch = errors.New("manifest key id is not the signer's")
	// ErrBadKey: a key file that does not hold an ed25519 key.
	ErrBadKey = errors.New("not an ed25519 key")
	// ErrKeyPermissions: a private key file readable by others than its owner.
	ErrKeyPermissions = errors.New("private key file is readable by group or others")
	// ErrSchemaVersion: a document of a schema version this build does not read.
	ErrSchemaVersion = errors.New("unsupported schema version")
)

// Reason names why a bundle failed an integrity check. Tests and the
// verifier's verdict branch on it; the values are stable.
type Reason string

// Reasons of VerifyIntegrity. ReasonRead is not a judgement of the bundle:
// the source could not be read (network, permissions) and the check should
// be retried.
const (
	ReasonEnvelopeMissing    Reason = "envelope_missing"    // no manifest.dsse.json
	ReasonEnvelopeMalformed  Reason = "envelope_malformed"  // not a DSSE envelope, or too large
	ReasonPayloadType        Reason = "payload_type"        // payload type is not in-toto
	ReasonUntrustedKey       Reason = "untrusted_key"       // no signature by a trusted key
	ReasonBadSignature       Reason = "bad_signature"       // a trusted key's signature does not verify
	ReasonStatementMalformed Reason = "statement_malformed" // not an in-toto v1 statement
	ReasonPredicateType      Reason = "predicate_type"      // another predicate type
	ReasonManifestMalformed  Reason = "manifest_malformed"  // the predicate is not a valid Manifest
	ReasonSchemaVersion      Reason = "schema_version"      // a manifest schema this build does not read
	ReasonKeyMismatch        Reason = "key_mismatch"        // manifest runner.key_id is not the signing key
	ReasonManifestMissing    Reason = "manifest_missing"    // no manifest.json
	ReasonManifestMismatch   Reason = "manifest_mismatch"   // manifest.json differs from the signed predicate
	ReasonSubjectMismatch    Reason = "subject_mismatch"    // statement subjects differ from the manifest's files
	ReasonFileMissing        Reason = "file_missing"        // a listed file is absent
	ReasonSizeMismatch       Reason = "size_mismatch"       // a listed file has another size
	ReasonDigestMismatch     Reason = "digest_mismatch"     // a listed file has another sha256
	ReasonUnlistedFile       Reason = "unlisted_file"       // a file the manifest does not list
	ReasonRequiredMissing    Reason = "required_missing"    // a complete bundle lacks a required file
	ReasonTooLarge           Reason = "too_large"           // a file above its size limit
	ReasonRead               Reason = "read_error"          // the source could not be read; retry
)

// Problem is one failed check of a bundle.
type Problem struct {
	Reason Reason `json:"reason"`
	File   string `json:"file,omitempty"`
	Detail string `json:"detail"`
}

// Error makes a Problem usable as an error.
func (p Problem) Error() string {
	if p.File != "" {
		return fmt.Sprintf("%s: %s: %s", p.Reason, p.File, p.Detail)
	}
	return fmt.Sprintf("%s: %s", p.Reason, p.Detail)
}

// HasReason reports whether ps holds a problem with reason r.
func HasReason(ps []Problem, r Reason) bool {
	for _, p := range ps {
		if p.Reason == r {
			return true
		}
	}
	return false
}

// Reasons lists the reasons of ps in order, duplicates removed.
func Reasons(ps []Problem) []Reason {
	var out []Reason
	seen := map[Reason]bool{}
	for _, p := range ps {
		if !seen[p.Reason] {
			seen[p.Reason] = true
			out = append(out, p.Reason)
		}
	}
	return out
}

func problemf(r Reason, file, format string, args ...any) Problem {
	return Problem{Reason: r, File: file, Detail: fmt.Sprintf(format, args...)}
}
