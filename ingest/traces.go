package ingest

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/zstd"

	"github.com/agentwatt/agentwatt/workload"
)

// traceDoc is one trace document read from an input: a whole file, a
// member of a tar archive, a file under a directory or one JSONL line.
type traceDoc struct {
	file string // what errors name as FILE: the path, or ARCHIVE[MEMBER]
	line int    // line of data[0] in file (1-based)
	data []byte
}

// traceReader reads the trace documents of one input, streaming: at most
// one document is in memory at a time. It detects the container from the
// content (a directory, zstd, tar) and, for the rest, from the name: a
// .jsonl (or .jsonl.zst) file holds one trace per line, any other file is
// one JSON document.
//
// Problems confined to one document (a member that is not a regular file
// or has an unsafe name, a document over the size limit, an over-long
// line) reach fn as an entry error, which a caller may skip; a broken
// container (a corrupt archive or zstd stream, a read error, more
// decompressed bytes than MaxInputBytes) ends the read with an error.
type traceReader struct {
	path     string
	lim      Limits
	progress func(raw int64) // raw bytes read so far (file or directory)

	sum   hash.Hash // sha256 of the raw file, or of the directory manifest
	bytes int64     // raw bytes read
}

// errEntry marks a problem with one document of an input: skippable.
var errEntry = errors.New("unreadable trace")

// entryError is a problem with one document of an input.
type entryError struct {
	file string
	msg  string
}

func (e *entryError) Error() string { return e.file + ": " + e.msg }
func (e *entryError) Unwrap() error { return errEntry }

// zstdMagic starts every zstd frame.
var zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}

// maxZstdWindow bounds the memory a zstd frame may ask for.
const maxZstdWindow = 128 << 20

func newTraceReader(p string, lim Limits, progress func(int64)) *traceReader {
	return &traceReader{path: p, lim: lim, progress: progress, sum: sha256.New()}
}

// SHA256 is the hex sha256 of what was read: the file's bytes, or for a
// directory the sha256sum-style manifest of the trace files read
// ("<sha256>  <relative path>\n" per file, in lexical order).
func (r *traceReader) SHA256() string { return hex.EncodeToString(r.sum.Sum(nil)) }

// each calls fn for every document in order. fn's error ends the read and
// is returned.
func (r *traceReader) each(ctx context.Context, fn func(d traceDoc, entryErr error) error) error {
	fi, err := os.Stat(r.path)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return r.eachInDir(ctx, fn)
	}
	f, err := os.Open(r.path)
	if err != nil {
		return err
	}
	defer f.Close()
	raw := bufio.NewReaderSize(io.TeeReader(&countReader{r: f, n: &r.bytes, progress: r.progress}, r.sum), 64<<10)
	if err := r.eachInStream(ctx, raw, fi.Size(), fn); err != nil {
		return err
	}
	// Hash the whole file, trailing bytes of a container included.
	_, err = io.Copy(io.Discard, raw)
	return err
}

func (r *traceReader) eachInStream(ctx context.Context, raw *bufio.Reader, size int64, fn func(traceDoc, error) error) error {
	var in *bufio.Reader = raw
	compressed := false
	if head, _ := raw.Peek(4); bytes.Equal(head, zstdMagic) {
		zr, err := zstd.NewReader(raw, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(maxZstdWindow), zstd.WithDecoderMaxMemory(uint64(r.lim.MaxInputBytes)))
		if err != nil {
			return fmt.Errorf("%s: %w", r.path, err)
		}
		defer zr.Close()
		in = bufio.NewReaderSize(&capReader{r: zr, left: r.lim.MaxInputBytes, file: r.path}, 64<<10)
		compressed = true
	}
	if head, _ := in.Peek(262); len(head) >= 262 && string(head[257:262]) == "ustar" {
		return r.eachInTar(ctx, in, fn)
	}
	name := strings.TrimSuffix(strings.ToLower(r.path), ".zst")
	if strings.HasSuffix(name, ".jsonl") {
		return r.eachLine(ctx, in, fn)
	}
	// One JSON document.
	if !compressed && size > r.lim.MaxFileBytes {
		return fn(traceDoc{}, &entryError{file: r.path, msg: fmt.Sprintf("%d bytes is over the %d-byte limit", size, r.lim.MaxFileBytes)})
	}
	data, err := io.ReadAll(io.LimitReader(in, r.lim.MaxFileBytes+1))
	if err != nil {
		return fmt.Errorf("%s: %w", r.path, err)
	}
	if int64(len(data)) > r.lim.MaxFileBytes {
		return fn(traceDoc{}, &entryError{file: r.path, msg: fmt.Sprintf("over the %d-byte limit", r.lim.MaxFileBytes)})
	}
	return fn(traceDoc{file: r.path, line: 1, data: data}, nil)
}

// eachInTar reads the regular *.json members of a tar archive. Nothing is
// written to disk, so member names are labels only; still, a name that is
// absolute, climbs with "..", or holds control characters is refused, as
// are links and device files, so that a report never names a file the
// archive could not have held.
func (r *traceReader) eachInTar(ctx context.Context, in io.Reader, fn func(traceDoc, error) error) error {
	tr := tar.NewReader(in)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: archive: %w", r.path, err)
		}
		file := fmt.Sprintf("%s[%s]", r.path, escapeName(h.Name))
		switch {
		case h.Typeflag == tar.TypeDir:
			continue
		case h.Typeflag != tar.TypeReg:
			err = fn(traceDoc{}, &entryError{file: file, msg: fmt.Sprintf("a %s, not a regular file", tarType(h.Typeflag))})
		case !safeMemberName(h.Name):
			err = fn(traceDoc{}, &entryError{file: file, msg: "an unsafe member name (absolute, \"..\" or control characters)"})
		case !isTraceName(h.Name):
			continue
		case h.Size > r.lim.MaxFileBytes:
			err = fn(traceDoc{}, &entryError{file: file, msg: fmt.Sprintf("%d bytes is over the %d-byte limit", h.Size, r.lim.MaxFileBytes)})
		default:
			data, rerr := io.ReadAll(io.LimitReader(tr, h.Size))
			if rerr != nil {
				return fmt.Errorf("%s: %w", file, rerr)
			}
			err = fn(traceDoc{file: file, line: 1, data: data}, nil)
		}
		if err != nil {
			return err
		}
	}
}

// eachLine reads a JSONL stream, one trace per non-blank line. A line is
// a whole trace, so MaxFileBytes (not MaxLineBytes, meant for one request)
// bounds it: a longer line is an entry error and is discarded unread.
func (r *traceReader) eachLine(ctx context.Context, in *bufio.Reader, fn func(traceDoc, error) error) error {
	var buf []byte
	for line := 1; ; line++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		buf = buf[:0]
		tooLong := false
		var err error
		for {
			var chunk []byte
			chunk, err = in.ReadSlice('\n')
			if !tooLong {
				if int64(len(buf)+len(chunk)) > r.lim.MaxFileBytes {
					tooLong, buf = true, buf[:0]
				} else {
					buf = append(buf, chunk...)
				}
			}
			if err != bufio.ErrBufferFull {
				break
			}
		}
		if err != nil && err != io.EOF {
			return fmt.Errorf("%s:%d: %w", r.path, line, err)
		}
		var ferr error
		switch {
		case tooLong:
			ferr = fn(traceDoc{}, &entryError{file: fmt.Sprintf("%s:%d", r.path, line), msg: fmt.Sprintf("line longer than %d bytes", r.lim.MaxFileBytes)})
		case len(bytes.TrimSpace(buf)) > 0:
			ferr = fn(traceDoc{file: r.path, line: line, data: buf}, nil)
		}
		if ferr != nil {
			return ferr
		}
		if err == io.EOF {
			return nil
		}
	}
}

// eachInDir reads the regular *.json files under a directory, in lexical
// order. Symbolic links and other non-regular files are entry errors: a
// link could reach outside the directory.
func (r *traceReader) eachInDir(ctx context.Context, fn func(traceDoc, error) error) error {
	return filepath.WalkDir(r.path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if d.IsDir() || !isTraceName(d.Name()) {
			return nil
		}
		if !d.Type().IsRegular() {
			return fn(traceDoc{}, &entryError{file: p, msg: "not a regular file (" + d.Type().String() + ")"})
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			return fn(traceDoc{}, &entryError{file: p, msg: "not a regular file"})
		}
		if fi.Size() > r.lim.MaxFileBytes {
			return fn(traceDoc{}, &entryError{file: p, msg: fmt.Sprintf("%d bytes is over the %d-byte limit", fi.Size(), r.lim.MaxFileBytes)})
		}
		data, err := io.ReadAll(io.LimitReader(f, r.lim.MaxFileBytes+1))
		if err != nil {
			return err
		}
		if int64(len(data)) > r.lim.MaxFileBytes {
			return fn(traceDoc{}, &entryError{file: p, msg: fmt.Sprintf("over the %d-byte limit", r.lim.MaxFileBytes)})
		}
		r.bytes += int64(len(data))
		if r.progress != nil {
			r.progress(r.bytes)
		}
		rel, _ := filepath.Rel(r.path, p)
		fmt.Fprintf(r.sum, "%x  %s\n", sha256.Sum256(data), filepath.ToSlash(rel))
		return fn(traceDoc{file: p, line: 1, data: data}, nil)
	})
}

func isTraceName(name string) bool {
	base := path.Base(name)
	return strings.HasSuffix(strings.ToLower(base), ".json") && !strings.HasPrefix(base, "._")
}

func safeMemberName(name string) bool {
	if name == "" || strings.HasPrefix(name, "/") || strings.ContainsAny(name, "\\") {
		return false
	}
	for _, c := range name {
		if c < 0x20 || c == 0x7f {
			return false
		}
	}
	for _, el := range strings.Split(name, "/") {
		if el == ".." {
			return false
		}
	}
	return true
}

// escapeName makes an archive member name safe to print.
func escapeName(s string) string {
	q := fmt.Sprintf("%q", s)
	return q[1 : len(q)-1]
}

func tarType(t byte) string {
	switch t {
	case tar.TypeSymlink:
		return "symbolic link"
	case tar.TypeLink:
		return "hard link"
	case tar.TypeChar, tar.TypeBlock:
		return "device file"
	case tar.TypeFifo:
		return "named pipe"
	}
	return fmt.Sprintf("member of type %q", t)
}

// countReader counts bytes read into *n and reports them.
type countReader struct {
	r        io.Reader
	n        *int64
	progress func(int64)
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	*c.n += int64(n)
	if c.progress != nil && n > 0 {
		c.progress(*c.n)
	}
	return n, err
}

// capReader fails once more than left bytes were read: a decompression
// bomb ends the read instead of running on.
type capReader struct {
	r    io.Reader
	left int64
	file string
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, &workload.FormatError{File: c.file, Msg: "decompresses to more bytes than the input limit", Err: workload.ErrTooLarge}
	}
	if int64(len(p)) > c.left {
		p = p[:c.left+1]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if c.left < 0 {
		return 0, &workload.FormatError{File: c.file, Msg: "decompresses to more bytes than the input limit", Err: workload.ErrTooLarge}
	}
	return n, err
}
