package bundle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// Entry is one object of a bundle's location.
type Entry struct {
	Name    string // relative to the bundle's prefix; "sub/x" for nested objects
	Size    int64
	Regular bool // a plain file (object); false for directories, links, devices
}

// Source is where a bundle is read from: a directory, an fs.FS, or object
// storage through an adapter the caller writes (blob lists a prefix and
// opens objects). Open returns an error wrapping fs.ErrNotExist for an
// absent name.
type Source interface {
	List(ctx context.Context) ([]Entry, error)
	Open(ctx context.Context, name string) (io.ReadCloser, error)
}

// DirSource reads a bundle from a directory (a spool or a downloaded
// bundle). Names cannot escape it.
func DirSource(dir string) Source { return dirSource{dir: dir} }

// FSSource reads a bundle from the root of fsys.
func FSSource(fsys fs.FS) Source { return fsSource{fsys: fsys} }

type dirSource struct{ dir string }

func (d dirSource) root() (*os.Root, error) {
	r, err := os.OpenRoot(d.dir)
	if err != nil {
		return nil, fmt.Errorf("open bundle dir: %w", err)
	}
	return r, nil
}

func (d dirSource) List(ctx context.Context) ([]Entry, error) {
	r, err := d.root()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return fsSource{fsys: r.FS()}.List(ctx)
}

func (d dirSource) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	r, err := d.root()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	f, err := r.Open(name)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s: not a regular file: %w", name, fs.ErrNotExist)
	}
	return f, nil
}

type fsSource struct{ fsys fs.FS }

func (s fsSource) List(ctx context.Context) ([]Entry, error) {
	var out []Entry
	err := fs.WalkDir(s.fsys, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if path == "." || d.IsDir() {
			return nil
		}
		e := Entry{Name: path, Regular: d.Type().IsRegular()}
		if e.Regular {
			info, err := d.Info()
			if err != nil {
				return err
			}
			e.Size = info.Size()
		}
		out = append(out, e)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list bundle: %w", err)
	}
	return out, nil
}

func (s fsSource) Open(_ context.Context, name string) (io.ReadCloser, error) {
	f, err := s.fsys.Open(name)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s: not a regular file: %w", name, fs.ErrNotExist)
	}
	return f, nil
}

// isNotExist reports whether err means an absent object.
func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
