package publish

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"html/template"
	"math"
	"path"
	"slices"
	"strings"
)

// SiteCSP is the leaderboard's Content-Security-Policy: scripts and styles
// only from the site's own files (site.js, site.css), no inline code, no
// inline style, nothing from elsewhere. The server sends it as a header; the
// page carries it as a meta element too, for the copy in the bucket.
const SiteCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'"

// siteFiles are the page's template and the assets served beside it.
//
//go:embed site/index.html.tmpl site/site.js site/site.css
var siteFiles embed.FS

// SiteAsset is a file the page loads, served and published beside it.
type SiteAsset struct {
	Name        string // site.js, site.css
	ContentType string
	Data        []byte
}

// SiteAssets are the page's script and stylesheet.
func SiteAssets() []SiteAsset {
	var out []SiteAsset
	for _, a := range []struct{ name, ctype string }{
		{"site.css", "text/css; charset=utf-8"},
		{"site.js", "text/javascript; charset=utf-8"},
	} {
		data, err := siteFiles.ReadFile(path.Join("site", a.name))
		if err != nil {
			panic(err) // embedded above
		}
		out = append(out, SiteAsset{Name: a.name, ContentType: a.ctype, Data: data})
	}
	return out
}

// PublishSite writes the static leaderboard to the store: the assets, then
// the page (SiteIndexKey), so that a reader never gets a page whose assets
// are missing.
func PublishSite(ctx context.Context, store PublishStore, r *Leaderboard) error {
	html, err := RenderSite(r)
	if err != nil {
		return err
	}
	for _, a := range SiteAssets() {
		if err := store.PutBytes(ctx, SitePrefix+a.Name, a.Data, a.ContentType); err != nil {
			return fmt.Errorf("publish site: %w", err)
		}
	}
	if err := store.PutBytes(ctx, SiteIndexKey, html, "text/html; charset=utf-8"); err != nil {
		return fmt.Errorf("publish site: %w", err)
	}
	return nil
}

// RenderSite renders the leaderboard page: HTML with inline SVG charts that
// loads its style and its sorting script from site.css and site.js beside it
// (SiteAssets) — nothing inline, so SiteCSP holds, and nothing external, so
// it works offline and from a bucket.
func RenderSite(r *Leaderboard) ([]byte, error) {
	page := sitePage{UpdatedAt: r.UpdatedAt.Format("2006-01-02 15:04 UTC"), CSP: SiteCSP}
	groups := map[string]*siteGroup{}
	for _, res := range r.Results {
		k := res.Model + "\x00" + res.Tier
		g := groups[k]
		if g == nil {
			g = &siteGroup{ID: fmt.Sprintf("g%d", len(page.Groups)), Model: res.Model, Tier: res.Tier,
				TierText: fmt.Sprintf("≥ %g tok/s, TTFT ≤ %g s", res.MinDecodeTPS, res.MaxTTFTS)}
			groups[k] = g
			page.Groups = append(page.Groups, g)
		}
		g.Rows = append(g.Rows, res)
	}
	for _, g := range page.Groups {
		g.Bars = barChart(g.Rows)
	}
	page.Curves = tierCurves(r.Results)
	page.History = historyCharts(r.History)
	var b bytes.Buffer
	if err := siteTmpl.Execute(&b, page); err != nil {
		return nil, fmt.Errorf("render site: %w", err)
	}
	return b.Bytes(), nil
}

type sitePage struct {
	CSP       string
	UpdatedAt string
	Groups    []*siteGroup
	Curves    *svgChart
	History   []*svgChart
}

type siteGroup struct {
	ID, Model, Tier, TierText string
	Rows                      []Result
	Bars                      *svgChart
}

// svgChart is a precomputed chart: the template only places shapes.
type svgChart struct {
	Title  string
	Width  int
	Height int
	Bars   []svgBar
	Lines  []svgLine
	Labels []svgText
}

type svgBar struct {
	X, Y, W, H float64
	Label      string
	Value      float64
	Simulated  bool
}

type svgLine struct {
	Name   string
	Points string
	Color  string
	Class  string // the legend's colour, from site.css
	Dots   []svgDot
}

type svgDot struct {
	X, Y  float64
	Title string
}

type svgText struct {
	X, Y float64
	Text string
}

// palette colours the curves; site.css has the same colours as classes
// c0…c7 for the legend.
var palette = []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"}

// barChart is Agents/MW by system for one model and tier.
func barChart(rows []Result) *svgChart {
	c := &svgChart{Title: "Agents/MW by system", Width: 760, Height: 40 + 28*len(rows)}
	top := 0.0
	for _, r := range rows {
		top = max(top, r.AgentsPerMW)
	}
	if top == 0 {
		top = 1
	}
	for i, r := range rows {
		w := 400 * r.AgentsPerMW / top
		label := r.System + " · " + r.Framework
		if r.Simulated {
			label += " (simulated)"
		}
		c.Bars = append(c.Bars, svgBar{X: 220, Y: float64(20 + 28*i), W: w, H: 20, Label: label, Value: r.AgentsPerMW, Simulated: r.Simulated})
	}
	return c
}

// tierCurves is the service-level curve: max agents at each tier, one line
// per system (and config), tiers ordered from the loosest.
func tierCurves(rs []Result) *svgChart {
	if len(rs) == 0 {
		return nil
	}
	type tierKey struct {
		name string
		tps  float64
	}
	var tiers []tierKey
	for _, r := range rs {
		if !slices.ContainsFunc(tiers, func(t tierKey) bool { return t.name == r.Tier }) {
			tiers = append(tiers, tierKey{r.Tier, r.MinDecodeTPS})
		}
	}
	slices.SortFunc(tiers, func(a, b tierKey) int {
		switch {
		case a.tps < b.tps:
			return -1
		case a.tps > b.tps:
			return 1
		}
		return strings.Compare(a.name, b.name)
	})
	c := &svgChart{Title: "Max agents by tier (service-level curve)", Width: 640, Height: 300}
	top := 1.0
	for _, r := range rs {
		top = max(top, float64(r.MaxAgents))
	}
	x := func(i int) float64 {
		if len(tiers) == 1 {
			return 320
		}
		return 60 + 520*float64(i)/float64(len(tiers)-1)
	}
	y := func(v float64) float64 { return 260 - 220*v/top }
	for i, t := range tiers {
		c.Labels = append(c.Labels, svgText{X: x(i), Y: 285, Text: t.name})
	}
	c.Labels = append(c.Labels, svgText{X: 30, Y: y(top), Text: fmt.Sprint(int(top))})
	bySystem := map[string][]Result{}
	var names []string
	for _, r := range rs {
		k := r.System + " · " + r.Model + " · " + r.Framework
		if _, ok := bySystem[k]; !ok {
			names = append(names, k)
		}
		bySystem[k] = append(bySystem[k], r)
	}
	for n, name := range names {
		l := svgLine{Name: name, Color: palette[n%len(palette)], Class: fmt.Sprintf("c%d", n%len(palette))}
		var pts []string
		for i, t := range tiers {
			for _, r := range bySystem[name] {
				if r.Tier == t.name {
					px, py := x(i), y(float64(r.MaxAgents))
					pts = append(pts, fmt.Sprintf("%.1f,%.1f", px, py))
					l.Dots = append(l.Dots, svgDot{X: px, Y: py, Title: fmt.Sprintf("%s %s: %d agents", name, t.name, r.MaxAgents)})
				}
			}
		}
		l.Points = strings.Join(pts, " ")
		c.Lines = append(c.Lines, l)
	}
	return c
}

// historyCharts are Agents/MW over time, one chart per config and tier.
func historyCharts(hist []Result) []*svgChart {
	by := map[string][]Result{}
	var keys []string
	for _, h := range hist {
		k := h.Config + " · " + h.Tier
		if _, ok := by[k]; !ok {
			keys = append(keys, k)
		}
		by[k] = append(by[k], h)
	}
	var out []*svgChart
	for _, k := range keys {
		hs := by[k]
		c := &svgChart{Title: k, Width: 640, Height: 200}
		t0, t1 := hs[0].Date.Unix(), hs[len(hs)-1].Date.Unix()
		top := 1.0
		for _, h := range hs {
			top = max(top, h.AgentsPerMW)
		}
		l := svgLine{Name: k, Color: palette[0]}
		var pts []string
		for i, h := range hs {
			px := 320.0
			if t1 > t0 {
				px = 60 + 520*float64(h.Date.Unix()-t0)/float64(t1-t0)
			} else if len(hs) > 1 {
				px = 60 + 520*float64(i)/float64(len(hs)-1)
			}
			py := 170 - 140*h.AgentsPerMW/top
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px, py))
			l.Dots = append(l.Dots, svgDot{X: px, Y: py, Title: fmt.Sprintf("%s: %.0f Agents/MW (job %s)", h.Date.Format("2006-01-02"), h.AgentsPerMW, h.Job)})
			c.Labels = append(c.Labels, svgText{X: px, Y: 192, Text: h.Date.Format("01-02 15:04")})
		}
		l.Points = strings.Join(pts, " ")
		c.Lines = append(c.Lines, l)
		out = append(out, c)
	}
	return out
}

var siteTmpl = template.Must(template.New("index.html.tmpl").Funcs(template.FuncMap{
	"num": func(v float64) string {
		switch {
		case v == 0:
			return "0"
		case math.Abs(v) >= 100:
			return fmt.Sprintf("%.0f", v)
		case math.Abs(v) >= 1:
			return fmt.Sprintf("%.2f", v)
		}
		return fmt.Sprintf("%.4f", v)
	},
	"date": func(r Result) string { return r.Date.Format("2006-01-02") },
	"add":  func(a, b float64) float64 { return a + b },
	"sub":  func(a, b float64) float64 { return a - b },
}).ParseFS(siteFiles, "site/index.html.tmpl"))
