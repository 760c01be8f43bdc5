package bundle

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"google.golang.org/protobuf/proto"

	intoto "github.com/in-toto/attestation/go/v1"
)

// maxEntries bounds the objects a bundle's location may hold.
const maxEntries = 4096

// ErrNotVerified: a file of a bundle was asked for before VerifyIntegrity
// accepted the bundle.
var ErrNotVerified = errors.New("bundle not verified")

// Bundle is a bundle being read from a Source.
type Bundle struct {
	src      Source
	lim      Limits
	entries  map[string]Entry
	names    []string // entry names, sorted
	verified *Manifest
}

// Open lists the bundle at src. Zero fields of lim take DefaultLimits.
func Open(ctx context.Context, src Source, lim Limits) (*Bundle, error) {
	ents, err := src.List(ctx)
	if err != nil {
		return nil, err
	}
	if len(ents) > maxEntries {
		return nil, fmt.Errorf("bundle holds %d objects, at most %d: %w", len(ents), maxEntries, ErrTooLarge)
	}
	b := &Bundle{src: src, lim: lim.withDefaults(), entries: make(map[string]Entry, len(ents))}
	for _, e := range ents {
		b.entries[e.Name] = e
	}
	b.names = slices.Sorted(maps.Keys(b.entries))
	return b, nil
}

// OpenDir is Open on DirSource(dir) with DefaultLimits.
func OpenDir(ctx context.Context, dir string) (*Bundle, error) {
	return Open(ctx, DirSource(dir), Limits{})
}

// Names lists the objects found at the bundle's location, sorted.
func (b *Bundle) Names() []string { return slices.Clone(b.names) }

// VerifyIntegrity checks the bundle against the trusted keys (the map's
// keys are not used: index by KeyID with Trusted, or by enrolled name) and
// returns its manifest — the signed predicate — and every
// problem found. The bundle is intact only when no problem is returned; the
// manifest is returned whenever it decodes, for reporting. Checks, in order:
// the envelope decodes and is in-toto; a trusted key signed it; the
// statement is in-toto v1 with PredicateType and a valid Manifest; the
// manifest's runner key is the signing key — a bundle failing any of these
// is rejected here, before any listed file is read; manifest.json equals the
// predicate; the subjects equal the manifest's files; a complete bundle
// lists every RequiredFiles entry; every listed file is present with its
// size and sha256; no other object is present but manifest.json,
// manifest.dsse.json and verdict.json.
func (b *Bundle) VerifyIntegrity(ctx context.Context, trusted map[string]ed25519.PublicKey) (*Manifest, []Problem) {
	b.verified = nil
	var ps []Problem
	add := func(p Problem) { ps = append(ps, p) }

	envData, p := b.readSmall(ctx, EnvelopeFile, b.lim.Envelope, ReasonEnvelopeMissing)
	if p != nil {
		return nil, append(ps, *p)
	}
	env, err := DecodeEnvelope(envData)
	if err != nil {
		return nil, append(ps, problemf(ReasonEnvelopeMalformed, EnvelopeFile, "%v", err))
	}
	if env.PayloadType != PayloadType {
		return nil, append(ps, problemf(ReasonPayloadType, EnvelopeFile, "payload type %q, want %q", env.PayloadType, PayloadType))
	}
	keyID, sp := verifySignature(ctx, env, trusted)
	if sp != nil {
		add(*sp)
	}
	payload, _ := env.DecodeB64Payload() // DecodeEnvelope checked it
	st, err := DecodeStatement(payload)
	if err != nil {
		return nil, append(ps, problemf(ReasonStatementMalformed, EnvelopeFile, "%v", err))
	}
	m, err := ManifestOf(st)
	switch {
	case errors.Is(err, errPredicateType):
		return nil, append(ps, problemf(ReasonPredicateType, EnvelopeFile, "%v", err))
	case errors.Is(err, ErrSchemaVersion):
		return nil, append(ps, problemf(ReasonSchemaVersion, EnvelopeFile, "%v", err))
	case err != nil:
		return nil, append(ps, problemf(ReasonManifestMalformed, EnvelopeFile, "%v", err))
	}
	if sp != nil {
		// Nothing the manifest lists is read, let alone hashed, for a
		// bundle no trusted key signed: its sizes are the attacker's.
		return m, ps
	}
	if m.Runner.KeyID != keyID {
		add(problemf(ReasonKeyMismatch, EnvelopeFile, "manifest names key %s, signed by %s", m.Runner.KeyID, keyID))
	}
	if len(m.Files) > b.lim.Files {
		add(problemf(ReasonTooLarge, ManifestFile, "%d files listed, at most %d", len(m.Files), b.lim.Files))
		return m, ps
	}
	ps = append(ps, b.checkManifestFile(ctx, st)...)
	ps = append(ps, checkSubjects(st, m)...)
	if !m.Incomplete {
		_, group := m.File(MembersFile)
		for _, name := range RequiredFiles {
			if name == PowerFile && group {
				continue // one power file per member instead (members.go)
			}
			if _, ok := m.File(name); !ok {
				add(problemf(ReasonRequiredMissing, name, "a complete bundle lists %s", name))
			}
		}
	}
	listed := map[string]bool{}
	for _, f := range m.Files {
		listed[f.Name] = true
		if p := b.checkFile(ctx, f); p != nil {
			add(*p)
		}
	}
	for _, name := range b.names {
		if !listed[name] && !reserved(name) {
			add(problemf(ReasonUnlistedFile, name, "present but not in the manifest"))
		}
	}
	if len(ps) == 0 {
		b.verified = m
	}
	return m, ps
}

// verifySignature checks the envelope's signatures with the library's
// envelope verifier over every trusted key and returns the accepting key's
// id.
func verifySignature(ctx context.Context, env *dsse.Envelope, trusted map[string]ed25519.PublicKey) (string, *Problem) {
	byID := map[string]ed25519.PublicKey{}
	for _, k := range trusted {
		if len(k) == ed25519.PublicKeySize {
			byID[KeyID(k)] = k
		}
	}
	vs := make([]dsse.Verifier, 0, len(byID))
	for _, id := range slices.Sorted(maps.Keys(byID)) {
		vs = append(vs, NewVerifier(byID[id]))
	}
	var sigIDs []string
	named := false
	for _, s := range env.Signatures {
		sigIDs = append(sigIDs, s.KeyID)
		if _, ok := byID[s.KeyID]; ok {
			named = true
		}
	}
	if len(vs) > 0 {
		ev, err := dsse.NewEnvelopeVerifier(vs...)
		if err == nil {
			accepted, _, err := ev.VerifyAndDecode(ctx, env)
			if err == nil && len(accepted) > 0 {
				return accepted[0].KeyID, nil
			}
		}
	}
	if named {
		p := problemf(ReasonBadSignature, EnvelopeFile, "signature by trusted key %v does not verify", sigIDs)
		return "", &p
	}
	p := problemf(ReasonUntrustedKey, EnvelopeFile, "signed by %v, none of them a trusted key", sigIDs)
	return "", &p
}

// checkManifestFile compares manifest.json with the signed predicate, as
// JSON values (formatting aside).
func (b *Bundle) checkManifestFile(ctx context.Context, st *intoto.Statement) []Problem {
	data, p := b.readSmall(ctx, ManifestFile, b.lim.Manifest, ReasonManifestMissing)
	if p != nil {
		return []Problem{*p}
	}
	if _, err := DecodeManifest(ManifestFile, data); err != nil {
		return []Problem{problemf(ReasonManifestMismatch, ManifestFile, "not the signed manifest: %v", err)}
	}
	s, err := structOf(data)
	if err != nil {
		return []Problem{problemf(ReasonManifestMismatch, ManifestFile, "not the signed manifest: %v", err)}
	}
	if !proto.Equal(s, st.GetPredicate()) {
		return []Problem{problemf(ReasonManifestMismatch, ManifestFile, "differs from the signed statement's predicate")}
	}
	return nil
}

// checkSubjects compares the statement's subjects with the manifest's
// files, and its job subject with the one the manifest makes (version 2;
// a version 1 statement has none).
func checkSubjects(st *intoto.Statement, m *Manifest) []Problem {
	subj := map[string]string{}
	var ps []Problem
	var jobs []*intoto.ResourceDescriptor
	for _, s := range st.GetSubject() {
		if strings.HasPrefix(s.GetName(), JobSubjectPrefix) {
			jobs = append(jobs, s)
			continue
		}
		if _, dup := subj[s.GetName()]; dup {
			ps = append(ps, problemf(ReasonSubjectMismatch, s.GetName(), "subject listed twice"))
		}
		subj[s.GetName()] = s.GetDigest()[DigestSHA256]
	}
	files := map[string]string{}
	for _, f := range m.Files {
		files[f.Name] = f.SHA256
	}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		d, ok := subj[name]
		switch {
		case !ok:
			ps = append(ps, problemf(ReasonSubjectMismatch, name, "listed in the manifest, not a subject of the statement"))
		case d != files[name]:
			ps = append(ps, problemf(ReasonSubjectMismatch, name, "subject sha256 %s, manifest %s", d, files[name]))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(subj)) {
		if _, ok := files[name]; !ok {
			ps = append(ps, problemf(ReasonSubjectMismatch, name, "a subject of the statement, not in the manifest"))
		}
	}
	return append(ps, checkJobSubject(jobs, m)...)
}

// checkJobSubject compares the statement's job subjects with the one m
// makes: exactly one for a version 2 manifest, none for version 1.
func checkJobSubject(jobs []*intoto.ResourceDescriptor, m *Manifest) []Problem {
	if m.SchemaVersion < ManifestSchemaVersion {
		if len(jobs) > 0 {
			return []Problem{problemf(ReasonSubjectMismatch, EnvelopeFile, "a version %d manifest with a job subject %q", m.SchemaVersion, jobs[0].GetName())}
		}
		return nil
	}
	want, err := JobSubject(m)
	if err != nil {
		return []Problem{problemf(ReasonSubjectMismatch, EnvelopeFile, "%v", err)}
	}
	if len(jobs) != 1 {
		return []Problem{problemf(ReasonSubjectMismatch, EnvelopeFile, "%d job subjects, want one (%s)", len(jobs), want.GetName())}
	}
	if !proto.Equal(jobs[0], want) {
		return []Problem{problemf(ReasonSubjectMismatch, EnvelopeFile, "job subject %q differs from the manifest's job %s", jobs[0].GetName(), want.GetName())}
	}
	return nil
}

// checkFile checks one listed file's presence, size and sha256.
func (b *Bundle) checkFile(ctx context.Context, f File) *Problem {
	e, ok := b.entries[f.Name]
	if !ok {
		p := problemf(ReasonFileMissing, f.Name, "listed in the manifest, absent")
		return &p
	}
	if !e.Regular {
		p := problemf(ReasonFileMissing, f.Name, "not a regular file")
		return &p
	}
	if f.Size > b.lim.File || e.Size > b.lim.File {
		p := problemf(ReasonTooLarge, f.Name, "%d bytes, at most %d", max(f.Size, e.Size), b.lim.File)
		return &p
	}
	if e.Size != f.Size {
		p := problemf(ReasonSizeMismatch, f.Name, "%d bytes, manifest says %d", e.Size, f.Size)
		return &p
	}
	rc, err := b.src.Open(ctx, f.Name)
	if err != nil {
		r := ReasonRead
		if isNotExist(err) {
			r = ReasonFileMissing
		}
		p := problemf(r, f.Name, "%v", err)
		return &p
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(rc, f.Size+1))
	if err != nil {
		p := problemf(ReasonRead, f.Name, "%v", err)
		return &p
	}
	if n != f.Size {
		p := problemf(ReasonSizeMismatch, f.Name, "read %d bytes, manifest says %d", n, f.Size)
		return &p
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != f.SHA256 {
		p := problemf(ReasonDigestMismatch, f.Name, "sha256 %s, manifest says %s", got, f.SHA256)
		return &p
	}
	return nil
}

// readSmall reads a whole small object, mapping absence to missing.
func (b *Bundle) readSmall(ctx context.Context, name string, limit int64, missing Reason) ([]byte, *Problem) {
	if e, ok := b.entries[name]; ok && e.Size > limit {
		p := problemf(ReasonTooLarge, name, "%d bytes, at most %d", e.Size, limit)
		return nil, &p
	}
	rc, err := b.src.Open(ctx, name)
	if err != nil {
		r := ReasonRead
		if isNotExist(err) {
			r = missing
		}
		p := problemf(r, name, "%v", err)
		return nil, &p
	}
	defer rc.Close()
	data, err := readLimited(rc, limit)
	if errors.Is(err, ErrTooLarge) {
		p := problemf(ReasonTooLarge, name, "%v", err)
		return nil, &p
	}
	if err != nil {
		p := problemf(ReasonRead, name, "%v", err)
		return nil, &p
	}
	return data, nil
}

// Manifest is the manifest VerifyIntegrity accepted, nil before.
func (b *Bundle) Manifest() *Manifest { return b.verified }

// OpenFile opens a listed file of a verified bundle. The reader stops at
// the listed size and, at its end, fails with ErrDigestMismatch if what was
// read is not what the manifest lists (the object changed after
// verification).
func (b *Bundle) OpenFile(ctx context.Context, name string) (io.ReadCloser, error) {
	if b.verified == nil {
		return nil, fmt.Errorf("open %s: %w", name, ErrNotVerified)
	}
	f, ok := b.verified.File(name)
	if !ok {
		return nil, fmt.Errorf("open %s: %w", name, ErrNotListed)
	}
	rc, err := b.src.Open(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	return &checkedReader{rc: rc, r: io.LimitReader(rc, f.Size+1), f: f, h: sha256.New()}, nil
}

// OpenZstd opens a listed zstd file of a verified bundle for bounded
// decompression. Closing the reader closes the file.
func (b *Bundle) OpenZstd(ctx context.Context, name string, lim ZstdLimits) (*ZstdFile, error) {
	rc, err := b.OpenFile(ctx, name)
	if err != nil {
		return nil, err
	}
	z, err := NewLimitedZstdReader(rc, lim)
	if err != nil {
		rc.Close()
		return nil, err
	}
	return &ZstdFile{LimitedZstdReader: z, file: rc}, nil
}

// ReadJSON decodes a listed JSON file of a verified bundle into v, strictly
// (unknown fields are errors), refusing more than limit bytes.
func (b *Bundle) ReadJSON(ctx context.Context, name string, v any, limit int64) error {
	rc, err := b.OpenFile(ctx, name)
	if err != nil {
		return err
	}
	defer rc.Close()
	data, err := readLimited(rc, limit)
	if err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	return decodeStrict(name, data, v)
}

// ZstdFile is a LimitedZstdReader over a bundle file.
type ZstdFile struct {
	*LimitedZstdReader
	file io.Closer
}

// Close releases the decoder and closes the file.
func (z *ZstdFile) Close() error {
	z.LimitedZstdReader.Close()
	return z.file.Close()
}

// checkedReader verifies a file's size and sha256 at its end.
type checkedReader struct {
	rc  io.ReadCloser
	r   io.Reader
	f   File
	h   hash.Hash
	n   int64
	err error
}

func (c *checkedReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.r.Read(p)
	c.h.Write(p[:n])
	c.n += int64(n)
	if c.n > c.f.Size {
		c.err = fmt.Errorf("%s: longer than %d bytes: %w", c.f.Name, c.f.Size, ErrDigestMismatch)
		return n, c.err
	}
	if errors.Is(err, io.EOF) {
		if c.n != c.f.Size || hex.EncodeToString(c.h.Sum(nil)) != c.f.SHA256 {
			c.err = fmt.Errorf("%s: %w", c.f.Name, ErrDigestMismatch)
			return n, c.err
		}
	}
	if err != nil {
		c.err = err
	}
	return n, err
}

func (c *checkedReader) Close() error { return c.rc.Close() }
