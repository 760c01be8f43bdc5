package publish

import (
	"fmt"
	"slices"
	"strings"
)

// siteCharts is the chart data of the leaderboard, written into the page
// as a JSON block that site.js hands to uPlot. Every chart names its axes
// and units here, so the page and its tests agree on them.
type siteCharts struct {
	Bars    []barChart  `json:"bars"`
	Curve   *lineChart  `json:"curve,omitempty"`
	Pareto  *lineChart  `json:"pareto,omitempty"`
	History []lineChart `json:"history"`
}

// barChart is Agents/MW by system for one model and tier.
type barChart struct {
	ID     string    `json:"id"` // the group's section
	Title  string    `json:"title"`
	XLabel string    `json:"x_label"`
	YLabel string    `json:"y_label"`
	Labels []string  `json:"labels"` // one per bar
	Values []float64 `json:"values"`
	Sim    []bool    `json:"simulated"`
}

// lineChart is one x axis and a series per line; a missing point is null.
type lineChart struct {
	ID     string       `json:"id"`
	Title  string       `json:"title"`
	XLabel string       `json:"x_label"`
	YLabel string       `json:"y_label"`
	XTime  bool         `json:"x_time,omitempty"` // x is seconds since 1970
	X      []float64    `json:"x"`
	Series []lineSeries `json:"series"`
}

type lineSeries struct {
	Name   string     `json:"name"`
	Values []*float64 `json:"values"`
	Notes  []string   `json:"notes,omitempty"` // per point, shown beside the value (framework version, job)
	// Marker: drawn as points only, a marker of its kind (regression,
	// improvement, retracted; site_versions.go).
	Marker string `json:"marker,omitempty"`
	// Low and High, when set, are per point the least and the most of the
	// windows the value is the median of (a run's repeats), drawn as an
	// error bar; nil where the point is one window.
	Low  []*float64 `json:"low,omitempty"`
	High []*float64 `json:"high,omitempty"`
}

func chartsOf(r *Leaderboard, groups []*siteGroup) siteCharts {
	c := siteCharts{Bars: []barChart{}, History: []lineChart{}}
	for _, g := range groups {
		b := barChart{ID: g.ID, Title: fmt.Sprintf("Agents/MW by system — %s, tier %s", g.Model, g.Tier),
			XLabel: "system · framework", YLabel: "Agents/MW"}
		for _, row := range g.Rows {
			b.Labels = append(b.Labels, row.System+" · "+row.Framework+" "+row.FrameworkVersion)
			b.Values = append(b.Values, row.AgentsPerMW)
			b.Sim = append(b.Sim, row.Simulated)
		}
		c.Bars = append(c.Bars, b)
	}
	c.Curve = serviceCurve(r.Results)
	var pts []point
	for _, x := range r.Results {
		if x.MaxAgents > 0 && x.GPUs > 0 {
			pts = append(pts, point{Series: x.System + " · " + x.Model + " · " + x.Framework + " " + x.FrameworkVersion,
				X: x.OutputTokensPerS / float64(x.MaxAgents), Y: x.OutputTokensPerS / float64(x.GPUs), Note: fmt.Sprintf("tier %s, N=%d", x.Tier, x.MaxAgents)})
		}
	}
	c.Pareto = scatter("pareto", "Throughput per GPU against per-agent speed", "output tok/s per agent", "output tok/s per GPU", pts)
	c.History = historyCharts(r.History)
	return c
}

// serviceCurve is the service-level curve: max agents against the tier's
// minimum decode rate, one line per system and config.
func serviceCurve(rs []Result) *lineChart {
	if len(rs) == 0 {
		return nil
	}
	var xs []float64
	for _, r := range rs {
		if !slices.Contains(xs, r.MinDecodeTPS) {
			xs = append(xs, r.MinDecodeTPS)
		}
	}
	slices.Sort(xs)
	c := &lineChart{ID: "curve", Title: "Service-level curve: max agents against tier speed",
		XLabel: "tier: minimum decode rate per agent (tok/s)", YLabel: "max agents", X: xs}
	idx := map[string]int{}
	for _, r := range rs {
		name := r.System + " · " + r.Model + " · " + r.Framework + " " + r.FrameworkVersion
		i, ok := idx[name]
		if !ok {
			i = len(c.Series)
			idx[name] = i
			c.Series = append(c.Series, lineSeries{Name: name, Values: make([]*float64, len(xs)), Notes: make([]string, len(xs))})
		}
		k := slices.Index(xs, r.MinDecodeTPS)
		v := float64(r.MaxAgents)
		c.Series[i].Values[k] = &v
		c.Series[i].Notes[k] = "tier " + r.Tier
	}
	return c
}

// historyCharts are Agents/MW against the date of each published result,
// one chart per config with a line per tier; each point notes the
// framework version it ran.
func historyCharts(hist []Result) []lineChart {
	var out []lineChart
	byConfig := map[string]int{}
	for _, h := range hist {
		i, ok := byConfig[h.Config]
		if !ok {
			i = len(out)
			byConfig[h.Config] = i
			out = append(out, lineChart{ID: fmt.Sprintf("h%d", i), Title: "History: " + strings.ReplaceAll(h.Config, "/", " / "),
				XLabel: "date published (UTC)", YLabel: "Agents/MW", XTime: true})
		}
		c := &out[i]
		x := float64(h.Date.Unix())
		if !slices.Contains(c.X, x) {
			c.X = append(c.X, x)
		}
	}
	for i := range out {
		slices.Sort(out[i].X)
	}
	for _, h := range hist {
		c := &out[byConfig[h.Config]]
		si := slices.IndexFunc(c.Series, func(s lineSeries) bool { return s.Name == "tier "+h.Tier })
		if si < 0 {
			si = len(c.Series)
			c.Series = append(c.Series, lineSeries{Name: "tier " + h.Tier, Values: make([]*float64, len(c.X)), Notes: make([]string, len(c.X))})
		}
		k := slices.Index(c.X, float64(h.Date.Unix()))
		v := h.AgentsPerMW
		c.Series[si].Values[k] = &v
		c.Series[si].Notes[k] = strings.TrimSpace(h.Framework + " " + h.FrameworkVersion)
	}
	return out
}

// point is one point of a scatter: a series, its coordinates, a note.
type point struct {
	Series string
	X, Y   float64
	Note   string
}

// scatter lays points out as uPlot wants them: one sorted x axis, a
// series per name with null where it has no point; site.js joins each
// series' points left to right.
func scatter(id, title, xLabel, yLabel string, pts []point) *lineChart {
	if len(pts) == 0 {
		return nil
	}
	c := &lineChart{ID: id, Title: title, XLabel: xLabel, YLabel: yLabel}
	for _, p := range pts {
		if !slices.Contains(c.X, p.X) {
			c.X = append(c.X, p.X)
		}
	}
	slices.Sort(c.X)
	idx := map[string]int{}
	for _, p := range pts {
		i, ok := idx[p.Series]
		if !ok {
			i = len(c.Series)
			idx[p.Series] = i
			c.Series = append(c.Series, lineSeries{Name: p.Series, Values: make([]*float64, len(c.X)), Notes: make([]string, len(c.X))})
		}
		k := slices.Index(c.X, p.X)
		y := p.Y
		c.Series[i].Values[k] = &y
		c.Series[i].Notes[k] = p.Note
	}
	return c
}
