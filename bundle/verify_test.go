package bundle

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"testing/fstest"

	intoto "github.com/in-toto/attestation/go/v1"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"google.golang.org/protobuf/encoding/protojson"
)

func TestSealVerify(t *testing.T) {
	key := testKey(1)
	dir, sealed := sealedBundle(t, key)
	m, ps := verifyDir(t, dir, Trusted(pub(key)))
	if len(ps) != 0 {
		t.Fatalf("problems: %v", ps)
	}
	if m.Runner.KeyID != KeyID(pub(key)) {
		t.Errorf("runner key id = %s, want %s", m.Runner.KeyID, KeyID(pub(key)))
	}
	if m.Job != sealed.Job || m.Attempt != sealed.Attempt || !m.CreatedAt.Equal(sealed.CreatedAt) {
		t.Errorf("manifest = %+v, want %+v", m, sealed)
	}
	var gotInv, wantInv any
	json.Unmarshal(m.Inventory, &gotInv)
	json.Unmarshal(sealed.Inventory, &wantInv)
	if !reflect.DeepEqual(gotInv, wantInv) {
		t.Errorf("inventory = %s, want %s", m.Inventory, sealed.Inventory)
	}
	var names []string
	for _, f := range m.Files {
		names = append(names, f.Name)
		if f.Size != int64(len(testFiles[f.Name])) {
			t.Errorf("%s size = %d, want %d", f.Name, f.Size, len(testFiles[f.Name]))
		}
	}
	if !slices.IsSorted(names) || len(names) != len(testFiles) {
		t.Errorf("files = %v, want the %d test files sorted", names, len(testFiles))
	}
	// The statement names the job: subject job:<id>/<attempt> with the
	// spec's sha256 and the binding fields.
	payload, _ := readEnvelope(t, dir).DecodeB64Payload()
	st, err := DecodeStatement(payload)
	if err != nil {
		t.Fatal(err)
	}
	js := st.GetSubject()[len(st.GetSubject())-1]
	ann := js.GetAnnotations().AsMap()
	if js.GetName() != "job:"+sealed.Job+"/2" || "sha256:"+js.GetDigest()["sha256"] != sealed.SpecDigest ||
		ann["pool"] != "sim" || ann["profile"] != "test" || ann["simulated"] != true || ann["runner"] != "gpu-node-7" {
		t.Errorf("job subject = %v, want the job, its spec digest and its terms", js)
	}
}

func compact(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// signStatement signs a hand-made statement, for tampering.
func signStatement(t *testing.T, st *intoto.Statement, key ed25519.PrivateKey) []byte {
	t.Helper()
	payload, err := protojson.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	es, err := dsse.NewEnvelopeSigner(NewSigner(key))
	if err != nil {
		t.Fatal(err)
	}
	env, err := es.SignPayload(t.Context(), PayloadType, payload)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(env)
	return b
}

func TestVerifyTampered(t *testing.T) {
	key, other := testKey(1), testKey(2)
	good, sealed := sealedBundle(t, key)
	trusted := Trusted(pub(key))

	write := func(t *testing.T, dir, name string, data []byte) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	resign := func(t *testing.T, dir string, m *Manifest, k ed25519.PrivateKey) {
		t.Helper()
		env, err := Sign(t.Context(), m, NewSigner(k))
		if err != nil {
			t.Fatal(err)
		}
		mb, _ := marshalManifest(m)
		write(t, dir, ManifestFile, mb)
		write(t, dir, EnvelopeFile, env)
	}
	clone := func() *Manifest {
		m := *sealed
		m.Files = slices.Clone(sealed.Files)
		return &m
	}

	tests := []struct {
		name   string
		tamper func(t *testing.T, dir string)
		want   Reason // "" = intact
		more   bool   // other reasons may come with it
	}{
		{"untouched", func(*testing.T, string) {}, "", false},
		{"verdict beside it", func(t *testing.T, dir string) { write(t, dir, VerdictFile, []byte("{}")) }, "", false},
		{"manifest reformatted", func(t *testing.T, dir string) {
			b, _ := os.ReadFile(filepath.Join(dir, ManifestFile))
			write(t, dir, ManifestFile, compact(t, b))
		}, "", false},
		{"file changed without re-signing", func(t *testing.T, dir string) {
			b := []byte(testFiles[SummaryFile])
			b[len(b)-3] = '1' // same size, other content
			write(t, dir, SummaryFile, b)
		}, ReasonDigestMismatch, false},
		{"file grown", func(t *testing.T, dir string) {
			write(t, dir, RequestsFile, []byte(testFiles[RequestsFile]+"x"))
		}, ReasonSizeMismatch, false},
		{"file missing", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, PowerFile)) }, ReasonFileMissing, false},
		{"unlisted file", func(t *testing.T, dir string) { write(t, dir, "extra.json", []byte("{}")) }, ReasonUnlistedFile, false},
		{"unlisted nested file", func(t *testing.T, dir string) {
			os.Mkdir(filepath.Join(dir, "sub"), 0o755)
			write(t, dir, "sub/x", []byte("x"))
		}, ReasonUnlistedFile, false},
		{"manifest edited", func(t *testing.T, dir string) {
			m := clone()
			m.Attempt = 1
			mb, _ := marshalManifest(m)
			write(t, dir, ManifestFile, mb)
		}, ReasonManifestMismatch, false},
		{"manifest not json", func(t *testing.T, dir string) { write(t, dir, ManifestFile, []byte("{")) }, ReasonManifestMismatch, false},
		{"manifest missing", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, ManifestFile)) }, ReasonManifestMissing, false},
		{"re-signed with an unenrolled key", func(t *testing.T, dir string) {
			m := clone()
			m.Runner.KeyID = KeyID(pub(other))
			resign(t, dir, m, other)
		}, ReasonUntrustedKey, false},
		{"signature corrupted", func(t *testing.T, dir string) {
			env := readEnvelope(t, dir)
			sig, _ := base64.StdEncoding.DecodeString(env.Signatures[0].Sig)
			sig[0] ^= 1
			env.Signatures[0].Sig = base64.StdEncoding.EncodeToString(sig)
			b, _ := json.Marshal(env)
			write(t, dir, EnvelopeFile, b)
		}, ReasonBadSignature, false},
		{"payload swapped, signature kept", func(t *testing.T, dir string) {
			env := readEnvelope(t, dir)
			m := clone()
			m.Simulated = false
			st, _ := NewStatement(m)
			p, _ := protojson.Marshal(st)
			env.Payload = base64.StdEncoding.EncodeToString(p)
			b, _ := json.Marshal(env)
			write(t, dir, EnvelopeFile, b)
		}, ReasonBadSignature, true},
		{"statement subject mismatch", func(t *testing.T, dir string) {
			st, _ := NewStatement(clone())
			st.Subject[0].Digest[DigestSHA256] = sha256Hex([]byte("other"))
			write(t, dir, EnvelopeFile, signStatement(t, st, key))
		}, ReasonSubjectMismatch, false},
		{"statement subject extra", func(t *testing.T, dir string) {
			st, _ := NewStatement(clone())
			st.Subject = append(st.Subject, &intoto.ResourceDescriptor{Name: "more", Digest: map[string]string{DigestSHA256: sha256Hex(nil)}})
			write(t, dir, EnvelopeFile, signStatement(t, st, key))
		}, ReasonSubjectMismatch, false},
		{"other predicate type", func(t *testing.T, dir string) {
			st, _ := NewStatement(clone())
			st.PredicateType = "https://slsa.dev/provenance/v1"
			write(t, dir, EnvelopeFile, signStatement(t, st, key))
		}, ReasonPredicateType, false},
		{"payload type", func(t *testing.T, dir string) {
			env := readEnvelope(t, dir)
			env.PayloadType = "application/json"
			b, _ := json.Marshal(env)
			write(t, dir, EnvelopeFile, b)
		}, ReasonPayloadType, false},
		{"manifest names another key", func(t *testing.T, dir string) {
			m := clone()
			m.Runner.KeyID = KeyID(pub(other))
			resign(t, dir, m, key)
		}, ReasonKeyMismatch, false},
		{"future schema", func(t *testing.T, dir string) {
			m := clone()
			m.SchemaVersion = ManifestSchemaVersion + 1
			st, _ := NewStatement(m)
			write(t, dir, EnvelopeFile, signStatement(t, st, key))
		}, ReasonSchemaVersion, false},
		{"job subject dropped", func(t *testing.T, dir string) {
			st, _ := NewStatement(clone())
			st.Subject = st.Subject[:len(st.Subject)-1]
			write(t, dir, EnvelopeFile, signStatement(t, st, key))
		}, ReasonSubjectMismatch, false},
		{"job subject of another job", func(t *testing.T, dir string) {
			st, _ := NewStatement(clone())
			other := clone()
			other.Job = "ffffffffffffffffffffffffffffffff"
			js, _ := JobSubject(other)
			st.Subject[len(st.Subject)-1] = js
			write(t, dir, EnvelopeFile, signStatement(t, st, key))
		}, ReasonSubjectMismatch, false},
		{"job subject relabelled not simulated", func(t *testing.T, dir string) {
			st, _ := NewStatement(clone())
			other := clone()
			other.Simulated = false
			js, _ := JobSubject(other)
			st.Subject[len(st.Subject)-1] = js
			write(t, dir, EnvelopeFile, signStatement(t, st, key))
		}, ReasonSubjectMismatch, false},
		{"incomplete, before rules and workload were chosen", func(t *testing.T, dir string) {
			m := clone()
			m.Incomplete, m.IncompleteReason, m.Rules, m.Workload = true, "failed: preflight", Rules{}, Workload{}
			resign(t, dir, m, key)
		}, "", false},
		{"version 1 manifest, no pool", func(t *testing.T, dir string) {
			m := clone()
			m.SchemaVersion, m.Pool = 1, ""
			resign(t, dir, m, key)
		}, "", false},
		{"version 2 manifest without its pool", func(t *testing.T, dir string) {
			m := clone()
			m.Pool = ""
			st, _ := NewStatement(m)
			write(t, dir, EnvelopeFile, signStatement(t, st, key))
		}, ReasonManifestMalformed, false},
		{"predicate not a manifest", func(t *testing.T, dir string) {
			st, _ := NewStatement(clone())
			st.Predicate, _ = structOf([]byte(`{"job": 7}`))
			write(t, dir, EnvelopeFile, signStatement(t, st, key))
		}, ReasonManifestMalformed, false},
		{"not a statement", func(t *testing.T, dir string) {
			es, _ := dsse.NewEnvelopeSigner(NewSigner(key))
			env, _ := es.SignPayload(t.Context(), PayloadType, []byte(`{"hello":1}`))
			b, _ := json.Marshal(env)
			write(t, dir, EnvelopeFile, b)
		}, ReasonStatementMalformed, false},
		{"envelope missing", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, EnvelopeFile)) }, ReasonEnvelopeMissing, false},
		{"envelope garbage", func(t *testing.T, dir string) { write(t, dir, EnvelopeFile, []byte("not json")) }, ReasonEnvelopeMalformed, false},
		{"envelope unsigned", func(t *testing.T, dir string) {
			env := readEnvelope(t, dir)
			env.Signatures = nil
			b, _ := json.Marshal(env)
			write(t, dir, EnvelopeFile, b)
		}, ReasonEnvelopeMalformed, false},
		{"complete bundle lacks a required file", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, AccuracyFile))
			m := clone()
			m.Files = slices.DeleteFunc(m.Files, func(f File) bool { return f.Name == AccuracyFile })
			resign(t, dir, m, key)
		}, ReasonRequiredMissing, false},
		{"incomplete bundle may lack it", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, AccuracyFile))
			m := clone()
			m.Incomplete, m.IncompleteReason = true, "canceled"
			m.Files = slices.DeleteFunc(m.Files, func(f File) bool { return f.Name == AccuracyFile })
			resign(t, dir, m, key)
		}, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyDir(t, good)
			tc.tamper(t, dir)
			_, ps := verifyDir(t, dir, trusted)
			if tc.want == "" {
				if len(ps) != 0 {
					t.Fatalf("problems = %v, want none", ps)
				}
				return
			}
			if !HasReason(ps, tc.want) {
				t.Fatalf("reasons = %v (%v), want %s", Reasons(ps), ps, tc.want)
			}
			for _, p := range ps {
				if p.Reason != tc.want && !tc.more {
					t.Errorf("extra problem %v besides %s", p, tc.want)
				}
			}
		})
	}
}

func TestVerifyNoTrustedKeys(t *testing.T) {
	dir, _ := sealedBundle(t, testKey(1))
	_, ps := verifyDir(t, dir, nil)
	if got := Reasons(ps); !slices.Equal(got, []Reason{ReasonUntrustedKey}) {
		t.Fatalf("reasons = %v, want [untrusted_key]", got)
	}
}

func TestVerifyLimits(t *testing.T) {
	key := testKey(1)
	dir, _ := sealedBundle(t, key)
	b, err := Open(t.Context(), DirSource(dir), Limits{File: 16})
	if err != nil {
		t.Fatal(err)
	}
	_, ps := b.VerifyIntegrity(t.Context(), Trusted(pub(key)))
	if !HasReason(ps, ReasonTooLarge) {
		t.Fatalf("reasons = %v, want too_large", Reasons(ps))
	}
	b, _ = Open(t.Context(), DirSource(dir), Limits{Envelope: 100})
	if _, ps := b.VerifyIntegrity(t.Context(), Trusted(pub(key))); !slices.Equal(Reasons(ps), []Reason{ReasonTooLarge}) {
		t.Fatalf("reasons = %v, want [too_large]", Reasons(ps))
	}
}

func TestOpenFileChecksContent(t *testing.T) {
	key := testKey(1)
	dir, _ := sealedBundle(t, key)
	b, err := OpenDir(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.OpenFile(t.Context(), SummaryFile); !errors.Is(err, ErrNotVerified) {
		t.Fatalf("open before verify: %v, want ErrNotVerified", err)
	}
	if _, ps := b.VerifyIntegrity(t.Context(), Trusted(pub(key))); len(ps) != 0 {
		t.Fatal(ps)
	}
	rc, err := b.OpenFile(t.Context(), ProbesFile)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || string(got) != testFiles[ProbesFile] {
		t.Fatalf("read = %q, %v; want %q", got, err, testFiles[ProbesFile])
	}
	var s Summary
	if err := b.ReadJSON(t.Context(), SummaryFile, &s, 1<<20); err != nil || !s.Simulated {
		t.Fatalf("ReadJSON = %+v, %v", s, err)
	}
	if _, err := b.OpenFile(t.Context(), "nope.json"); !errors.Is(err, ErrNotListed) {
		t.Fatalf("open unlisted: %v, want ErrNotListed", err)
	}

	// The object changes after verification: the reader notices.
	data := []byte(testFiles[EngineLogFile])
	data[0] ^= 0x20
	if err := os.WriteFile(filepath.Join(dir, EngineLogFile), data, 0o644); err != nil {
		t.Fatal(err)
	}
	rc, err = b.OpenFile(t.Context(), EngineLogFile)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := io.ReadAll(rc); !errors.Is(err, ErrDigestMismatch) {
		t.Fatalf("read changed file: %v, want ErrDigestMismatch", err)
	}
}

func TestFSSource(t *testing.T) {
	key := testKey(3)
	dir, _ := sealedBundle(t, key)
	fsys := fstest.MapFS{}
	for _, name := range mustList(t, dir) {
		b, _ := os.ReadFile(filepath.Join(dir, name))
		fsys[name] = &fstest.MapFile{Data: b}
	}
	b, err := Open(context.Background(), FSSource(fsys), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ps := b.VerifyIntegrity(t.Context(), Trusted(pub(key))); len(ps) != 0 {
		t.Fatalf("problems: %v", ps)
	}
	delete(fsys, PowerFile)
	b, _ = Open(t.Context(), FSSource(fsys), Limits{})
	if _, ps := b.VerifyIntegrity(t.Context(), Trusted(pub(key))); !slices.Equal(Reasons(ps), []Reason{ReasonFileMissing}) {
		t.Fatalf("reasons = %v, want [file_missing]", Reasons(ps))
	}
}

func mustList(t *testing.T, dir string) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func readEnvelope(t *testing.T, dir string) *dsse.Envelope {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, EnvelopeFile))
	if err != nil {
		t.Fatal(err)
	}
	env, err := DecodeEnvelope(b)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestVerifyTrustedByName: the trusted map may be keyed by enrolled name.
func TestVerifyTrustedByName(t *testing.T) {
	key := testKey(1)
	dir, _ := sealedBundle(t, key)
	_, ps := verifyDir(t, dir, map[string]ed25519.PublicKey{"gpu-node-7": pub(key), "other": pub(testKey(2))})
	if len(ps) != 0 {
		t.Fatalf("problems: %v", ps)
	}
}
