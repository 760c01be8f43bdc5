package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"strings"

	"github.com/agentwatt/agentwatt/internal/uplot"
)

//go:embed report.html.tmpl
var htmlSource string

var htmlTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"ms":     func(v float64) string { return fmt.Sprintf("%.0f", v*1e3) },
	"ms1":    func(v float64) string { return fmt.Sprintf("%.1f", v*1e3) },
	"f2":     func(v float64) string { return fmt.Sprintf("%.2f", v) },
	"f1":     func(v float64) string { return fmt.Sprintf("%.1f", v) },
	"yesNo":  yesNo,
	"tierOf": func(p Probe, id string) string { return p.tierCell(id) },
}).Parse(htmlSource))

// chartData is what the page's script plots, per probe in order.
type chartData struct {
	Probe  []int                `json:"probe"`
	Agents []int                `json:"agents"`
	Series map[string][]float64 `json:"series"` // "ttft_p50" (ms), "itl_p90" (ms), "e2e_p99" (s), "decode_p50" (tok/s), "pass_t20" (%)
	Tiers  []string             `json:"tiers"`
}

func (r *Report) chartData() chartData {
	d := chartData{Series: map[string][]float64{}, Tiers: r.tierIDs()}
	add := func(k string, v float64) { d.Series[k] = append(d.Series[k], v) }
	for _, p := range r.Probes {
		if !p.HasWindow {
			continue
		}
		s := p.Stats
		d.Probe, d.Agents = append(d.Probe, p.Index), append(d.Agents, p.Agents)
		add("ttft_p50", s.TTFTS.P50*1e3)
		add("ttft_p90", s.TTFTS.P90*1e3)
		add("ttft_p99", s.TTFTS.P99*1e3)
		add("itl_p50", s.ITLS.P50*1e3)
		add("itl_p90", s.ITLS.P90*1e3)
		add("itl_p99", s.ITLS.P99*1e3)
		add("e2e_p50", s.E2ES.P50)
		add("e2e_p90", s.E2ES.P90)
		add("e2e_p99", s.E2ES.P99)
		add("decode_p50", s.DecodeTPS.P50)
		add("decode_p90", s.DecodeTPS.P90)
		add("decode_p99", s.DecodeTPS.P99)
		for _, id := range d.Tiers {
			v := 0.0
			for _, t := range p.Tiers {
				if t.ID == id {
					v = 100 * t.MetShare
				}
			}
			add("pass_"+id, v)
		}
	}
	return d
}

// HTML writes report.html: the tables (readable without JavaScript) and
// charts of each percentile per probe, with uPlot and the data inline.
func (r *Report) HTML(w io.Writer) error {
	return htmlTemplate.Execute(w, struct {
		R     *Report
		IDs   []string
		Data  chartData
		JS    template.JS
		CSS   template.CSS
		Title string
		// EnergyNote is energyNote without its Markdown.
		EnergyNote string
	}{r, r.tierIDs(), r.chartData(), template.JS(uplot.JS), template.CSS(uplot.CSS), "agentwatt " + r.Kind + " report",
		strings.ReplaceAll(energyNote, "`", "")})
}
