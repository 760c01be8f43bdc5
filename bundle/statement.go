package bundle

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	intoto "github.com/in-toto/attestation/go/v1"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
)

// PayloadType is the DSSE payload type of manifest.dsse.json: an in-toto
// statement in JSON.
const PayloadType = "application/vnd.in-toto+json"

// PredicateType is the in-toto predicate type of a bundle's statement; the
// predicate is the Manifest.
const PredicateType = "https://agentwatt.dev/bundle/v1"

// DigestSHA256 is the digest algorithm of the statement's subjects.
const DigestSHA256 = "sha256"

// JobSubjectPrefix starts the name of the statement's subject that is the
// job the bundle measured, "job:<id>/<attempt>" (no file name has a ':').
const JobSubjectPrefix = "job:"

// NewStatement builds the in-toto v1 statement of m: one subject per file
// (its name and sha256), for a version 2 manifest one subject for the job
// (JobSubject), and m as the predicate.
func NewStatement(m *Manifest) (*intoto.Statement, error) {
	pred, err := predicateOf(m)
	if err != nil {
		return nil, err
	}
	st := &intoto.Statement{
		Type:          intoto.StatementTypeUri,
		PredicateType: PredicateType,
		Predicate:     pred,
	}
	for _, f := range m.Files {
		st.Subject = append(st.Subject, &intoto.ResourceDescriptor{
			Name:   f.Name,
			Digest: map[string]string{DigestSHA256: f.SHA256},
		})
	}
	if m.SchemaVersion >= ManifestSchemaVersion {
		js, err := JobSubject(m)
		if err != nil {
			return nil, err
		}
		st.Subject = append(st.Subject, js)
	}
	if err := st.Validate(); err != nil {
		return nil, fmt.Errorf("statement: %w", err)
	}
	return st, nil
}

// Sign signs m's statement with signer and returns manifest.dsse.json's
// content. m must be valid (Manifest.Validate) and list at least one file.
func Sign(ctx context.Context, m *Manifest, signer dsse.Signer) ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("sign manifest: %w", err)
	}
	st, err := NewStatement(m)
	if err != nil {
		return nil, err
	}
	payload, err := protojson.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("encode statement: %w", err)
	}
	es, err := dsse.NewEnvelopeSigner(signer)
	if err != nil {
		return nil, fmt.Errorf("sign manifest: %w", err)
	}
	env, err := es.SignPayload(ctx, PayloadType, payload)
	if err != nil {
		return nil, fmt.Errorf("sign manifest: %w", err)
	}
	b, err := json.MarshalIndent(env, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode envelope: %w", err)
	}
	return append(b, '\n'), nil
}

// JobSubject is the statement's subject for the job m binds: named
// "job:<id>/<attempt>", its digest the spec's sha256, annotated with the
// pool, runner, rules version and profile, workload digest and whether the
// run was simulated — what a policy reading only subjects needs to know
// which job, and what kind of result, the attestation is about. The
// predicate holds the same fields; VerifyIntegrity checks the two agree.
func JobSubject(m *Manifest) (*intoto.ResourceDescriptor, error) {
	hexDigest, ok := strings.CutPrefix(m.SpecDigest, DigestSHA256+":")
	if !ok || !validSHA256(hexDigest) {
		return nil, fmt.Errorf("job subject: spec_digest %q: want sha256:<64 hex>", m.SpecDigest)
	}
	ann, err := structpb.NewStruct(map[string]any{
		"pool": m.Pool, "runner": m.Runner.ID, "rules_version": m.Rules.Version, "profile": m.Rules.Profile,
		"workload_digest": m.Workload.Digest, "simulated": m.Simulated,
	})
	if err != nil {
		return nil, fmt.Errorf("job subject: %w", err)
	}
	return &intoto.ResourceDescriptor{
		Name:        fmt.Sprintf("%s%s/%d", JobSubjectPrefix, m.Job, m.Attempt),
		Digest:      map[string]string{DigestSHA256: hexDigest},
		Annotations: ann,
	}, nil
}

// DecodeEnvelope reads a DSSE envelope strictly: one JSON object with a
// payload type, a base64 payload and at least one signature.
func DecodeEnvelope(data []byte) (*dsse.Envelope, error) {
	var env dsse.Envelope
	if err := decodeStrict(EnvelopeFile, data, &env); err != nil {
		return nil, err
	}
	if env.PayloadType == "" {
		return nil, fmt.Errorf("%s: payloadType: empty", EnvelopeFile)
	}
	if len(env.Signatures) == 0 {
		return nil, fmt.Errorf("%s: signatures: %w", EnvelopeFile, dsse.ErrNoSignature)
	}
	if _, err := env.DecodeB64Payload(); err != nil {
		return nil, fmt.Errorf("%s: payload: %w", EnvelopeFile, err)
	}
	return &env, nil
}

// DecodeStatement reads an in-toto v1 statement of PredicateType.
func DecodeStatement(payload []byte) (*intoto.Statement, error) {
	var st intoto.Statement
	if err := protojson.Unmarshal(payload, &st); err != nil {
		return nil, fmt.Errorf("statement: %w", err)
	}
	if err := st.Validate(); err != nil {
		return nil, fmt.Errorf("statement: %w", err)
	}
	if st.GetType() != intoto.StatementTypeUri {
		return nil, fmt.Errorf("statement: _type %q: %w", st.GetType(), intoto.ErrInvalidStatementType)
	}
	return &st, nil
}

// errPredicateType marks a statement of another predicate type.
var errPredicateType = errors.New("predicate type")

// ManifestOf decodes the manifest that is st's predicate.
func ManifestOf(st *intoto.Statement) (*Manifest, error) {
	if st.GetPredicateType() != PredicateType {
		return nil, fmt.Errorf("%w %q, want %q", errPredicateType, st.GetPredicateType(), PredicateType)
	}
	b, err := protojson.Marshal(st.GetPredicate())
	if err != nil {
		return nil, fmt.Errorf("predicate: %w", err)
	}
	return DecodeManifest("statement predicate", b)
}

// predicateOf converts m to the statement's predicate, through its JSON.
func predicateOf(m *Manifest) (*structpb.Struct, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	return structOf(b)
}

// structOf parses a JSON object into a protobuf Struct (numbers become
// doubles, as the statement carries them).
func structOf(data []byte) (*structpb.Struct, error) {
	var s structpb.Struct
	if err := protojson.Unmarshal(bytes.TrimSpace(data), &s); err != nil {
		return nil, err
	}
	return &s, nil
}
