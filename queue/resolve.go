package queue

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/agentwatt/agentwatt/internal/kvbucket"
)

// MinPrefixLen is the shortest job id prefix Resolve accepts: shorter ones
// match by accident too easily (one job in 16 starts with any hex digit).
const MinPrefixLen = 4

// ErrAmbiguous: a job id prefix matches more than one job. AmbiguousError
// lists them.
var ErrAmbiguous = errors.New("ambiguous job id prefix")

// AmbiguousError is the jobs a prefix matches. It unwraps to ErrAmbiguous.
type AmbiguousError struct {
	Prefix     string
	Candidates []string // sorted; at most maxCandidates
	More       int      // candidates left out of the list
}

// maxCandidates bounds the ids an ambiguous prefix lists.
const maxCandidates = 10

func (e *AmbiguousError) Error() string {
	more := ""
	if e.More > 0 {
		more = fmt.Sprintf(" and %d more", e.More)
	}
	return fmt.Sprintf("job id prefix %q matches %d jobs: %s%s; give more digits",
		e.Prefix, len(e.Candidates)+e.More, strings.Join(e.Candidates, ", "), more)
}

func (e *AmbiguousError) Unwrap() error { return ErrAmbiguous }

var prefixRe = regexp.MustCompile(`^[0-9a-f]+$`)

// Resolve returns the id of the one job whose id starts with prefix, as git
// and docker resolve abbreviated ids. A full id is returned as it is, without
// a lookup (Get says whether it exists). A prefix shorter than MinPrefixLen
// or not hex is ErrInvalid, one that matches no job ErrJobNotFound, one that
// matches several an *AmbiguousError. Case is ignored.
//
// It resolves among every job in the queue, for the commands that read the
// queue directly (maintainers, operators). The job API takes full ids only,
// so that a vendor cannot probe for other vendors' ids by prefix.
func (q *Queue) Resolve(ctx context.Context, prefix string) (string, error) {
	p := strings.ToLower(strings.TrimSpace(prefix))
	switch {
	case len(p) > 32 || !prefixRe.MatchString(p):
		return "", invalidf("job id %q: want hex digits, at least %d of the 32", prefix, MinPrefixLen)
	case len(p) < MinPrefixLen:
		return "", invalidf("job id prefix %q is too short: give at least %d of its 32 hex digits", prefix, MinPrefixLen)
	case len(p) == 32:
		return p, nil
	}
	keys, err := kvbucket.Keys(ctx, q.jobs)
	if err != nil {
		return "", fmt.Errorf("resolve job id %s: %w", p, err)
	}
	var found []string
	for _, k := range keys {
		if strings.HasPrefix(k, p) && checkJobID(k) == nil {
			found = append(found, k)
		}
	}
	slices.Sort(found)
	switch len(found) {
	case 0:
		return "", fmt.Errorf("no job id starts with %s: %w", p, ErrJobNotFound)
	case 1:
		return found[0], nil
	}
	e := &AmbiguousError{Prefix: p, Candidates: found}
	if len(found) > maxCandidates {
		e.Candidates, e.More = found[:maxCandidates], len(found)-maxCandidates
	}
	return "", e
}
