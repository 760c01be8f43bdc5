package fleet

import (
	"errors"
	"fmt"
)

// Sentinel errors that callers branch on.
var (
	// ErrKeyConflict: a different key is already enrolled under the name.
	ErrKeyConflict = errors.New("runner key name already enrolled with a different key")
	// ErrKeyNotFound: no key is enrolled under the name.
	ErrKeyNotFound = errors.New("runner key not found")
	// ErrKeyRevoked: the key enrolled under the name has been revoked.
	ErrKeyRevoked = errors.New("runner key revoked")
	// ErrEnrolRefused: an enrolment was refused (an unknown, used,
	// expired or out-of-scope token, or a wrong proof of possession).
	ErrEnrolRefused = errors.New("enrolment refused")
	// ErrInvalid: an argument is malformed (a bad name, pool, key or config).
	ErrInvalid = errors.New("invalid argument")
)

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}
