package publish

import (
	"fmt"
	"slices"
	"strings"

	"github.com/agentwatt/agentwatt/internal/termtext"
	"github.com/agentwatt/agentwatt/metrics"
)

// configRun is one run (a job's tier) of the result page's configuration,
// published or retracted, for the page's table of runs.
type configRun struct {
	siteRow
	Current                   bool // the page's own job
	RetractedOn, RetractedWhy string
}

// configRunsOf are every run of config, published (lb's history) and
// retracted (rets), in publication order, with their links; a retracted
// run has none: its evidence left the site.
func configRunsOf(lb *Leaderboard, rets *Retractions, config, job string, l links) []configRun {
	var out []configRun
	for _, h := range lb.History {
		if h.Config == config {
			out = append(out, configRun{siteRow: rowOf(visibleResult(h), l), Current: h.Job == job})
		}
	}
	if rets != nil {
		for _, x := range rets.Retracted {
			if x.Result.Config == config {
				out = append(out, configRun{siteRow: siteRow{Result: visibleResult(x.Result)}, Current: x.Result.Job == job,
					RetractedOn: x.Retraction.At.Format("2006-01-02"), RetractedWhy: termtext.Escape(x.Retraction.Reason)})
			}
		}
	}
	slices.SortStableFunc(out, func(a, b configRun) int {
		if c := a.Date.Compare(b.Date); c != 0 {
			return c
		}
		return strings.Compare(a.Tier, b.Tier)
	})
	return out
}

// Markers of the runs charts: series drawn as points only (site.js).
const (
	markerRegression  = "regression"
	markerImprovement = "improvement"
	markerRetracted   = "retracted"
)

// runsCharts are Agents/MW and max agents of a config's runs against the
// date published, a line per tier, each point noting its framework version
// and job, with marker series for the regressions, improvements and
// retracted runs. A run measured more than once at N_max (repeats) is
// plotted at the median Agents/MW of its windows with their min–max as an
// error bar, not at its confirmation window's.
func runsCharts(runs []configRun) []lineChart {
	if len(runs) == 0 {
		return nil
	}
	mw := lineChart{ID: "runs-mw", Title: "Agents/MW of every run, by framework version", XLabel: "date published (UTC)", YLabel: "Agents/MW", XTime: true}
	agents := lineChart{ID: "runs-agents", Title: "Max agents of every run, by framework version", XLabel: "date published (UTC)", YLabel: "max agents", XTime: true}
	var xs []float64
	for _, r := range runs {
		if x := float64(r.Date.Unix()); !slices.Contains(xs, x) {
			xs = append(xs, x)
		}
	}
	slices.Sort(xs)
	for _, c := range []struct {
		chart  *lineChart
		y      func(Result) float64
		spread func(Result) *metrics.Spread
	}{{&mw, func(r Result) float64 {
		if s := repeatSpread(r); s != nil {
			return s.Median
		}
		return r.AgentsPerMW
	}, repeatSpread}, {&agents, func(r Result) float64 { return float64(r.MaxAgents) }, func(Result) *metrics.Spread { return nil }}} {
		c.chart.X = xs
		series := func(name, marker string) *lineSeries {
			i := slices.IndexFunc(c.chart.Series, func(s lineSeries) bool { return s.Name == name })
			if i < 0 {
				i = len(c.chart.Series)
				c.chart.Series = append(c.chart.Series, lineSeries{Name: name, Marker: marker, Values: make([]*float64, len(xs)), Notes: make([]string, len(xs))})
			}
			return &c.chart.Series[i]
		}
		for _, r := range runs {
			if r.RetractedOn == "" {
				series("tier "+r.Tier, "")
			}
		}
		for _, r := range runs {
			k := slices.Index(xs, float64(r.Date.Unix()))
			y := c.y(r.Result)
			note := strings.TrimSpace(r.Framework+" "+r.FrameworkVersion) + ", job " + r.Job
			sp := c.spread(r.Result)
			if sp != nil {
				note += fmt.Sprintf(", median of %d windows, %.0f–%.0f", r.Repeats, sp.Min, sp.Max)
			}
			put := func(s *lineSeries, note string) {
				s.Values[k] = &y
				s.Notes[k] = note
				if sp != nil && s.Marker == "" {
					if s.Low == nil {
						s.Low, s.High = make([]*float64, len(xs)), make([]*float64, len(xs))
					}
					lo, hi := sp.Min, sp.Max
					s.Low[k], s.High[k] = &lo, &hi
				}
			}
			switch {
			case r.RetractedOn != "":
				put(series(markerRetracted, markerRetracted), fmt.Sprintf("tier %s, %s, retracted %s", r.Tier, note, r.RetractedOn))
				continue
			case r.Change != nil && r.Change.Kind == metrics.Regression:
				put(series(markerRegression, markerRegression), fmt.Sprintf("tier %s, %+.1f%% against %s", r.Tier, 100*r.Change.Change, r.Change.PreviousVersion))
			case r.Change != nil && r.Change.Kind == metrics.Improvement:
				put(series(markerImprovement, markerImprovement), fmt.Sprintf("tier %s, %+.1f%% against %s", r.Tier, 100*r.Change.Change, r.Change.PreviousVersion))
			}
			put(series("tier "+r.Tier, ""), note)
		}
	}
	return []lineChart{mw, agents}
}

// repeatSpread is r's Agents/MW across its windows at N_max when it was
// measured more than once there (benchmark.repeats); nil otherwise.
func repeatSpread(r Result) *metrics.Spread {
	if r.Repeats > 1 && r.AgentsPerMWSpread != nil {
		return r.AgentsPerMWSpread
	}
	return nil
}
