package publish

import "github.com/agentwatt/agentwatt/internal/termtext"

// The pages escape every string a vendor controls twice over: html/template
// escapes it for its context (text, attribute, URL, JSON), and before that
// the strings are made visible — control characters and the bidi overrides
// and isolates that would reorder the text around them (a name that reads
// as another's) are shown as \u escapes (termtext.Escape).

// visibleResult is r with its vendor-controlled strings made visible.
func visibleResult(r Result) Result {
	for _, p := range []*string{&r.Config, &r.Vendor, &r.Name, &r.Model, &r.System, &r.Pool, &r.Framework,
		&r.FrameworkVersion, &r.Tier, &r.PowerBoundary, &r.Profile, &r.WorkloadName, &r.ApprovedBy, &r.Bundle, &r.Verdict, &r.VerifyCommand} {
		*p = termtext.Escape(*p)
	}
	if r.Change != nil {
		c := *r.Change // the leaderboard's own stays as it is
		c.PreviousVersion, c.PreviousJob = termtext.Escape(c.PreviousVersion), termtext.Escape(c.PreviousJob)
		r.Change = &c
	}
	return r
}

func visibleResults(rs []Result) []Result {
	out := make([]Result, len(rs))
	for i, r := range rs {
		out[i] = visibleResult(r)
	}
	return out
}

// visibleSubmission is s with its strings made visible.
func visibleSubmission(s *Submission) *Submission {
	if s == nil {
		return nil
	}
	c := *s
	for _, p := range []*string{&c.Vendor, &c.Name, &c.Model, &c.Revision, &c.Precision, &c.Accelerator, &c.Topology,
		&c.Framework, &c.Version, &c.EngineImage, &c.SimProfile, &c.Workload, &c.Rules, &c.Profile} {
		*p = termtext.Escape(*p)
	}
	c.EngineArgs = visibleAll(c.EngineArgs)
	c.Tiers = visibleAll(c.Tiers)
	return &c
}

func visibleAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = termtext.Escape(s)
	}
	return out
}
