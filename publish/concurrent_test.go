package publish_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentwatt/agentwatt/blob"
	"github.com/agentwatt/agentwatt/blob/blobtest"
	"github.com/agentwatt/agentwatt/publish"
)

// interleaved is the real S3 store with a hook that runs once, just before
// the first write of published/results.json: another publication that
// lands between this one's read and its write, deterministically.
type interleaved struct {
	*blob.Store
	once   sync.Once
	before func()
}

func (s *interleaved) hook(key string) {
	if key == publish.ResultsKey {
		s.once.Do(s.before)
	}
}

func (s *interleaved) PutBytes(ctx context.Context, key string, b []byte, ct string) error {
	s.hook(key)
	return s.Store.PutBytes(ctx, key, b, ct)
}

func (s *interleaved) PutBytesIf(ctx context.Context, key string, b []byte, ct string, c blob.Condition) error {
	s.hook(key)
	return s.Store.PutBytesIf(ctx, key, b, ct, c)
}

// Two approvals (or an approval and a retraction) at once lose neither:
// results.json is replaced by compare-and-swap, and the site and
// regressions.json are derived from the newest results.
func TestConcurrentPublicationsLoseNoUpdate(t *testing.T) {
	ctx := context.Background()
	v := verdictOf(t)
	base := blobtest.Store(t)
	t1 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	publishJob := func(store publish.PublishStore, job string, at time.Time) {
		t.Helper()
		if _, err := publish.Publish(ctx, store, publish.PublishInput{Job: jobOf(v, job, "sim"), Verdict: withJob(v, job), Local: true,
			Approval: publish.Approval{By: "maint", Via: publish.ViaMaintainerToken, At: at}}); err != nil {
			t.Fatalf("publish %s: %v", job, err)
		}
	}
	jobsIn := func() []string {
		t.Helper()
		lb, err := publish.LoadResults(ctx, base)
		if err != nil {
			t.Fatal(err)
		}
		var jobs []string
		for _, r := range lb.History {
			if !slices.Contains(jobs, r.Job) {
				jobs = append(jobs, r.Job)
			}
		}
		slices.Sort(jobs)
		return jobs
	}
	publishJob(base, "job-a", t1)

	// job-c is approved while job-b's approval is between its read and
	// its write.
	store := &interleaved{Store: base, before: func() { publishJob(base, "job-c", t1.Add(2*time.Hour)) }}
	publishJob(store, "job-b", t1.Add(time.Hour))
	if got, want := jobsIn(), []string{"job-a", "job-b", "job-c"}; !slices.Equal(got, want) {
		t.Fatalf("after two concurrent approvals results.json holds %v, want %v", got, want)
	}
	site, err := base.GetBytes(ctx, publish.SitePrefix+"results.json", 16<<20)
	if err != nil {
		t.Fatal(err)
	}
	lb, _ := publish.LoadResults(ctx, base)
	if latest := lb.Results[0].Job; !strings.Contains(string(site), latest) {
		t.Errorf("the site's results.json does not name the latest result %s", latest)
	}

	// job-d is approved while job-a's retraction is between its read and
	// its write.
	store = &interleaved{Store: base, before: func() { publishJob(base, "job-d", t1.Add(3*time.Hour)) }}
	if _, err := publish.Retract(ctx, store, "job-a", publish.Retraction{By: "alice", Via: publish.ViaMaintainerToken, Reason: "meter", At: t1.Add(4 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if got, want := jobsIn(), []string{"job-b", "job-c", "job-d"}; !slices.Equal(got, want) {
		t.Fatalf("after a retraction concurrent with an approval results.json holds %v, want %v", got, want)
	}
}
