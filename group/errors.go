package group

import (
	"errors"
	"fmt"
)

// Sentinel errors that callers branch on.
var (
	// ErrInvalid: a malformed argument (a name, a size, a config).
	ErrInvalid = errors.New("invalid argument")
	// ErrNotDefined: no group of that name is declared.
	ErrNotDefined = errors.New("group not defined")
	// ErrIncomplete: the group has not exactly its declared members alive,
	// or they do not make one pool; it offers no pool.
	ErrIncomplete = errors.New("group incomplete")
	// ErrMemberExists: a live member of that name runs on another host.
	ErrMemberExists = errors.New("member name taken")
	// ErrLeaderExists: another member holds the group's leader lease.
	ErrLeaderExists = errors.New("group has a leader")
	// ErrFenced: the caller's term is not the group's current one (a
	// leader that lost its lease, a message from a stale leader).
	ErrFenced = errors.New("stale term: fenced")
	// ErrRefused: a member refused a request (its reason follows).
	ErrRefused = errors.New("member refused")
)

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}
