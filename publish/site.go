package publish

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"math"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/internal/termtext"
	"github.com/agentwatt/agentwatt/internal/uplot"
)

// SiteCSP is the leaderboard's Content-Security-Policy: scripts and styles
// only from the site's own files (site.js, uPlot, the stylesheets), no
// inline code, no inline style, nothing from elsewhere. The chart data
// rides in a <script type="application/json"> block, which is data and
// never runs. The server sends the policy as a header; each page carries it
// as a meta element too, for the copy in the bucket.
const SiteCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'"

// siteFiles are the pages' templates and the assets served beside them.
//
//go:embed site/*.tmpl site/site.js site/site.css
var siteFiles embed.FS

// SiteAsset is a file the pages load, served and published beside them.
type SiteAsset struct {
	Name        string // site.js, site.css, uPlot.iife.min.js …
	ContentType string
	Data        []byte
}

// SiteAssets are the pages' scripts, stylesheets and uPlot's licence
// (uPlot is internal/uplot's copy, the one the bench report inlines).
func SiteAssets() []SiteAsset {
	file := func(name string) []byte {
		data, err := siteFiles.ReadFile(path.Join("site", name))
		if err != nil {
			panic(err) // embedded above
		}
		return data
	}
	return []SiteAsset{
		{"site.css", "text/css; charset=utf-8", file("site.css")},
		{"uPlot.min.css", "text/css; charset=utf-8", []byte(uplot.CSS)},
		{"uPlot.iife.min.js", "text/javascript; charset=utf-8", []byte(uplot.JS)},
		{"site.js", "text/javascript; charset=utf-8", file("site.js")},
		{"uPlot.LICENSE", "text/plain; charset=utf-8", []byte(uplot.License)},
	}
}

// SiteOptions say where the static copy's evidence links point.
type SiteOptions struct {
	// EvidenceURL is the public base URL of the bucket that holds runs/
	// ("https://results.example.org/"); a page links a bundle file as
	// EvidenceURL + "runs/<job>/<attempt>/<file>". Empty: links relative
	// to the bucket's root, for a bucket served whole as a website.
	EvidenceURL string
}

// PublicStore is a PublishStore whose bucket is readable at a public URL:
// the static site links evidence there (SiteOptions.EvidenceURL).
type PublicStore struct {
	PublishStore
	URLBase string
}

// links is where a page's relative links lead: Root is the way up from the
// page to the site's root, Evidence the prefix of runs/ keys.
type links struct {
	Root     string
	Evidence string
}

// serverLinks are the links of a page served at depth path segments below
// the server's root, where /runs/ is the evidence route.
func serverLinks(depth int) links {
	up := strings.Repeat("../", depth)
	return links{Root: up, Evidence: up}
}

// staticLinks are the links of a page in the bucket's published/site/,
// depth segments below it.
func staticLinks(depth int, o SiteOptions) links {
	up := strings.Repeat("../", depth)
	if o.EvidenceURL != "" {
		return links{Root: up, Evidence: strings.TrimSuffix(o.EvidenceURL, "/") + "/"}
	}
	return links{Root: up, Evidence: up + strings.Repeat("../", strings.Count(SitePrefix, "/"))}
}

// evidenceURL is the link to one file of a result's bundle.
func (l links) evidenceURL(job string, attempt int, file string) string {
	return l.Evidence + bundle.Key(job, attempt, file)
}

// ResultPath is a result page's path below the site's root.
func ResultPath(job string, attempt int) string {
	return "results/" + job + "/" + strconv.Itoa(attempt) + ".html"
}

// PublishSite writes the static site to the store under SitePrefix: the
// assets, the downloads, the method page, a page per published result,
// then the leaderboard (SiteIndexKey), so that a reader never gets a page
// whose links are missing. A PublicStore's URL is where evidence links
// point.
func PublishSite(ctx context.Context, store PublishStore, r *Leaderboard) error {
	var o SiteOptions
	if ps, ok := store.(PublicStore); ok {
		o.EvidenceURL = ps.URLBase
	}
	put := func(name string, data []byte, ctype string) error {
		if err := store.PutBytes(ctx, SitePrefix+name, data, ctype); err != nil {
			return fmt.Errorf("publish site: %w", err)
		}
		return nil
	}
	for _, a := range SiteAssets() {
		if err := put(a.Name, a.Data, a.ContentType); err != nil {
			return err
		}
	}
	js, csv, err := Downloads(r)
	if err != nil {
		return err
	}
	if err := put("results.json", js, "application/json"); err != nil {
		return err
	}
	if err := put("results.csv", csv, "text/csv; charset=utf-8"); err != nil {
		return err
	}
	method, err := renderMethod(staticLinks(0, o))
	if err != nil {
		return err
	}
	if err := put("method.html", method, "text/html; charset=utf-8"); err != nil {
		return err
	}
	done := map[string]bool{}
	for _, res := range append(slices.Clone(r.Results), r.History...) {
		p := ResultPath(res.Job, res.Attempt)
		if done[p] || !validJob(res.Job) {
			continue
		}
		done[p] = true
		page, err := renderResult(ctx, store, r, res.Job, res.Attempt, staticLinks(2, o))
		if err != nil {
			return err
		}
		if err := put(p, page, "text/html; charset=utf-8"); err != nil {
			return err
		}
	}
	html, err := renderIndex(r, staticLinks(0, o))
	if err != nil {
		return err
	}
	if err := store.PutBytes(ctx, SiteIndexKey, html, "text/html; charset=utf-8"); err != nil {
		return fmt.Errorf("publish site: %w", err)
	}
	return nil
}

// RenderSite renders the leaderboard page as the server serves it at its
// root: tables, filters and chart data, loading its style and scripts from
// the files beside it (SiteAssets) — nothing inline, so SiteCSP holds, and
// nothing external, so it works offline.
func RenderSite(r *Leaderboard) ([]byte, error) { return renderIndex(r, serverLinks(0)) }

func renderIndex(r *Leaderboard, l links) ([]byte, error) {
	page := indexPage{pageBase: pageBase{CSP: SiteCSP, Links: l, Title: "agentwatt leaderboard"},
		UpdatedAt: r.UpdatedAt.Format("2006-01-02 15:04 UTC")}
	r = &Leaderboard{SchemaVersion: r.SchemaVersion, UpdatedAt: r.UpdatedAt, Results: visibleResults(r.Results), History: visibleResults(r.History)}
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
		g.Rows = append(g.Rows, rowOf(res, l))
	}
	page.Filters = filtersOf(r.Results)
	page.Charts = chartsOf(r, page.Groups)
	return execute("index.html.tmpl", page)
}

// pageBase is what every page's layout needs.
type pageBase struct {
	CSP   string
	Title string
	Links links
}

type indexPage struct {
	pageBase
	UpdatedAt string
	Groups    []*siteGroup
	Filters   []siteFilter
	Charts    siteCharts
}

type siteGroup struct {
	ID, Model, Tier, TierText string
	Rows                      []siteRow
}

// siteRow is a result with its links.
type siteRow struct {
	Result
	Page, VerdictURL, BundleURL, Verify string
}

func rowOf(r Result, l links) siteRow {
	if !validJob(r.Job) || r.Attempt < 1 {
		return siteRow{Result: r, Verify: verifyCommand(r)} // no link is better than a wrong one
	}
	return siteRow{Result: r, Page: l.Root + ResultPath(r.Job, r.Attempt),
		VerdictURL: l.evidenceURL(r.Job, r.Attempt, bundle.VerdictFile),
		BundleURL:  l.evidenceURL(r.Job, r.Attempt, bundle.ManifestFile),
		Verify:     verifyCommand(r)}
}

// verifyCommand is the command that recomputes a result from its bundle.
func verifyCommand(r Result) string {
	if r.VerifyCommand != "" {
		return r.VerifyCommand
	}
	return "agentwatt verify " + r.Bundle
}

// siteFilter is one filter's choices, read from the rows' data attributes
// by site.js.
type siteFilter struct {
	Key, Label string
	Values     []string
}

func filtersOf(rs []Result) []siteFilter {
	fs := []siteFilter{{Key: "model", Label: "Model"}, {Key: "system", Label: "Hardware"}, {Key: "framework", Label: "Framework"},
		{Key: "tier", Label: "Tier"}, {Key: "boundary", Label: "Power boundary"}, {Key: "kind", Label: "Result"}}
	for _, r := range rs {
		for i, v := range []string{r.Model, r.System, r.Framework, r.Tier, r.PowerBoundary, kindOf(r)} {
			if !slices.Contains(fs[i].Values, v) {
				fs[i].Values = append(fs[i].Values, v)
			}
		}
	}
	for i := range fs {
		slices.Sort(fs[i].Values)
	}
	return fs
}

// kindOf is what a result is: hardware, simulated, or not official.
func kindOf(r Result) string {
	switch {
	case r.Simulated:
		return "simulated"
	case !r.Hardware:
		return "not official"
	}
	return "hardware"
}

func execute(name string, data any) ([]byte, error) {
	var b bytes.Buffer
	if err := siteTmpl.ExecuteTemplate(&b, name, data); err != nil {
		return nil, fmt.Errorf("render %s: %w", name, err)
	}
	return b.Bytes(), nil
}

// errNoPage: a result page of a job that is not published.
var errNoPage = errors.New("no such result")

// num formats a figure with the digits that matter.
func num(v float64) string {
	switch {
	case v == 0:
		return "0"
	case math.Abs(v) >= 100:
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 1:
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.4f", v)
}

var siteTmpl = template.Must(template.New("site").Funcs(template.FuncMap{
	"num":        num,
	"pct":        func(v float64) string { return fmt.Sprintf("%.1f%%", 100*v) },
	"signed":     func(v float64) string { return fmt.Sprintf("%+.1f%%", 100*v) },
	"date":       func(r Result) string { return r.Date.Format("2006-01-02") },
	"kind":       kindOf,
	"join":       strings.Join,
	"v":          termtext.Escape,
	"vs":         visibleAll,
	"opts":       func(b json.RawMessage) [][2]string { return flatten(b) },
	"specmethod": specMethod,
	"vj":         func(b []byte) string { return string(termtext.JSON(b)) },
}).ParseFS(siteFiles, "site/*.tmpl"))
