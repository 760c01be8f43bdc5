package workload

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"slices"
	"sync"
)

// Names of the built-in workloads.
const (
	// DefaultName is the small real subset the demo, the tests and the
	// quick and test profiles use.
	DefaultName = "agentic-coding-mini"
	// CorpusName is the whole Claude Code corpus, the official profile's
	// workload; Corpus256KName is it cut to a 256K context.
	CorpusName     = "agentic-coding"
	Corpus256KName = "agentic-coding-256k"
	// ChatMooncakeName is the Mooncake conversation slice: chat, not coding.
	ChatMooncakeName = "chat-mooncake"
	// LegacySampleName is the built-in of earlier releases (mostly Mooncake
	// chat under a coding name). It is not listed; it stays resolvable so
	// that bundles that pinned it still verify.
	LegacySampleName = "agentic-coding-sample"
)

// The files are built by defaultdata/build.sh (go generate ./workload) from
// the real traces in ingest/testdata; see defaultdata/README.md.
//
//go:generate sh defaultdata/build.sh
var (
	//go:embed defaultdata/agentic-coding-mini.jsonl.zst
	miniZst []byte
	//go:embed defaultdata/agentic-coding.jsonl.zst
	corpusZst []byte
	//go:embed defaultdata/agentic-coding-256k.jsonl.zst
	corpus256KZst []byte
	//go:embed defaultdata/chat-mooncake.jsonl.zst
	chatMooncakeZst []byte
	//go:embed defaultdata/agentic-coding-sample.jsonl.zst
	legacySampleZst []byte
)

type builtin struct {
	name   string
	data   []byte
	listed bool
	digest func() (Digest, error)
}

// builtins in the order digests are looked up (the cheap ones first).
var builtins = []*builtin{
	{name: DefaultName, data: miniZst, listed: true},
	{name: ChatMooncakeName, data: chatMooncakeZst, listed: true},
	{name: LegacySampleName, data: legacySampleZst},
	{name: CorpusName, data: corpusZst, listed: true},
	{name: Corpus256KName, data: corpus256KZst, listed: true},
}

func init() {
	for _, b := range builtins {
		b.digest = sync.OnceValues(func() (Digest, error) {
			r, err := OpenBuiltin(b.name)
			if err != nil {
				return "", err
			}
			defer r.Close()
			return r.Digest()
		})
	}
}

func findBuiltin(name string) *builtin {
	for _, b := range builtins {
		if b.name == name {
			return b
		}
	}
	return nil
}

// Builtins lists the names of the built-in workloads (not the legacy
// sample), the default first.
func Builtins() []string {
	var names []string
	for _, b := range builtins {
		if b.listed {
			names = append(names, b.name)
		}
	}
	slices.Sort(names[1:])
	return names
}

// IsBuiltin reports whether name is a listed built-in workload (not the
// legacy sample, which is found by its digest only).
func IsBuiltin(name string) bool {
	b := findBuiltin(name)
	return b != nil && b.listed
}

// BuiltinBytes returns a built-in workload file (zstd-compressed JSONL).
func BuiltinBytes(name string) ([]byte, error) {
	b := findBuiltin(name)
	if b == nil {
		return nil, fmt.Errorf("built-in workload %q: %w (built-in: %v)", name, ErrNotFound, Builtins())
	}
	return bytes.Clone(b.data), nil
}

// OpenBuiltin streams a built-in workload.
func OpenBuiltin(name string) (*Reader, error) {
	b := findBuiltin(name)
	if b == nil {
		return nil, fmt.Errorf("built-in workload %q: %w (built-in: %v)", name, ErrNotFound, Builtins())
	}
	return NewReader(bytes.NewReader(b.data), WithName("builtin:"+name))
}

// LoadBuiltin loads a built-in workload into memory.
func LoadBuiltin(name string) (*Workload, error) {
	b := findBuiltin(name)
	if b == nil {
		return nil, fmt.Errorf("built-in workload %q: %w (built-in: %v)", name, ErrNotFound, Builtins())
	}
	return LoadBytes(b.data, WithName("builtin:"+name))
}

// BuiltinDigest returns a built-in workload's digest (computed once).
func BuiltinDigest(name string) (Digest, error) {
	b := findBuiltin(name)
	if b == nil {
		return "", fmt.Errorf("built-in workload %q: %w", name, ErrNotFound)
	}
	return b.digest()
}

// builtinOfDigest returns the built-in workload whose digest is d.
func builtinOfDigest(d Digest) (string, bool) {
	for _, b := range builtins {
		if got, err := b.digest(); err == nil && got == d {
			return b.name, true
		}
	}
	return "", false
}

// DefaultBytes returns the default built-in workload file.
func DefaultBytes() []byte { return bytes.Clone(miniZst) }

// OpenDefault streams the default built-in workload.
func OpenDefault() (*Reader, error) { return OpenBuiltin(DefaultName) }

// LoadDefault loads the default built-in workload into memory.
func LoadDefault() (*Workload, error) { return LoadBuiltin(DefaultName) }

// DefaultDigest returns the default built-in workload's digest.
func DefaultDigest() Digest {
	d, err := BuiltinDigest(DefaultName)
	if err != nil {
		panic(fmt.Sprintf("workload: built-in workload is unreadable: %v", err))
	}
	return d
}

// EnsureDefault makes sure the registry holds the default built-in
// workload: when its digest is missing it is pushed (with its stats), which
// also moves DefaultName's latest to it; when it is present but the name has
// no latest, latest is set. A latest that points elsewhere (someone pushed a
// newer one) is left alone. The local stack calls this on start. The other
// built-ins are not pushed: every binary resolves them itself (Loader).
func EnsureDefault(ctx context.Context, reg *Registry) (Ref, error) {
	d := DefaultDigest()
	ref := Ref{Name: DefaultName, Digest: d}
	objs, err := reg.store.List(ctx, workloadKey(DefaultName, d))
	if err != nil {
		return Ref{}, fmt.Errorf("look for %s: %w", ref, err)
	}
	present := false
	for _, o := range objs {
		if o.Key == workloadKey(DefaultName, d) {
			present = true
		}
	}
	if !present {
		if _, err := reg.PushBytes(ctx, miniZst, DefaultName); err != nil {
			return Ref{}, fmt.Errorf("push %s: %w", ref, err)
		}
		return ref, nil
	}
	if _, err := reg.Latest(ctx, DefaultName); errors.Is(err, ErrNotFound) {
		if err := reg.store.PutBytes(ctx, latestKey(DefaultName), []byte(string(d)+"\n"), contentTypeLatest); err != nil {
			return Ref{}, fmt.Errorf("set latest of %s: %w", DefaultName, err)
		}
	} else if err != nil {
		return Ref{}, err
	}
	return ref, nil
}
