package blob

import "errors"

// Sentinel errors that callers branch on. Every error the Store returns
// wraps one of these or the underlying client error, so errors.Is works.
var (
	// ErrNotFound means the object (key) does not exist.
	ErrNotFound = errors.New("blob: object not found")
	// ErrTooLarge means GetBytes found an object larger than its bound.
	ErrTooLarge = errors.New("blob: object larger than the limit")
	// ErrInvalidKey means a key is empty, too long, not UTF-8, or holds a
	// path segment that a file-backed store cannot map ("", ".", "..").
	ErrInvalidKey = errors.New("blob: invalid key")
	// ErrInvalidURL means a string is not an s3://bucket/key URL.
	ErrInvalidURL = errors.New("blob: invalid s3 url")
	// ErrPrecondition means a conditional put found the object changed
	// (If-Match) or present (If-None-Match) since the caller read it.
	ErrPrecondition = errors.New("blob: object changed since it was read")
	// ErrInvalidConfig means Config.Validate found a problem.
	ErrInvalidConfig = errors.New("blob: invalid config")
)
