package verifyd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/agentwatt/agentwatt/blob"
	"github.com/agentwatt/agentwatt/bundle"
)

// ObjectStore is what reading a bundle from object storage needs
// (*blob.Store has it).
type ObjectStore interface {
	List(ctx context.Context, prefix string) ([]blob.Info, error)
	Get(ctx context.Context, key string) (io.ReadCloser, error)
}

var _ ObjectStore = (*blob.Store)(nil)

// StoreSource reads the bundle under prefix ("runs/<job>/<attempt>/") of
// an object store.
func StoreSource(store ObjectStore, prefix string) bundle.Source {
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	return storeSource{s: store, prefix: prefix}
}

type storeSource struct {
	s      ObjectStore
	prefix string
}

func (s storeSource) List(ctx context.Context) ([]bundle.Entry, error) {
	infos, err := s.s.List(ctx, s.prefix)
	if err != nil {
		return nil, err
	}
	out := make([]bundle.Entry, 0, len(infos))
	for _, in := range infos {
		out = append(out, bundle.Entry{Name: strings.TrimPrefix(in.Key, s.prefix), Size: in.Size, Regular: true})
	}
	return out, nil
}

func (s storeSource) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	rc, err := s.s.Get(ctx, s.prefix+name)
	if errors.Is(err, blob.ErrNotFound) {
		return nil, fmt.Errorf("%w: %w", fs.ErrNotExist, err)
	}
	return rc, err
}
