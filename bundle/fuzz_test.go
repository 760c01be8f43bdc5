package bundle

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
)

// goodBundleFiles is a sealed test bundle as name → content.
func goodBundleFiles(t testing.TB) map[string][]byte {
	dir, _ := sealedBundle(t, testKey(1))
	out := map[string][]byte{}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	return out
}

func FuzzOpenManifest(f *testing.F) {
	files := goodBundleFiles(f)
	f.Add(files[ManifestFile])
	f.Add([]byte(`{"schema_version":1,"job":"j","attempt":1,"runner":{"key_id":"k"},"files":[]}`))
	f.Add([]byte(`{"schema_version":1,"files":[{"name":"../x","sha256":"00","size":-1}]}`))
	f.Add([]byte(`{"inventory":` + string(bytes.Repeat([]byte("["), 10000)) + `}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := DecodeManifest(ManifestFile, data)
		if err != nil {
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("decoded manifest does not validate: %v", err)
		}
		// Whatever decodes can be turned into a statement or is refused
		// cleanly.
		if len(m.Files) > 0 {
			if _, err := NewStatement(m); err != nil {
				t.Logf("statement: %v", err)
			}
		}
	})
}

func FuzzEnvelope(f *testing.F) {
	files := goodBundleFiles(f)
	f.Add(files[EnvelopeFile])
	f.Add([]byte(`{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[{"keyid":"","sig":"AA=="}]}`))
	f.Add([]byte(`{"payloadType":"x","payload":"!!","signatures":[]}`))
	f.Add([]byte(`{"payloadType":"application/vnd.in-toto+json","payload":"eyJfdHlwZSI6Imh0dHBzOi8vaW4tdG90by5pby9TdGF0ZW1lbnQvdjEifQ==","signatures":[{"sig":""}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		env, err := DecodeEnvelope(data)
		if err != nil {
			return
		}
		payload, err := env.DecodeB64Payload()
		if err != nil {
			t.Fatalf("DecodeEnvelope accepted an undecodable payload: %v", err)
		}
		st, err := DecodeStatement(payload)
		if err != nil {
			return
		}
		if m, err := ManifestOf(st); err == nil {
			if err := m.Validate(); err != nil {
				t.Fatalf("manifest from statement does not validate: %v", err)
			}
		}
	})
}

// FuzzVerifyEnvelope runs the whole integrity check on a good bundle whose
// envelope is replaced: only the original envelope may pass.
func FuzzVerifyEnvelope(f *testing.F) {
	files := goodBundleFiles(f)
	orig := files[EnvelopeFile]
	f.Add(orig)
	f.Add(bytes.Replace(orig, []byte(`"sig"`), []byte(`"keyid2"`), 1))
	f.Add([]byte(`{}`))
	trusted := Trusted(pub(testKey(1)))
	f.Fuzz(func(t *testing.T, env []byte) {
		fsys := fstest.MapFS{}
		for name, b := range files {
			fsys[name] = &fstest.MapFile{Data: b}
		}
		fsys[EnvelopeFile] = &fstest.MapFile{Data: env}
		b, err := Open(t.Context(), FSSource(fsys), Limits{})
		if err != nil {
			t.Fatal(err)
		}
		_, ps := b.VerifyIntegrity(t.Context(), trusted)
		if len(ps) == 0 {
			// Accepted: it must carry the good statement signed by the key.
			got, _ := DecodeEnvelope(env)
			want, _ := DecodeEnvelope(orig)
			if got.Payload != want.Payload && !samePayload(got, want) {
				t.Fatalf("accepted an envelope with another payload")
			}
		}
	})
}

func samePayload(a, b interface{ DecodeB64Payload() ([]byte, error) }) bool {
	pa, _ := a.DecodeB64Payload()
	pb, _ := b.DecodeB64Payload()
	return bytes.Equal(pa, pb)
}

func FuzzSummary(f *testing.F) {
	f.Add([]byte(`{"schema_version":1,"simulated":true,"tiers":{"t20":{"max_agents":3,"confirmed":true}},"probes":[{"index":0,"agents":3,"window_start_ns":0,"window_end_ns":5,"tiers":{"t20":{"passed":true}}}]}`))
	f.Add([]byte(`{"schema_version":1,"probes":[{"window_start_ns":5,"window_end_ns":1}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := DecodeSummary(data)
		if err != nil {
			return
		}
		if s.SchemaVersion != SummarySchemaVersion {
			t.Fatalf("accepted schema version %d", s.SchemaVersion)
		}
	})
}
