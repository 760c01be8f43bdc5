// Package publish is what happens after a verdict: a maintainer's approval,
// the published results and their history, and the leaderboard site with
// the HTTP handler that serves it. What a result is (simulated, profile,
// hardware) comes from the job's record (verifier.TermsOf), never from the
// bundle's claims; a verdict that disagrees with the record is not
// published.
//
//   - approve.go: Approve — only a verified job whose verdict.json is
//     verified for its attempt; publication first, then verified →
//     published with who and the note.
//   - publish.go: Result and Leaderboard (published/results.json), ResultsOf,
//     Publish (history entry, submission and runners.json first, then results.json in
//     one PUT, then the site), LoadResults, RunnersFile, the object keys.
//   - submission.go: Submission, the published part of a job's spec
//     (published/submissions/<job>.json; no contact, env or secrets).
//   - site.go: SiteAssets (site/: the templates, site.js, site.css and
//     uPlot from internal/uplot; provenance in site/README.md), SiteOptions and
//     PublicStore (where the static copy links evidence), PublishSite (a
//     page per result, the method page, the downloads, then index.html),
//     RenderSite, and SiteCSP, the strict policy nothing inline may break.
//   - site_result.go, site_method.go, site_charts.go, site_downloads.go:
//     the result page (submission, what the runner recorded, every probe,
//     the checks, the raw files), the method page from the rules file, the
//     chart data (JSON for site.js), results.json and results.csv.
//   - site_escape.go: vendor strings made visible (bidi overrides and
//     controls as \u escapes) before html/template escapes them.
//   - regressions.go: Change (on each Result: a regression or an
//     improvement against the config's previous framework version,
//     metrics.VersionChange, derived from the history by merge),
//     Regression and published/regressions.json (LoadRegressions).
//   - site_versions.go: a result page's runs of its config: the table and
//     the charts with regression, improvement and retraction markers; a
//     run with repeats at its median Agents/MW with a min–max error bar.
//   - retract.go: Retract, and published/retractions.json (LoadRetractions).
//   - handler.go: SiteHandler — the pages, /api/results and the downloads,
//     every answer with SiteCSP.
//   - evidence.go: GET /runs/<job>/<attempt>/<file>: a published bundle's
//     listed files, manifest, envelope and verdict, streamed; nothing else.
//   - errors.go: ErrNotVerified, ErrNotPublishable.
package publish
