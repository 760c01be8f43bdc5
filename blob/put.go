package blob

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"os"

	"github.com/minio/minio-go/v7"
)

const (
	// partSize is the multipart part size and the largest single PUT.
	// 16 MiB parts allow objects up to 156 GiB (10,000 parts).
	partSize = 16 << 20
	// partThreads parts upload in parallel; the upload buffers
	// partThreads × partSize bytes (64 MiB).
	partThreads = 4
)

// errShortBody stops an upload whose reader ended before the declared
// size, so that a truncated object is never committed.
var errShortBody = errors.New("body shorter than the declared size")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Put uploads size bytes from r as key; size < 0 means "read to EOF". An
// empty contentType means "application/octet-stream". A reader that ends
// before size bytes fails the upload and leaves no object.
//
// Every request carries a CRC32C checksum that the server verifies and
// stores: objects up to 16 MiB go up in one PUT with the object's CRC32C;
// larger ones (and those of unknown size) as a multipart upload of 16 MiB
// parts, four in parallel, each with its CRC32C, completed with the
// composite checksum. Checksums travel as headers, never as aws-chunked
// trailers (versitygw v1.8.0 rejects minio-go's signed trailers over
// HTTP, and several S3 clones lack them).
//
// A failed upload is retried from the start when the body can be replayed:
// r is an io.Seeker (Put seeks back to where it started), or the object is
// at most 16 MiB (Put holds it in memory). A larger plain stream gets one
// try.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	seeker, seekable := r.(io.Seeker)
	var start int64
	if seekable {
		var err error
		if start, err = seeker.Seek(0, io.SeekCurrent); err != nil {
			seekable = false
		} else {
			end, err := seeker.Seek(0, io.SeekEnd)
			if err != nil {
				return fmt.Errorf("blob: put %s: size: %w", s.URL(key), err)
			}
			if _, err := seeker.Seek(start, io.SeekStart); err != nil {
				return fmt.Errorf("blob: put %s: rewind: %w", s.URL(key), err)
			}
			switch avail := end - start; {
			case size < 0:
				size = avail
			case avail < size:
				return fmt.Errorf("blob: put %s: %d bytes left, size says %d: %w", s.URL(key), avail, size, errShortBody)
			}
		}
	}
	if size < 0 && !seekable {
		// Read ahead one part: a stream that ends within it is a small
		// object (one PUT, replayable); a longer one continues multipart.
		var head bytes.Buffer
		if _, err := head.ReadFrom(io.LimitReader(r, partSize+1)); err != nil {
			return fmt.Errorf("blob: put %s: read: %w", s.URL(key), err)
		}
		if head.Len() <= partSize {
			r, size = bytes.NewReader(head.Bytes()), int64(head.Len())
			seekable, start = true, 0 // smallBody reads it in place
		} else {
			r = io.MultiReader(&head, r)
		}
	}
	if size >= 0 && size <= partSize {
		body, err := s.smallBody(r, seekable, start, size)
		if err != nil {
			return fmt.Errorf("blob: put %s: %w", s.URL(key), err)
		}
		return s.do(ctx, "put", key, func(int) error {
			return s.putSingle(ctx, key, body, contentType, Condition{})
		})
	}
	try := func(int) error {
		if seekable {
			if _, err := seeker.Seek(start, io.SeekStart); err != nil {
				return fmt.Errorf("blob: put %s: rewind: %w", s.URL(key), err)
			}
		}
		return s.putMultipart(ctx, key, r, size, contentType)
	}
	if !seekable {
		return try(1)
	}
	return s.do(ctx, "put", key, try)
}

// smallBody returns the object's bytes as a reader that can be replayed:
// a section of r when r can be read at an offset, a copy in memory
// otherwise.
func (s *Store) smallBody(r io.Reader, seekable bool, start, size int64) (*io.SectionReader, error) {
	if ra, ok := r.(io.ReaderAt); ok && seekable {
		return io.NewSectionReader(ra, start, size), nil
	}
	b := make([]byte, size)
	if _, err := io.ReadFull(r, b); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			err = errShortBody
		}
		return nil, err
	}
	return io.NewSectionReader(bytes.NewReader(b), 0, size), nil
}

// putSingle uploads body in one PUT with its CRC32C as a header.
func (s *Store) putSingle(ctx context.Context, key string, body *io.SectionReader, contentType string, cond Condition) error {
	h := crc32.New(castagnoli)
	if _, err := io.Copy(h, io.NewSectionReader(body, 0, body.Size())); err != nil {
		return fmt.Errorf("blob: put %s: read: %w", s.URL(key), err)
	}
	opts := minio.PutObjectOptions{
		ContentType:      contentType,
		DisableMultipart: true,
		// An empty body with minio-go's streaming signature is one
		// aws-chunked end chunk that versitygw leaves unread on the
		// connection (it answers it with a stray 400). Nothing to sign.
		DisableContentSha256: body.Size() == 0,
		UserMetadata: map[string]string{
			"x-amz-checksum-crc32c": base64.StdEncoding.EncodeToString(h.Sum(nil)),
		},
	}
	switch {
	case cond.IfMatch != "":
		opts.SetMatchETag(cond.IfMatch)
	case cond.IfAbsent:
		opts.SetMatchETagExcept("*")
	}
	_, err := s.client.PutObject(ctx, s.bucket, key, io.NewSectionReader(body, 0, body.Size()), body.Size(), opts)
	if isPreconditionFailed(err) {
		return fmt.Errorf("blob: put %s: %w", s.URL(key), ErrPrecondition)
	}
	if err != nil {
		return fmt.Errorf("blob: put %s: %w", s.URL(key), err)
	}
	return nil
}

// Condition makes a put conditional: on the object's ETag being IfMatch,
// or (IfAbsent) on there being no object. The zero Condition puts always.
type Condition struct {
	IfMatch  string
	IfAbsent bool
}

// PutBytesIf uploads b as key only if cond holds when the server writes
// it, else it fails with ErrPrecondition and leaves the object as it is.
// It is how a read-modify-write of one shared object (the leaderboard's
// results.json) loses no concurrent update: read with GetBytesVersion,
// change, PutBytesIf with the ETag read, and on ErrPrecondition start
// over. b is held whole, so it is for small objects (up to 16 MiB).
func (s *Store) PutBytesIf(ctx context.Context, key string, b []byte, contentType string, cond Condition) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	if len(b) > partSize {
		return fmt.Errorf("blob: put %s: a conditional put takes at most %d bytes, got %d", s.URL(key), partSize, len(b))
	}
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	body := io.NewSectionReader(bytes.NewReader(b), 0, int64(len(b)))
	return s.do(ctx, "put", key, func(int) error {
		return s.putSingle(ctx, key, body, contentType, cond)
	})
}

func isPreconditionFailed(err error) bool {
	var er minio.ErrorResponse
	return errors.As(err, &er) && (er.Code == "PreconditionFailed" || er.StatusCode == http.StatusPreconditionFailed)
}

// putMultipart streams r in parts; size < 0 means unknown.
func (s *Store) putMultipart(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	body := r
	if size >= 0 {
		body = &exactReader{r: r, left: size}
	}
	info, err := s.client.PutObject(ctx, s.bucket, key, body, -1, minio.PutObjectOptions{
		ContentType: contentType,
		// The parallel stream path puts each part's CRC32C in a header;
		// minio-go's io.ReaderAt path would send trailers instead.
		ConcurrentStreamParts: true,
		NumThreads:            partThreads,
		PartSize:              partSize,
		AutoChecksum:          minio.ChecksumCRC32C,
	})
	if err != nil {
		return fmt.Errorf("blob: put %s: %w", s.URL(key), err)
	}
	if size >= 0 && info.Size != size {
		return fmt.Errorf("blob: put %s: uploaded %d bytes, want %d", s.URL(key), info.Size, size)
	}
	return nil
}

// exactReader yields exactly left bytes of r and fails (not EOF) when r
// ends early.
type exactReader struct {
	r    io.Reader
	left int64
	err  error
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	if e.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	e.left -= int64(n)
	if err == io.EOF && e.left > 0 {
		e.err = errShortBody
		return n, e.err
	}
	if err == io.EOF {
		err = nil
	}
	if err != nil {
		e.err = err
	}
	return n, err
}

// PutBytes uploads b as key.
func (s *Store) PutBytes(ctx context.Context, key string, b []byte, contentType string) error {
	return s.Put(ctx, key, bytes.NewReader(b), int64(len(b)), contentType)
}

// PutFile uploads the regular file at path as key, with content type
// "application/octet-stream". The upload is retried from the start.
func (s *Store) PutFile(ctx context.Context, key, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("blob: put %s: %w", s.URL(key), err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("blob: put %s: %w", s.URL(key), err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("blob: put %s: %s is not a regular file", s.URL(key), path)
	}
	return s.Put(ctx, key, f, fi.Size(), "")
}
