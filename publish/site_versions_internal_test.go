package publish

import (
	"strings"
	"testing"
	"time"

	"github.com/agentwatt/agentwatt/metrics"
)

// TestRunsChartMedianWithSpread: a run measured three times at N_max is
// plotted at the median Agents/MW of its windows with their min–max as an
// error bar, not at its confirmation window's; a run of one window is
// plotted at its figure with no bar; max agents have no bar.
func TestRunsChartMedianWithSpread(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2026, 11, d, 9, 0, 0, 0, time.UTC) }
	one := Result{Job: "j1", Tier: "t20", Framework: "sim", FrameworkVersion: "1", AgentsPerMW: 1000, MaxAgents: 12, Date: day(1)}
	three := Result{Job: "j2", Tier: "t20", Framework: "sim", FrameworkVersion: "2", AgentsPerMW: 820, MaxAgents: 12, Date: day(2),
		Repeats: 3, AgentsPerMWSpread: &metrics.Spread{Min: 760, Median: 800, Max: 830},
		Change: &Change{Kind: metrics.Regression, Change: -0.2, PreviousVersion: "1"}}
	charts := runsCharts([]configRun{{siteRow: siteRow{Result: one}}, {siteRow: siteRow{Result: three}}})
	if len(charts) != 2 {
		t.Fatalf("%d charts, want 2", len(charts))
	}
	var line, marker *lineSeries
	for i, s := range charts[0].Series {
		switch s.Name {
		case "tier t20":
			line = &charts[0].Series[i]
		case markerRegression:
			marker = &charts[0].Series[i]
		}
	}
	if line == nil || marker == nil {
		t.Fatalf("Agents/MW series %+v", charts[0].Series)
	}
	if got := *line.Values[0]; got != 1000 {
		t.Errorf("one window: %g, want its figure 1000", got)
	}
	if got := *line.Values[1]; got != 800 {
		t.Errorf("three windows: %g, want their median 800 (not the confirmation's 820)", got)
	}
	if got := *marker.Values[1]; got != 800 {
		t.Errorf("regression marker at %g, want on the median 800", got)
	}
	if len(line.Low) != 2 || line.Low[0] != nil || line.High[0] != nil {
		t.Fatalf("one window has a bar: low %v high %v", line.Low, line.High)
	}
	if *line.Low[1] != 760 || *line.High[1] != 830 {
		t.Errorf("bar %g–%g, want 760–830", *line.Low[1], *line.High[1])
	}
	if !strings.Contains(line.Notes[1], "median of 3 windows, 760–830") {
		t.Errorf("note %q does not say the median and spread", line.Notes[1])
	}
	if marker.Low != nil {
		t.Errorf("the marker series has a bar")
	}
	for _, s := range charts[1].Series {
		if s.Low != nil || s.High != nil {
			t.Errorf("max agents series %q has a bar", s.Name)
		}
	}
}
