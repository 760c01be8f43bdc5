package bundle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
)

// Writer builds a bundle in a local spool directory. Every file is written
// to a temporary name and renamed into place when complete, its sha256
// computed while it is written; Seal lists the directory, writes
// manifest.json and signs it into manifest.dsse.json. A Writer opened on a
// directory left by an earlier process (a runner restart) picks up the
// complete files already there and hashes them at Seal.
type Writer struct {
	dir string

	mu     sync.Mutex
	files  map[string]File // complete files written through this Writer
	sealed bool
}

// tmpMarker is in the name of every temporary file; Seal removes leftovers.
const tmpMarker = ".tmp-"

// NewWriter opens (creating, 0700) the spool directory dir.
func NewWriter(dir string) (*Writer, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("bundle dir: %w", err)
	}
	return &Writer{dir: dir, files: map[string]File{}, sealed: IsSealed(dir)}, nil
}

// IsSealed reports whether dir holds a sealed bundle (its envelope, which
// Seal writes last).
func IsSealed(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, EnvelopeFile))
	return err == nil
}

// Dir is the spool directory.
func (w *Writer) Dir() string { return w.dir }

// Create opens name for writing. The file appears under its name only when
// Close succeeds; until then, and after a failed write, it is a temporary
// file that Seal removes.
func (w *Writer) Create(name string) (io.WriteCloser, error) {
	if !ValidName(name) {
		return nil, fmt.Errorf("create %q: %w", name, ErrInvalidName)
	}
	w.mu.Lock()
	sealed := w.sealed
	w.mu.Unlock()
	if sealed {
		return nil, fmt.Errorf("create %s: %w", name, ErrSealed)
	}
	// A member's power file (power/<member>.jsonl.zst) is written in its
	// folder, so that the rename stays within one directory.
	dir, base := filepath.Split(filepath.Join(w.dir, filepath.FromSlash(name)))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", name, err)
	}
	f, err := os.CreateTemp(dir, "."+base+tmpMarker+"*")
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", name, err)
	}
	return &fileWriter{w: w, name: name, f: f, h: sha256.New()}, nil
}

// CreateZstd opens name for writing; what is written is zstd-compressed.
func (w *Writer) CreateZstd(name string) (io.WriteCloser, error) {
	fw, err := w.Create(name)
	if err != nil {
		return nil, err
	}
	zw, err := zstd.NewWriter(fw, zstd.WithEncoderConcurrency(1))
	if err != nil {
		fw.(*fileWriter).abort()
		return nil, fmt.Errorf("create %s: %w", name, err)
	}
	return &zstdWriter{zw: zw, fw: fw.(*fileWriter)}, nil
}

// AddFile copies the file at path into the bundle as name.
func (w *Writer) AddFile(name, path string) error {
	return w.add(name, path, w.Create)
}

// AddFileZstd copies the file at path into the bundle as name, compressed
// (engine.log → engine.log.zst).
func (w *Writer) AddFileZstd(name, path string) error {
	return w.add(name, path, w.CreateZstd)
}

func (w *Writer) add(name, path string, create func(string) (io.WriteCloser, error)) error {
	src, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("add %s: %w", name, err)
	}
	defer src.Close()
	dst, err := create(name)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		abortWriter(dst)
		return fmt.Errorf("add %s: %w", name, err)
	}
	return dst.Close()
}

// WriteJSON writes v as indented JSON to name.
func (w *Writer) WriteJSON(name string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", name, err)
	}
	dst, err := w.Create(name)
	if err != nil {
		return err
	}
	if _, err := dst.Write(append(b, '\n')); err != nil {
		abortWriter(dst)
		return fmt.Errorf("write %s: %w", name, err)
	}
	return dst.Close()
}

// Seal completes m from the directory and signs it: it removes temporary
// leftovers, lists every complete file (sorted by name, with sha256 and
// size) into m.Files, sets m.SchemaVersion, m.Runner.KeyID from signer (a
// different non-empty key id is ErrKeyMismatch) and m.CreatedAt if zero,
// then writes manifest.json and, last, manifest.dsse.json. m is modified.
func (w *Writer) Seal(ctx context.Context, m *Manifest, signer dsse.Signer) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.sealed {
		return ErrSealed
	}
	keyID, err := signer.KeyID()
	if err != nil {
		return fmt.Errorf("seal: signer key id: %w", err)
	}
	switch m.Runner.KeyID {
	case "":
		m.Runner.KeyID = keyID
	case keyID:
	default:
		return fmt.Errorf("seal: manifest key %s, signer %s: %w", m.Runner.KeyID, keyID, ErrKeyMismatch)
	}
	files, err := w.scan()
	if err != nil {
		return fmt.Errorf("seal: %w", err)
	}
	if len(files) == 0 {
		return fmt.Errorf("seal: %s holds no file to sign", w.dir)
	}
	m.Files = files
	m.SchemaVersion = ManifestSchemaVersion
	if m.CreatedAt.IsZero() {
		m.CreatedAt = time.Now().UTC()
	}
	env, err := Sign(ctx, m, signer)
	if err != nil {
		return fmt.Errorf("seal: %w", err)
	}
	mb, err := marshalManifest(m)
	if err != nil {
		return fmt.Errorf("seal: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(w.dir, ManifestFile), mb, 0o644); err != nil {
		return fmt.Errorf("seal: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(w.dir, EnvelopeFile), env, 0o644); err != nil {
		return fmt.Errorf("seal: %w", err)
	}
	w.sealed = true
	return nil
}

// scan lists the directory's complete files, removing temporary ones. The
// one folder it enters is power/, the members' power files.
func (w *Writer) scan() ([]File, error) {
	return w.scanDir("")
}

func (w *Writer) scanDir(sub string) ([]File, error) {
	ents, err := os.ReadDir(filepath.Join(w.dir, filepath.FromSlash(sub)))
	if err != nil {
		return nil, err
	}
	var files []File
	for _, e := range ents {
		name := sub + e.Name()
		if strings.HasPrefix(e.Name(), ".") && strings.Contains(e.Name(), tmpMarker) {
			if err := os.Remove(filepath.Join(w.dir, filepath.FromSlash(name))); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, err
			}
			continue
		}
		if sub == "" && reserved(name) {
			continue
		}
		if sub == "" && name+"/" == memberPowerDir && e.IsDir() {
			nested, err := w.scanDir(memberPowerDir)
			if err != nil {
				return nil, err
			}
			files = append(files, nested...)
			continue
		}
		if !e.Type().IsRegular() {
			return nil, fmt.Errorf("%s: not a regular file", name)
		}
		if !ValidName(name) {
			return nil, fmt.Errorf("%s: %w", name, ErrInvalidName)
		}
		info, err := e.Info()
		if err != nil {
			return nil, err
		}
		if f, ok := w.files[name]; ok && f.Size == info.Size() {
			files = append(files, f)
			continue
		}
		f, err := hashFile(filepath.Join(w.dir, filepath.FromSlash(name)))
		if err != nil {
			return nil, err
		}
		f.Name = name
		files = append(files, f)
	}
	sortFiles(files)
	return files, nil
}

func hashFile(path string) (File, error) {
	f, err := os.Open(path)
	if err != nil {
		return File{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return File{}, fmt.Errorf("hash %s: %w", path, err)
	}
	return File{SHA256: hex.EncodeToString(h.Sum(nil)), Size: n}, nil
}

// fileWriter writes one file under a temporary name, hashing as it goes.
type fileWriter struct {
	w    *Writer
	name string
	f    *os.File
	h    hash.Hash
	n    int64
	err  error
	done bool
}

func (fw *fileWriter) Write(p []byte) (int, error) {
	if fw.err != nil {
		return 0, fw.err
	}
	n, err := fw.f.Write(p)
	fw.h.Write(p[:n])
	fw.n += int64(n)
	if err != nil {
		fw.err = err
	}
	return n, err
}

// Close syncs the file and renames it into place.
func (fw *fileWriter) Close() error {
	if fw.done {
		return fw.err
	}
	fw.done = true
	tmp := fw.f.Name()
	err := fw.err
	if err == nil {
		err = fw.f.Sync()
	}
	if cerr := fw.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(fw.w.dir, fw.name))
	}
	if err != nil {
		os.Remove(tmp)
		fw.err = fmt.Errorf("write %s: %w", fw.name, err)
		return fw.err
	}
	fw.w.mu.Lock()
	fw.w.files[fw.name] = File{Name: fw.name, SHA256: hex.EncodeToString(fw.h.Sum(nil)), Size: fw.n}
	fw.w.mu.Unlock()
	return nil
}

// abort discards the file.
func (fw *fileWriter) abort() {
	if fw.done {
		return
	}
	fw.done = true
	fw.err = errors.New("aborted")
	fw.f.Close()
	os.Remove(fw.f.Name())
}

// zstdWriter compresses into a fileWriter.
type zstdWriter struct {
	zw *zstd.Encoder
	fw *fileWriter
}

func (z *zstdWriter) Write(p []byte) (int, error) { return z.zw.Write(p) }

func (z *zstdWriter) Close() error {
	if err := z.zw.Close(); err != nil {
		z.fw.abort()
		return fmt.Errorf("write %s: %w", z.fw.name, err)
	}
	return z.fw.Close()
}

func abortWriter(wc io.WriteCloser) {
	switch w := wc.(type) {
	case *fileWriter:
		w.abort()
	case *zstdWriter:
		w.zw.Close()
		w.fw.abort()
	}
}
