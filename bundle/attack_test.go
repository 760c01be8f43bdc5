package bundle

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// countingSource is a bundle whose listed files are huge and counted:
// every Open of a name other than the manifest and its envelope is
// recorded.
type countingSource struct {
	dir    Source
	huge   map[string]int64 // name → size claimed in List
	mu     sync.Mutex
	opened []string
}

func (s *countingSource) List(ctx context.Context) ([]Entry, error) {
	ents, err := s.dir.List(ctx)
	for i, e := range ents {
		if n, ok := s.huge[e.Name]; ok {
			ents[i].Size = n
		}
	}
	return ents, err
}

func (s *countingSource) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	s.mu.Lock()
	s.opened = append(s.opened, name)
	s.mu.Unlock()
	if n, ok := s.huge[name]; ok {
		return io.NopCloser(io.LimitReader(zeros{}, n)), nil
	}
	return s.dir.Open(ctx, name)
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// TestVerifyBadSignatureReadsNoListedFile is the attack of a manifest with
// a bad signature listing huge files: the integrity check must stop at the
// signature, before hashing (or even opening) any listed file.
func TestVerifyBadSignatureReadsNoListedFile(t *testing.T) {
	key := testKey(1)
	dir, m := sealedBundle(t, key)
	// A manifest listing 4 GiB files, signed by the trusted key's name but
	// with a broken signature.
	huge := map[string]int64{}
	for i := range m.Files {
		m.Files[i].Size = 4 << 30
		huge[m.Files[i].Name] = 4 << 30
	}
	env, err := Sign(t.Context(), m, NewSigner(testKey(9)))
	if err != nil {
		t.Fatal(err)
	}
	// Name the trusted key in the signature: a "bad signature", not an
	// unknown key.
	env = []byte(strings.ReplaceAll(string(env), KeyID(pub(testKey(9))), KeyID(pub(key))))
	mb, _ := marshalManifest(m)
	if err := os.WriteFile(filepath.Join(dir, ManifestFile), mb, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, EnvelopeFile), env, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		want Reason
	}{
		{"bad signature by a trusted key", ReasonBadSignature},
		{"untrusted key", ReasonUntrustedKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			trusted := Trusted(pub(key))
			if tc.want == ReasonUntrustedKey {
				trusted = Trusted(pub(testKey(3)))
			}
			src := &countingSource{dir: DirSource(dir), huge: huge}
			b, err := Open(t.Context(), src, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			_, ps := b.VerifyIntegrity(t.Context(), trusted)
			if !HasReason(ps, tc.want) {
				t.Fatalf("problems %v, want %s", Reasons(ps), tc.want)
			}
			for _, name := range src.opened {
				if !reserved(name) {
					t.Errorf("opened %s (listed, %d bytes) after the signature failed; opened %v", name, huge[name], src.opened)
				}
			}
		})
	}
}
