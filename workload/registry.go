package workload

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// ObjectStore is the object storage the registry needs. blob.Store provides
// it through a small adapter (List's result type differs); Get and GetBytes
// must return an error matching ErrNotFound for an absent key.
type ObjectStore interface {
	Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error
	PutBytes(ctx context.Context, key string, b []byte, contentType string) error
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	GetBytes(ctx context.Context, key string, max int64) ([]byte, error)
	List(ctx context.Context, prefix string) ([]ObjectInfo, error)
}

// ObjectInfo is one listed object.
type ObjectInfo struct {
	Key  string
	Size int64
}

// RegistryPrefix is where workloads live in the bucket:
//
//	workloads/<name>/<sha256 hex>.jsonl.zst   the workload
//	workloads/<name>/<sha256 hex>.stats.json  its Stats
//	workloads/<name>/latest                   "sha256:<hex>\n"
const RegistryPrefix = "workloads/"

const (
	contentTypeWorkload = "application/zstd"
	contentTypeStats    = "application/json"
	contentTypeLatest   = "text/plain; charset=utf-8"
)

// Registry stores workloads by digest in object storage and resolves
// references to verified local copies.
type Registry struct {
	store    ObjectStore
	cacheDir string
}

// NewRegistry returns a registry over store that caches downloads in
// cacheDir (created on first use), one file per digest.
func NewRegistry(store ObjectStore, cacheDir string) *Registry {
	return &Registry{store: store, cacheDir: cacheDir}
}

// CacheDir is where verified downloads are kept.
func (r *Registry) CacheDir() string { return r.cacheDir }

// Entry is one name in the registry.
type Entry struct {
	Name     string    `json:"name"`
	Latest   Digest    `json:"latest,omitempty"`
	Versions []Version `json:"versions"`
}

// Version is one stored digest of a name.
type Version struct {
	Digest Digest `json:"digest"`
	Bytes  int64  `json:"bytes"`
}

func workloadKey(name string, d Digest) string {
	return RegistryPrefix + name + "/" + d.Hex() + ".jsonl.zst"
}
func statsKey(name string, d Digest) string {
	return RegistryPrefix + name + "/" + d.Hex() + ".stats.json"
}
func latestKey(name string) string { return RegistryPrefix + name + "/latest" }

// Push validates the workload file at path (every line), uploads it with
// its stats under name (the header's name when empty) and moves the name's
// latest to it. A plain-JSONL file is compressed on the way; the digest is
// of the uncompressed bytes either way.
func (r *Registry) Push(ctx context.Context, path, name string) (Ref, error) {
	ref, _, err := r.PushWithStats(ctx, path, name)
	return ref, err
}

// PushWithStats is Push that also returns the stats it uploaded.
func (r *Registry) PushWithStats(ctx context.Context, path, name string) (Ref, *Stats, error) {
	st, err := statsOfFile(path)
	if err != nil {
		return Ref{}, nil, err
	}
	if name == "" {
		name = st.Name
	}
	if err := ValidName(name); err != nil {
		return Ref{}, nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return Ref{}, nil, err
	}
	defer f.Close()
	body, size, cleanup, err := zstdBody(f)
	if err != nil {
		return Ref{}, nil, err
	}
	defer cleanup()
	if err := r.store.Put(ctx, workloadKey(name, st.Digest), body, size, contentTypeWorkload); err != nil {
		return Ref{}, nil, fmt.Errorf("upload workload: %w", err)
	}
	return r.finishPush(ctx, name, st)
}

// PushBytes is Push for a workload held in memory.
func (r *Registry) PushBytes(ctx context.Context, b []byte, name string) (Ref, error) {
	ref, _, err := r.pushBytes(ctx, b, name)
	return ref, err
}

func (r *Registry) pushBytes(ctx context.Context, b []byte, name string) (Ref, *Stats, error) {
	rd, err := NewReader(bytes.NewReader(b))
	if err != nil {
		return Ref{}, nil, err
	}
	st, err := ComputeStats(rd)
	rd.Close()
	if err != nil {
		return Ref{}, nil, err
	}
	if name == "" {
		name = st.Name
	}
	if err := ValidName(name); err != nil {
		return Ref{}, nil, err
	}
	body, size, cleanup, err := zstdBody(bytes.NewReader(b))
	if err != nil {
		return Ref{}, nil, err
	}
	defer cleanup()
	if err := r.store.Put(ctx, workloadKey(name, st.Digest), body, size, contentTypeWorkload); err != nil {
		return Ref{}, nil, fmt.Errorf("upload workload: %w", err)
	}
	return r.finishPush(ctx, name, st)
}

func (r *Registry) finishPush(ctx context.Context, name string, st *Stats) (Ref, *Stats, error) {
	js, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return Ref{}, nil, err
	}
	if err := r.store.PutBytes(ctx, statsKey(name, st.Digest), append(js, '\n'), contentTypeStats); err != nil {
		return Ref{}, nil, fmt.Errorf("upload stats: %w", err)
	}
	if err := r.store.PutBytes(ctx, latestKey(name), []byte(string(st.Digest)+"\n"), contentTypeLatest); err != nil {
		return Ref{}, nil, fmt.Errorf("move latest: %w", err)
	}
	return Ref{Name: name, Digest: st.Digest}, st, nil
}

func statsOfFile(path string) (*Stats, error) {
	rd, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	return ComputeStats(rd)
}

// zstdBody returns src as a zstd stream with its size: src itself when it
// already is one (a file is read through), else a compressed temporary
// copy. cleanup removes any temporary file.
func zstdBody(src io.ReadSeeker) (io.Reader, int64, func(), error) {
	noop := func() {}
	var magic [4]byte
	n, _ := io.ReadFull(src, magic[:])
	size, err := src.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, 0, noop, err
	}
	if _, err := src.Seek(0, io.SeekStart); err != nil {
		return nil, 0, noop, err
	}
	if n == len(magic) && bytes.Equal(magic[:], zstdMagic) {
		return src, size, noop, nil
	}
	tmp, err := os.CreateTemp("", "agentwatt-workload-*.zst")
	if err != nil {
		return nil, 0, noop, err
	}
	cleanup := func() { tmp.Close(); os.Remove(tmp.Name()) }
	zw, err := zstd.NewWriter(tmp, zstd.WithEncoderLevel(zstd.SpeedBetterCompression), zstd.WithEncoderConcurrency(1))
	if err != nil {
		cleanup()
		return nil, 0, noop, err
	}
	if _, err := io.Copy(zw, src); err != nil {
		zw.Close()
		cleanup()
		return nil, 0, noop, err
	}
	if err := zw.Close(); err != nil {
		cleanup()
		return nil, 0, noop, err
	}
	zsize, err := tmp.Seek(0, io.SeekCurrent)
	if err != nil {
		cleanup()
		return nil, 0, noop, err
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		cleanup()
		return nil, 0, noop, err
	}
	return tmp, zsize, cleanup, nil
}

// Stats returns the stats stored beside a pushed workload.
func (r *Registry) Stats(ctx context.Context, ref Ref) (*Stats, error) {
	if err := ValidName(ref.Name); err != nil {
		return nil, err
	}
	d := ref.Digest
	if d == "" {
		var err error
		if d, err = r.Latest(ctx, ref.Name); err != nil {
			return nil, err
		}
	}
	b, err := r.store.GetBytes(ctx, statsKey(ref.Name, d), 16<<20)
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("%w: stats of %s", ErrNotFound, Ref{Name: ref.Name, Digest: d})
	}
	if err != nil {
		return nil, err
	}
	var st Stats
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("%s: %w", statsKey(ref.Name, d), err)
	}
	return &st, nil
}

// Latest returns the digest name's latest points at.
func (r *Registry) Latest(ctx context.Context, name string) (Digest, error) {
	if err := ValidName(name); err != nil {
		return "", err
	}
	b, err := r.store.GetBytes(ctx, latestKey(name), 1024)
	if errors.Is(err, ErrNotFound) {
		return "", fmt.Errorf("%w: no workload named %q", ErrNotFound, name)
	}
	if err != nil {
		return "", fmt.Errorf("read %s: %w", latestKey(name), err)
	}
	d, err := ParseDigest(strings.TrimSpace(string(b)))
	if err != nil {
		return "", fmt.Errorf("%s: %w", latestKey(name), err)
	}
	return d, nil
}

// Resolve turns "name" (what its latest points at) or "name@sha256:…" into
// a local file holding exactly that workload, downloading it into the cache
// directory when absent and verifying its digest before it is used.
func (r *Registry) Resolve(ctx context.Context, ref string) (string, Digest, error) {
	rf, err := ParseRef(ref)
	if err != nil {
		return "", "", err
	}
	d := rf.Digest
	if d == "" {
		if d, err = r.Latest(ctx, rf.Name); err != nil {
			return "", "", err
		}
	}
	local := filepath.Join(r.cacheDir, d.Hex()+".jsonl.zst")
	if _, err := os.Stat(local); err == nil {
		return local, d, nil
	}
	if err := os.MkdirAll(r.cacheDir, 0o755); err != nil {
		return "", "", err
	}
	body, err := r.store.Get(ctx, workloadKey(rf.Name, d))
	if errors.Is(err, ErrNotFound) {
		return "", "", fmt.Errorf("%w: %s", ErrNotFound, Ref{Name: rf.Name, Digest: d})
	}
	if err != nil {
		return "", "", fmt.Errorf("download %s: %w", Ref{Name: rf.Name, Digest: d}, err)
	}
	defer body.Close()
	tmp, err := os.CreateTemp(r.cacheDir, "."+d.Hex()+".tmp-*")
	if err != nil {
		return "", "", err
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := io.Copy(tmp, bufio.NewReaderSize(body, 256<<10)); err != nil {
		return "", "", fmt.Errorf("download %s: %w", Ref{Name: rf.Name, Digest: d}, err)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return "", "", err
	}
	got, err := digestOfStream(tmp, d.Short())
	if err != nil {
		return "", "", err
	}
	if got != d {
		return "", "", fmt.Errorf("%w: %s holds %s", ErrDigestMismatch, Ref{Name: rf.Name, Digest: d}, got)
	}
	if err := tmp.Close(); err != nil {
		return "", "", err
	}
	if err := os.Rename(tmp.Name(), local); err != nil {
		return "", "", err
	}
	ok = true
	return local, d, nil
}

// digestOfStream checks the header and hashes the rest of a workload stream.
func digestOfStream(src io.Reader, name string) (Digest, error) {
	rd, err := NewReader(src, WithName(name))
	if err != nil {
		return "", err
	}
	defer rd.Close()
	return rd.Digest()
}

// List returns every name in the registry with its stored digests and the
// one latest points at, sorted by name.
func (r *Registry) List(ctx context.Context) ([]Entry, error) {
	objs, err := r.store.List(ctx, RegistryPrefix)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", RegistryPrefix, err)
	}
	byName := map[string]*Entry{}
	get := func(name string) *Entry {
		e := byName[name]
		if e == nil {
			e = &Entry{Name: name, Versions: []Version{}}
			byName[name] = e
		}
		return e
	}
	for _, o := range objs {
		rest := strings.TrimPrefix(o.Key, RegistryPrefix)
		name, file, ok := strings.Cut(rest, "/")
		if !ok || ValidName(name) != nil {
			continue
		}
		if hexPart, ok := strings.CutSuffix(file, ".jsonl.zst"); ok {
			if d, err := ParseDigest(digestPrefix + hexPart); err == nil {
				get(name).Versions = append(get(name).Versions, Version{Digest: d, Bytes: o.Size})
			}
		}
	}
	var out []Entry
	for name, e := range byName {
		d, err := r.Latest(ctx, name)
		switch {
		case err == nil:
			e.Latest = d
		case errors.Is(err, ErrNotFound):
		default:
			return nil, err
		}
		slices.SortFunc(e.Versions, func(a, b Version) int { return strings.Compare(string(a.Digest), string(b.Digest)) })
		out = append(out, *e)
	}
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}
