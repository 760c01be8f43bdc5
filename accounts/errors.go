package accounts

import (
	"errors"
	"fmt"
)

// Sentinel errors that callers branch on.
var (
	// ErrUnauthorized: the token is unknown, revoked, malformed or claims
	// another role than its record.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrInvalid: an argument is malformed (a bad name, a bad config).
	ErrInvalid = errors.New("invalid argument")
)

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}
