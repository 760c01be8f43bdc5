package publish

import "errors"

// Sentinel errors.
var (
	// ErrNotVerified: approval of a job that is not verified.
	ErrNotVerified = errors.New("job is not verified")
	// ErrNotPublishable: a result that may not be published here.
	ErrNotPublishable = errors.New("result may not be published")
	// ErrNotPublished: retraction of a job that has no result on the board.
	ErrNotPublished = errors.New("job has no published result")
)
