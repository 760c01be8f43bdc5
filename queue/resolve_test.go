package queue

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// collidingJobs returns two NewJobs whose ids share their first
// MinPrefixLen hex digits, found by trying triggers (a birthday search over
// 16^4 prefixes: a few hundred hashes).
func collidingJobs(t *testing.T) (NewJob, NewJob) {
	t.Helper()
	a, b := newJob("sim"), newJob("sim")
	b.Vendor, b.By = "globex", ""
	seen := map[string]string{}
	for i := range 100000 {
		trig := fmt.Sprintf("submit:t%d", i)
		p := JobID(a.SpecDigest, trig)[:MinPrefixLen]
		if first, ok := seen[p]; ok {
			a.Trigger, b.Trigger, b.SpecDigest, b.Spec, b.Name = first, trig, a.SpecDigest, a.Spec, a.Name
			return a, b
		}
		seen[p] = trig
	}
	t.Fatal("no colliding prefixes")
	return a, b
}

func TestResolvePrefix(t *testing.T) {
	q := newTestQueue(t, Config{})
	ctx := testCtx(t, time.Minute)
	na, nb := collidingJobs(t)
	a, b := mustEnqueue(t, q, na), mustEnqueue(t, q, nb)
	other := mustEnqueue(t, q, newJob("sim"))
	if a.ID[:MinPrefixLen] != b.ID[:MinPrefixLen] || a.ID == b.ID {
		t.Fatalf("ids %s and %s do not share a prefix", a.ID, b.ID)
	}
	// The shortest prefix of a that b does not share.
	n := MinPrefixLen
	for a.ID[:n] == b.ID[:n] {
		n++
	}
	tests := []struct {
		name, prefix, want string
		err                error
	}{
		{"full id", a.ID, a.ID, nil},
		{"full id of no job", strings.Repeat("0", 32), strings.Repeat("0", 32), nil},
		{"unique prefix", a.ID[:n], a.ID, nil},
		{"upper case", strings.ToUpper(b.ID[:n]), b.ID, nil},
		{"another job", other.ID[:12], other.ID, nil},
		{"too short", a.ID[:MinPrefixLen-1], "", ErrInvalid},
		{"empty", "", "", ErrInvalid},
		{"not hex", "zz" + a.ID[2:8], "", ErrInvalid},
		{"wildcard", a.ID[:4] + ">", "", ErrInvalid},
		{"too long", a.ID + "0", "", ErrInvalid},
		{"ambiguous", a.ID[:MinPrefixLen], "", ErrAmbiguous},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := q.Resolve(ctx, tt.prefix)
			if got != tt.want || !errors.Is(err, tt.err) {
				t.Fatalf("Resolve(%q) = %q, %v; want %q, %v", tt.prefix, got, err, tt.want, tt.err)
			}
		})
	}
	// No job starts with the one hex digit after a's prefix that neither a, b
	// nor other has there.
	for _, c := range "0123456789abcdef" {
		p := a.ID[:n-1] + string(c)
		if strings.HasPrefix(a.ID, p) || strings.HasPrefix(b.ID, p) || strings.HasPrefix(other.ID, p) {
			continue
		}
		if _, err := q.Resolve(ctx, p); !errors.Is(err, ErrJobNotFound) {
			t.Errorf("Resolve(%q) = %v, want ErrJobNotFound", p, err)
		}
		break
	}
	_, err := q.Resolve(ctx, a.ID[:MinPrefixLen])
	var amb *AmbiguousError
	if !errors.As(err, &amb) || len(amb.Candidates) != 2 || amb.Candidates[0] > amb.Candidates[1] ||
		!strings.Contains(err.Error(), a.ID) || !strings.Contains(err.Error(), b.ID) {
		t.Errorf("ambiguous prefix: %v, want both ids listed in order", err)
	}
}
