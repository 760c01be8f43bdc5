package publish_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/agentwatt/agentwatt/blob/blobtest"
	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/metrics"
	"github.com/agentwatt/agentwatt/publish"
)

// withSpread gives every tier of v a spread over three windows of Agents/MW
// from lo to hi times its figure.
func withSpread(v *bundle.Verdict, lo, hi float64) *bundle.Verdict {
	for i := range v.Results.Tiers {
		t := &v.Results.Tiers[i]
		mw := metrics.Spread{Min: lo * t.AgentsPerMW, Median: t.AgentsPerMW, Max: hi * t.AgentsPerMW}
		t.Repeats = &bundle.RepeatSpread{Probes: []int{t.ConfirmProbe, 10, 11}, MetShare: metrics.Spread{Min: 0.97, Median: 0.99, Max: 1}, AgentsPerMW: &mw}
	}
	return v
}

// TestRegressionWithinSpread: a result 20% below the previous version's is
// a regression when both are single runs, and not one when either's
// repeats spread more than that; the leaderboard shows the spread.
func TestRegressionWithinSpread(t *testing.T) {
	ctx := context.Background()
	v := verdictOf(t)
	for _, tc := range []struct {
		name       string
		lo, hi     float64 // the previous result's spread, times its Agents/MW; 0: one run
		regression bool
	}{
		{"single runs", 0, 0, true},
		{"a spread narrower than the change", 0.95, 1.05, true},
		{"a spread wider than the change", 0.85, 1.15, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := blobtest.Store(t)
			for i, r := range []run{{"j1", "1.0", 1}, {"j2", "1.1", 0.8}} {
				vv := scaled(t, v, r.job, r.f)
				if tc.lo > 0 && r.job == "j1" {
					vv = withSpread(vv, tc.lo, tc.hi)
				}
				lb, err := publish.Publish(ctx, store, publish.PublishInput{Job: jobAt(vv, r.job, r.version), Verdict: vv, Local: true,
					Approval: publish.Approval{By: "maint", At: time.Date(2026, 11, 1+i, 9, 0, 0, 0, time.UTC)}})
				if err != nil {
					t.Fatal(err)
				}
				if r.job != "j2" {
					continue
				}
				cs := changesOf(lb, "j2")
				if got := len(cs) > 0 && cs[0] != nil && cs[0].Kind == metrics.Regression; got != tc.regression {
					t.Errorf("j2 changes %+v: regression %v, want %v", cs, got, tc.regression)
				}
				if tc.lo == 0 {
					continue
				}
				var j1 publish.Result
				for _, h := range lb.History {
					if h.Job == "j1" {
						j1 = h
					}
				}
				if j1.Repeats != 3 || j1.AgentsPerMWSpread == nil || j1.MetShareSpread == nil || j1.MetShareSpread.Min != 0.97 {
					t.Fatalf("j1 in results.json: repeats %d, spreads %+v %+v", j1.Repeats, j1.AgentsPerMWSpread, j1.MetShareSpread)
				}
				want := j1.AgentsPerMWText()
				if !strings.Contains(want, "–") || !strings.HasPrefix(want, fmt.Sprintf("%.0f (", j1.AgentsPerMWSpread.Median)) {
					t.Errorf("Agents/MW text %q, want median (min–max)", want)
				}
				if csv := page(t, store, publish.SitePrefix+"results.csv"); !strings.Contains(strings.SplitN(csv, "\n", 2)[0], ",repeats,agents_per_mw_min,agents_per_mw_median,agents_per_mw_max") {
					t.Errorf("results.csv header: %q", strings.SplitN(csv, "\n", 2)[0])
				}
				// Its page shows it in the tier table and the runs table.
				if p := page(t, store, publish.SitePrefix+"results/j1/1.html"); strings.Count(p, want) < 2 {
					t.Errorf("j1's page shows %q %d times, want the tier row and the run row", want, strings.Count(p, want))
				}
			}
		})
	}
}
