package bundle

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

func TestWriterFiles(t *testing.T) {
	key := testKey(1)
	dir := filepath.Join(t.TempDir(), "spool")
	w, err := NewWriter(dir)
	if err != nil {
		t.Fatal(err)
	}
	// A file abandoned mid-write never appears under its name.
	f, err := w.Create(ProbesFile)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("partial"))
	if _, err := os.Stat(filepath.Join(dir, ProbesFile)); !os.IsNotExist(err) {
		t.Fatalf("%s visible before Close: %v", ProbesFile, err)
	}
	// ... and Seal removes its temporary file.

	if err := w.WriteJSON(SummaryFile, map[string]int{"schema_version": 1}); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(t.TempDir(), "engine.log")
	logText := strings.Repeat("engine says hello\n", 1000)
	os.WriteFile(log, []byte(logText), 0o644)
	if err := w.AddFileZstd(EngineLogFile, log); err != nil {
		t.Fatal(err)
	}
	if err := w.AddFile(EnvironmentFile, log); err != nil {
		t.Fatal(err)
	}
	zw, err := w.CreateZstd(RequestsFile)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(zw, "{\"probe\":0}\n")
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Create("../escape"); !errors.Is(err, ErrInvalidName) {
		t.Fatalf("Create(../escape): %v, want ErrInvalidName", err)
	}
	if _, err := w.Create(ManifestFile); !errors.Is(err, ErrInvalidName) {
		t.Fatalf("Create(manifest.json): %v, want ErrInvalidName", err)
	}

	m := testManifest()
	m.Incomplete = true
	m.Runner.KeyID = KeyID(pub(testKey(2)))
	if err := w.Seal(t.Context(), m, NewSigner(key)); !errors.Is(err, ErrKeyMismatch) {
		t.Fatalf("Seal with another key id: %v, want ErrKeyMismatch", err)
	}
	m.Runner.KeyID = ""
	if err := w.Seal(t.Context(), m, NewSigner(key)); err != nil {
		t.Fatal(err)
	}
	if err := w.Seal(t.Context(), m, NewSigner(key)); !errors.Is(err, ErrSealed) {
		t.Fatalf("second Seal: %v, want ErrSealed", err)
	}
	if _, err := w.Create(PowerFile); !errors.Is(err, ErrSealed) {
		t.Fatalf("Create after Seal: %v, want ErrSealed", err)
	}
	var names []string
	for _, f := range m.Files {
		names = append(names, f.Name)
	}
	want := []string{EngineLogFile, EnvironmentFile, RequestsFile, SummaryFile}
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Fatalf("files = %v, want %v", names, want)
	}
	for _, e := range mustList(t, dir) {
		if strings.Contains(e, tmpMarker) {
			t.Errorf("temporary file %s left after Seal", e)
		}
	}
	if _, ps := verifyDir(t, dir, Trusted(pub(key))); len(ps) != 0 {
		t.Fatalf("problems: %v", ps)
	}
	// The compressed log decompresses to the original.
	data, _ := os.ReadFile(filepath.Join(dir, EngineLogFile))
	dec, _ := zstd.NewReader(bytes.NewReader(data))
	defer dec.Close()
	got, err := io.ReadAll(dec)
	if err != nil || string(got) != logText {
		t.Fatalf("engine log round trip: %d bytes, %v", len(got), err)
	}
}

// TestWriterResume: a runner restarted on its spool seals the files the
// previous process wrote.
func TestWriterResume(t *testing.T) {
	key := testKey(1)
	dir := filepath.Join(t.TempDir(), "spool")
	w1, _ := NewWriter(dir)
	for name, content := range testFiles {
		f, _ := w1.Create(name)
		f.Write([]byte(content))
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, ".power.jsonl.zst"+tmpMarker+"123"), []byte("half"), 0o600)

	w2, err := NewWriter(dir)
	if err != nil {
		t.Fatal(err)
	}
	if IsSealed(dir) {
		t.Fatal("unsealed spool reported sealed")
	}
	m := testManifest()
	if err := w2.Seal(t.Context(), m, NewSigner(key)); err != nil {
		t.Fatal(err)
	}
	if len(m.Files) != len(testFiles) {
		t.Fatalf("sealed %d files, want %d", len(m.Files), len(testFiles))
	}
	if _, ps := verifyDir(t, dir, Trusted(pub(key))); len(ps) != 0 {
		t.Fatalf("problems: %v", ps)
	}
	w3, _ := NewWriter(dir)
	if !IsSealed(dir) {
		t.Fatal("sealed spool not reported sealed")
	}
	if err := w3.Seal(t.Context(), testManifest(), NewSigner(key)); !errors.Is(err, ErrSealed) {
		t.Fatalf("Seal on a sealed spool: %v, want ErrSealed", err)
	}
}

func TestSealRefusesOddEntries(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(dir string)
	}{
		{"empty", func(string) {}},
		{"bad name", func(dir string) { os.WriteFile(filepath.Join(dir, "bad name"), nil, 0o644) }},
		{"directory", func(dir string) { os.Mkdir(filepath.Join(dir, "sub"), 0o755) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			w, _ := NewWriter(dir)
			tc.setup(dir)
			if err := w.Seal(t.Context(), testManifest(), NewSigner(testKey(1))); err == nil {
				t.Fatal("Seal succeeded")
			}
			if IsSealed(dir) {
				t.Fatal("envelope written")
			}
		})
	}
}
