package publish

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/agentwatt/agentwatt/blob"
	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/metrics"
	"github.com/agentwatt/agentwatt/spec"
)

// resultPage is one published job's page: the submission as submitted,
// the environment the runner recorded, the verifier's figures and checks,
// every probe of the search and the raw files.
type resultPage struct {
	pageBase
	Job      string
	Attempt  int
	Rows     []siteRow
	Sub      *Submission
	Verdict  *bundle.Verdict
	Env      *bundle.Environment
	Manifest *bundle.Manifest
	Probes   []probeRow
	Files    []fileRow
	Missing  []string // files that could not be read, and why
	Verify   string
	Charts   resultCharts
	Runs     []configRun // every run of the job's config
	// AccuracyMin is the rules' least accuracy (a share) for publication.
	AccuracyMin float64
}

// resultCharts is the result page's chart data, for site.js.
type resultCharts struct {
	Power  *lineChart  `json:"power,omitempty"`
	Probes *lineChart  `json:"probes,omitempty"`
	Runs   []lineChart `json:"runs,omitempty"` // the config's runs over framework versions
}

type probeRow struct {
	bundle.ProbeRecord
	Tiers  []metrics.TierResult
	PowerW float64 // average over the window, from power.jsonl.zst; 0 unknown
}

// Cache is the probe's prefix-cache hit share in theory (from the
// workload's blocks) beside the share the engine reported, with a note
// when the engine fell far short (metrics.CacheGap); "–" for a share a
// bundle does not carry.
func (p probeRow) Cache() string {
	r := &p.Result
	theory, engine := "–", "not reported"
	if r.TheoreticalCacheShare != nil {
		theory = fmt.Sprintf("%.1f%%", 100**r.TheoreticalCacheShare)
	}
	if r.CachedReported > 0 {
		engine = fmt.Sprintf("%.1f%%", 100*r.CachedTokenShare)
	}
	s := theory + " / " + engine
	if gap, ok := metrics.CacheGap(r); ok {
		s += fmt.Sprintf(" (engine %.0f points short)", 100*gap)
	}
	return s
}

type fileRow struct {
	Name, URL, SHA256 string
	Size              int64
}

// renderResult renders the page of job's attempt from the publication and
// the bundle in store; a job that is not published is errNoPage.
func renderResult(ctx context.Context, store PublishStore, lb *Leaderboard, job string, attempt int, l links) ([]byte, error) {
	p := resultPage{pageBase: pageBase{CSP: SiteCSP, Links: l, Title: "agentwatt result " + job}, Job: job, Attempt: attempt}
	seen := map[string]bool{}
	for _, rs := range [][]Result{lb.Results, lb.History} {
		for _, r := range rs {
			if r.Job == job && r.Attempt == attempt && !seen[r.Tier] {
				seen[r.Tier] = true
				p.Rows = append(p.Rows, rowOf(visibleResult(r), l))
			}
		}
	}
	if len(p.Rows) == 0 {
		return nil, errNoPage
	}
	var config string
	for _, r := range lb.History {
		if r.Job == job && r.Attempt == attempt {
			config = r.Config
		}
	}
	rets, err := LoadRetractions(ctx, store)
	if err != nil {
		p.Missing = append(p.Missing, fmt.Sprintf("retracted runs: %v", err))
	}
	p.Runs = configRunsOf(lb, rets, config, job, l)
	p.Charts.Runs = runsCharts(p.Runs)
	p.Verify = p.Rows[0].Verify
	if p.Sub, err = loadSubmission(ctx, store, job); err != nil {
		p.Missing = append(p.Missing, fmt.Sprintf("submission: %v", err))
	}
	p.Sub = visibleSubmission(p.Sub)
	read := func(name string, limit int64, decode func([]byte) error) {
		data, err := store.GetBytes(ctx, bundle.Key(job, attempt, name), limit)
		if err == nil {
			err = decode(data)
		}
		if err != nil {
			if errors.Is(err, blob.ErrNotFound) {
				err = errors.New("not in the store")
			}
			p.Missing = append(p.Missing, fmt.Sprintf("%s: %v", name, err))
		}
	}
	read(bundle.VerdictFile, 16<<20, func(b []byte) (err error) { p.Verdict, err = bundle.DecodeVerdict(b); return })
	read(bundle.ManifestFile, maxManifest, func(b []byte) (err error) {
		p.Manifest, err = bundle.DecodeManifest(bundle.ManifestFile, b)
		return
	})
	read(bundle.EnvironmentFile, 16<<20, func(b []byte) (err error) { p.Env, err = bundle.DecodeEnvironment(b); return })
	read(bundle.ProbesFile, 64<<20, func(b []byte) error {
		ps, err := bundle.DecodeProbes(b)
		if err != nil {
			return err
		}
		for _, pr := range ps.Probes {
			p.Probes = append(p.Probes, probeRow{ProbeRecord: pr, Tiers: pr.Result.Tiers})
		}
		return nil
	})
	if p.Manifest != nil && len(p.Probes) > 0 {
		if samples, err := readPower(ctx, store, job, attempt, p.Manifest); err != nil {
			p.Missing = append(p.Missing, fmt.Sprintf("%s: %v", bundle.PowerFile, err))
		} else {
			pw := probePower(samples, p.Probes)
			for i := range p.Probes {
				p.Probes[i].PowerW = pw[p.Probes[i].Probe]
			}
			if p.Verdict != nil && p.Verdict.Results != nil {
				for _, t := range p.Verdict.Results.Tiers {
					i := slices.IndexFunc(p.Probes, func(r probeRow) bool { return r.Probe == t.ConfirmProbe })
					if t.Confirmed && i >= 0 {
						p.Charts.Power = powerTrace(samples, p.Probes[i], fmt.Sprintf("Power through the confirmation window of tier %s (probe %d, N=%d)", t.Tier, t.ConfirmProbe, p.Probes[i].Agents))
						break
					}
				}
			}
		}
	}
	if gpus := p.Rows[0].GPUs; gpus > 0 {
		var pts []point
		for _, pr := range p.Probes {
			if r := pr.Result; r.Requests > 0 && pr.Agents > 0 {
				state := "valid"
				if !r.Valid {
					state = "invalid"
				}
				pts = append(pts, point{Series: pr.Purpose + " probes", X: r.OutputTokensPerS / float64(pr.Agents), Y: r.OutputTokensPerS / float64(gpus),
					Note: fmt.Sprintf("probe %d, N=%d, %s", pr.Probe, pr.Agents, state)})
			}
		}
		p.Charts.Probes = scatter("probes", "Every probe: throughput per GPU against per-agent speed", "output tok/s per agent", "output tok/s per GPU", pts)
	}
	if r, err := spec.LoadRules(MethodRules); err == nil && p.Rows[0].RulesVersion == MethodRules {
		p.AccuracyMin = r.Accuracy.MinFraction
	}
	names := []string{bundle.ManifestFile, bundle.EnvelopeFile, bundle.VerdictFile}
	if p.Manifest != nil {
		for _, f := range p.Manifest.Files {
			if bundle.ValidName(f.Name) {
				p.Files = append(p.Files, fileRow{Name: f.Name, URL: l.evidenceURL(job, attempt, f.Name), SHA256: f.SHA256, Size: f.Size})
			}
		}
	}
	for _, n := range names {
		p.Files = append(p.Files, fileRow{Name: n, URL: l.evidenceURL(job, attempt, n)})
	}
	return execute("result.html.tmpl", p)
}
