package publish_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/agentwatt/agentwatt/blob/blobtest"
	"github.com/agentwatt/agentwatt/publish"
)

// TestRetract: a retracted job leaves results.json (latest and history) and
// the site — the earlier result of its config is the latest again — and its
// history entry keeps the retraction with reason, identity and time.
func TestRetract(t *testing.T) {
	ctx := context.Background()
	v := verdictOf(t)
	store := blobtest.Store(t)
	t1 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	for _, step := range []struct {
		job string
		at  time.Time
	}{{"job-a", t1}, {"job-b", t1.Add(48 * time.Hour)}} {
		if _, err := publish.Publish(ctx, store, publish.PublishInput{Job: jobOf(v, step.job, "sim"), Verdict: withJob(v, step.job), Local: true,
			Approval: publish.Approval{By: "maint", Via: publish.ViaMaintainerToken, At: step.at}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, bad := range []publish.Retraction{
		{Via: publish.ViaMaintainerToken, Reason: "x"},
		{By: "alice", Via: publish.ViaMaintainerToken},
		{By: "alice", Via: "free-text", Reason: "x"},
	} {
		if _, err := publish.Retract(ctx, store, "job-b", bad); err == nil {
			t.Errorf("retract %+v: accepted", bad)
		}
	}
	if _, err := publish.Retract(ctx, store, "job-none", publish.Retraction{By: "alice", Via: publish.ViaMaintainerToken, Reason: "x"}); !errors.Is(err, publish.ErrNotPublished) {
		t.Errorf("retract an unpublished job: %v, want ErrNotPublished", err)
	}
	at := t1.Add(72 * time.Hour)
	lb, err := publish.Retract(ctx, store, "job-b", publish.Retraction{By: "alice", Via: publish.ViaMaintainerToken, Reason: "power meter <miscalibrated>", At: at})
	if err != nil {
		t.Fatal(err)
	}
	if lb2, err := publish.LoadResults(ctx, store); err != nil || len(lb2.Results) != len(lb.Results) {
		t.Fatalf("results.json after retraction: %v", err)
	}
	raw, _ := store.GetBytes(ctx, publish.ResultsKey, 16<<20)
	if strings.Contains(string(raw), "job-b") {
		t.Errorf("results.json still names the retracted job")
	}
	if len(lb.Results) != 1 || lb.Results[0].Job != "job-a" {
		t.Errorf("latest after retraction: %+v, want job-a again", lb.Results)
	}
	for _, key := range []string{publish.SiteIndexKey, publish.SitePrefix + "results.json", publish.SitePrefix + "results.csv"} {
		b, err := store.GetBytes(ctx, key, 16<<20)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "job-b") {
			t.Errorf("%s still shows the retracted job", key)
		}
	}
	page, err := store.GetBytes(ctx, publish.SitePrefix+"results/job-b/1.html", 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(page), "retracted") || !strings.Contains(string(page), "power meter &lt;miscalibrated&gt;") || strings.Contains(string(page), "<miscalibrated>") {
		t.Errorf("the retracted job's page is not an escaped notice:\n%s", page)
	}
	hist, err := store.GetBytes(ctx, publish.HistoryPrefix+"2026-11-03-job-b.json", 16<<20)
	if err != nil {
		t.Fatal(err)
	}
	var entry struct {
		Job       string             `json:"job"`
		Results   []publish.Result   `json:"results"`
		Retracted publish.Retraction `json:"retracted"`
	}
	if err := json.Unmarshal(hist, &entry); err != nil {
		t.Fatal(err)
	}
	want := publish.Retraction{By: "alice", Via: publish.ViaMaintainerToken, Reason: "power meter <miscalibrated>", At: at}
	if entry.Job != "job-b" || len(entry.Results) == 0 || entry.Retracted != want {
		t.Errorf("history entry: job %s, %d results, retracted %+v; want %+v", entry.Job, len(entry.Results), entry.Retracted, want)
	}
	if _, err := publish.Retract(ctx, store, "job-b", want); !errors.Is(err, publish.ErrNotPublished) {
		t.Errorf("retract twice: %v, want ErrNotPublished", err)
	}
}

// TestResultsWithoutApprovalIdentityLoad: a results.json written before
// approvals carried an identity still loads.
func TestResultsWithoutApprovalIdentityLoad(t *testing.T) {
	ctx := context.Background()
	store := blobtest.Store(t)
	old := `{"schema_version":1,"updated_at":"2026-11-01T10:00:00Z","results":[{"config":"a/b/m/s/f","job":"j1","attempt":1,"tier":"t","approved_by":"alice"}],"history":[{"config":"a/b/m/s/f","job":"j1","attempt":1,"tier":"t","approved_by":"alice"}]}`
	if err := store.PutBytes(ctx, publish.ResultsKey, []byte(old), "application/json"); err != nil {
		t.Fatal(err)
	}
	lb, err := publish.LoadResults(ctx, store)
	if err != nil || len(lb.Results) != 1 || lb.Results[0].ApprovedBy != "alice" || lb.Results[0].ApprovedVia != "" {
		t.Fatalf("old results.json: %v %+v", err, lb)
	}
}
