package verifier

import (
	"bytes"
	"fmt"
	"html/template"
	"math"
	"slices"
	"strings"
)

// RenderSite renders the leaderboard: one self-contained HTML page with
// inline CSS, inline SVG charts and a few lines of inline script for
// sorting — no external asset, so it works offline and from a bucket.
func RenderSite(r *Leaderboard) ([]byte, error) {
	page := sitePage{UpdatedAt: r.UpdatedAt.Format("2006-01-02 15:04 UTC")}
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
		l := svgLine{Name: name, Color: palette[n%len(palette)]}
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

var siteTmpl = template.Must(template.New("site").Funcs(template.FuncMap{
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
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>agentwatt leaderboard</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}
th,td{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left;font-size:14px}
th{cursor:pointer;background:#f4f4f4}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.badge{background:#fde68a;color:#7c2d12;border-radius:4px;padding:1px 6px;font-size:12px;white-space:nowrap}
code{font-size:12px;background:#f4f4f4;padding:1px 4px}
svg text{font-size:12px}
</style></head><body>
<h1>agentwatt leaderboard</h1>
<p>Agents per megawatt: the most simultaneous agents served inside the tier's service level, divided by the measured power. Every number here was recomputed from the raw traces by the verifier and approved by a maintainer; each row shows the command that recomputes it. Updated {{.UpdatedAt}}.</p>
{{if not .Groups}}<p id="empty">No results published yet.</p>{{end}}
{{range .Groups}}
<section class="group" id="{{.ID}}" data-model="{{.Model}}" data-tier="{{.Tier}}">
<h2>{{.Model}} — tier {{.Tier}} ({{.TierText}})</h2>
<table class="results sortable"><thead><tr>
<th>System</th><th>Submission</th><th>Framework</th><th data-num>Max agents</th><th data-num>Agents/MW</th><th data-num>Agents/GPU</th><th data-num>Output tok/s</th><th data-num>J/token</th><th data-num>Avg power W</th><th>Power boundary</th><th>Rules</th><th>Date</th><th>Evidence</th>
</tr></thead><tbody>
{{range .Rows}}<tr class="result-row" data-job="{{.Job}}" data-agents-per-mw="{{printf "%.6f" .AgentsPerMW}}" data-max-agents="{{.MaxAgents}}">
<td>{{.System}}{{if .Simulated}} <span class="badge">simulated — not hardware</span>{{else if not .Hardware}} <span class="badge">{{.Profile}} profile — not official</span>{{end}}</td>
<td>{{.Vendor}}/{{.Name}}</td><td>{{.Framework}} {{.FrameworkVersion}}</td>
<td class="n">{{.MaxAgents}}</td><td class="n agents-per-mw">{{num .AgentsPerMW}}</td><td class="n">{{num .AgentsPerGPU}}</td><td class="n">{{num .OutputTokensPerS}}</td><td class="n">{{num .JoulesPerToken}}</td><td class="n">{{num .AvgPowerW}}</td>
<td>{{.PowerBoundary}}</td><td>{{.RulesVersion}}/{{.Profile}}</td><td>{{date .}}</td>
<td><a href="{{.Verdict}}">verdict</a> · <a href="{{.Bundle}}">bundle</a><br><code>{{.VerifyCommand}}</code></td>
</tr>{{end}}
</tbody></table>
{{with .Bars}}<h3>{{.Title}}</h3>
<svg class="chart bars" width="{{.Width}}" height="{{.Height}}" viewBox="0 0 {{.Width}} {{.Height}}" role="img">
{{range .Bars}}<g class="bar" data-value="{{printf "%.6f" .Value}}"><text x="{{printf "%.1f" (sub .X 6)}}" y="{{printf "%.1f" (add .Y 15)}}" text-anchor="end">{{.Label}}</text><rect x="{{.X}}" y="{{.Y}}" width="{{printf "%.1f" .W}}" height="{{.H}}" fill="{{if .Simulated}}#f59e0b{{else}}#2563eb{{end}}"><title>{{.Label}}: {{num .Value}} Agents/MW</title></rect><text x="{{printf "%.1f" (add (add .X .W) 4)}}" y="{{printf "%.1f" (add .Y 15)}}">{{num .Value}}</text></g>
{{end}}</svg>{{end}}
</section>
{{end}}
{{with .Curves}}<section id="curves"><h2>{{.Title}}</h2>
<svg class="chart curves" width="{{.Width}}" height="{{.Height}}" viewBox="0 0 {{.Width}} {{.Height}}" role="img">
<line x1="60" y1="260" x2="580" y2="260" stroke="#999"/>
{{range .Labels}}<text x="{{.X}}" y="{{.Y}}" text-anchor="middle">{{.Text}}</text>{{end}}
{{range .Lines}}<g class="curve" data-name="{{.Name}}"><polyline points="{{.Points}}" fill="none" stroke="{{.Color}}" stroke-width="2"/>{{$c := .Color}}{{range .Dots}}<circle cx="{{printf "%.1f" .X}}" cy="{{printf "%.1f" .Y}}" r="4" fill="{{$c}}"><title>{{.Title}}</title></circle>{{end}}</g>{{end}}
</svg>
<ul>{{range .Lines}}<li style="color:{{.Color}}">{{.Name}}</li>{{end}}</ul></section>{{end}}
{{if .History}}<section id="history"><h2>History per config</h2>
{{range .History}}<h3>{{.Title}}</h3>
<svg class="chart history" width="{{.Width}}" height="{{.Height}}" viewBox="0 0 {{.Width}} {{.Height}}" role="img">
{{range .Labels}}<text x="{{.X}}" y="{{.Y}}" text-anchor="middle">{{.Text}}</text>{{end}}
{{range .Lines}}<polyline points="{{.Points}}" fill="none" stroke="{{.Color}}" stroke-width="2"/>{{$c := .Color}}{{range .Dots}}<circle class="point" cx="{{printf "%.1f" .X}}" cy="{{printf "%.1f" .Y}}" r="4" fill="{{$c}}"><title>{{.Title}}</title></circle>{{end}}{{end}}
</svg>{{end}}</section>{{end}}
<script>
document.querySelectorAll('table.sortable').forEach(function(t){
  t.querySelectorAll('th').forEach(function(th,i){
    var asc=false;
    th.addEventListener('click',function(){
      asc=!asc;
      var rows=Array.prototype.slice.call(t.tBodies[0].rows);
      var num=th.hasAttribute('data-num');
      rows.sort(function(a,b){
        var x=a.cells[i].textContent.trim(), y=b.cells[i].textContent.trim();
        var c=num?(parseFloat(x)-parseFloat(y)):x.localeCompare(y);
        return asc?c:-c;
      });
      rows.forEach(function(r){t.tBodies[0].appendChild(r)});
    });
  });
});
</script>
</body></html>
`))
