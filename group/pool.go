package group

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/agentwatt/agentwatt/internal/kvbucket"
)

// Members returns a group's live members, sorted by name.
func (g *Groups) Members(ctx context.Context, group string) ([]Member, error) {
	if err := checkName("group", group); err != nil {
		return nil, err
	}
	keys, err := kvbucket.Keys(ctx, g.members, group+".*")
	if err != nil {
		return nil, err
	}
	var out []Member
	for _, k := range keys {
		e, err := g.members.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue // expired meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("group %s: get %s: %w", group, k, err)
		}
		var m Member
		if err := json.Unmarshal(e.Value(), &m); err != nil {
			return nil, fmt.Errorf("group %s: decode %s: %w", group, k, err)
		}
		if memberKey(group, m.Name) != k || m.validate() != nil {
			return nil, fmt.Errorf("group %s: entry %s names member %q: %w", group, k, m.Name, ErrInvalid)
		}
		out = append(out, m)
	}
	return out, nil
}

// Pool is the pool the group offers now: "<accelerator>x<Σ GPUs>" of its
// live members. It exists only while exactly the declared number of
// members is alive and they share one accelerator; otherwise the error
// wraps ErrIncomplete (and says what is missing), and the leader takes
// no job.
func (g *Groups) Pool(ctx context.Context, group string) (string, error) {
	d, err := g.Definition(ctx, group)
	if err != nil {
		return "", err
	}
	ms, err := g.Members(ctx, group)
	if err != nil {
		return "", err
	}
	return poolOf(d, ms)
}

func poolOf(d Definition, ms []Member) (string, error) {
	if len(ms) != d.Size {
		names := make([]string, len(ms))
		for i, m := range ms {
			names[i] = m.Name
		}
		return "", fmt.Errorf("group %s: %d of %d members alive (%s): %w", d.Name, len(ms), d.Size, strings.Join(names, ", "), ErrIncomplete)
	}
	gpus := 0
	for _, m := range ms {
		if m.Accelerator != ms[0].Accelerator {
			return "", fmt.Errorf("group %s: member %s has %s, member %s %s: %w", d.Name, m.Name, m.Accelerator, ms[0].Name, ms[0].Accelerator, ErrIncomplete)
		}
		gpus += m.GPUs
	}
	return fmt.Sprintf("%sx%d", ms[0].Accelerator, gpus), nil
}
