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
//     Publish (history entry and runners.json first, then results.json in
//     one PUT, then the site), LoadResults, RunnersFile, the object keys.
//   - site.go: RenderSite (HTML with inline SVG charts from
//     site/index.html.tmpl), SiteAssets (site/site.js, site/site.css,
//     embedded), PublishSite, and SiteCSP, the strict policy nothing inline
//     may break.
//   - handler.go: SiteHandler — /, /leaderboard, /api/results and the
//     assets, every answer with SiteCSP.
//   - errors.go: ErrNotVerified, ErrNotPublishable.
package publish
