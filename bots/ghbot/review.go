package ghbot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/google/go-github/v62/github"

	"github.com/agentwatt/agentwatt/sim"
	"github.com/agentwatt/agentwatt/spec"
)

// CheckValidate is the name of the check run that reports a head's
// submission files.
const CheckValidate = "agentwatt/validate"

// maxSubmissions is the most submission files one pull request may change:
// each is a benchmark job.
const maxSubmissions = 20

// submission is one valid submission file of a head.
type submission struct {
	path string
	sub  *spec.Submission
}

// review is what validating a head found.
type review struct {
	subs     []submission
	vendors  []string // vendor folders touched, sorted
	problems []spec.Problem
	// trusted: the author is a maintainer or listed for every vendor
	// touched; outsider: listed for none (a maintainer's /ok-to-test runs
	// it). A PR by someone listed for another vendor has a problem instead.
	trusted bool
	// policyErr is a broken VENDORS.yaml or MAINTAINERS on the default
	// branch: the operators' problem, reported on the check.
	policyErr error
	files     int // submission files looked at
}

// loadPolicy reads VENDORS.yaml and MAINTAINERS from the default branch.
func loadPolicy(ctx context.Context, api repoAPI, defaultBranch string) (*Policy, error) {
	p := &Policy{Vendors: map[string]Members{}}
	data, found, err := api.file(ctx, VendorsFile, defaultBranch, maxPolicyFile)
	if err != nil && found {
		return nil, policyError{err} // too large, or not a file
	}
	if err != nil {
		return nil, err
	}
	if found {
		if p.Vendors, err = ParseVendors(data); err != nil {
			return nil, policyError{err}
		}
	}
	data, found, err = api.file(ctx, MaintainersFile, defaultBranch, maxPolicyFile)
	if err != nil && found {
		return nil, policyError{err} // too large, or not a file
	}
	if err != nil {
		return nil, err
	}
	if found {
		if p.Maintainers, err = ParseMaintainers(data); err != nil {
			return nil, policyError{err}
		}
	}
	return p, nil
}

// member reports whether login is in m, directly or through an active
// team membership.
func member(ctx context.Context, api repoAPI, m Members, login string) (bool, error) {
	if m.hasUser(login) {
		return true, nil
	}
	for _, team := range m.Teams {
		ok, err := api.inTeam(ctx, team, login)
		if err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}

// reviewHead validates every submission file the pull request changes, at
// its head SHA, read through the contents API (nothing is checked out or
// run), and decides whether its author may run it.
func (b *Bot) reviewHead(ctx context.Context, t target, pol *Policy) (review, error) {
	var rv review
	files, err := t.api.prFiles(ctx, t.number)
	if err != nil {
		return rv, err
	}
	vendors := map[string]bool{}
	for _, f := range files {
		name := f.GetFilename()
		if !strings.HasPrefix(name, SubmissionsDir+"/") || f.GetStatus() == "removed" {
			continue
		}
		ext := path.Ext(name)
		if ext != ".yaml" && ext != ".yml" {
			continue
		}
		rv.files++
		if rv.files > maxSubmissions {
			rv.problems = append(rv.problems, spec.Problem{File: name, Message: fmt.Sprintf("a pull request may change at most %d submission files; split it", maxSubmissions)})
			continue
		}
		parts := strings.Split(name, "/")
		if len(parts) != 3 || !vendorRe.MatchString(parts[1]) {
			rv.problems = append(rv.problems, spec.Problem{File: name, Message: "want submissions/<vendor>/<name>.yaml, <vendor> as in VENDORS.yaml"})
			continue
		}
		vendor := parts[1]
		vendors[vendor] = true
		data, found, err := t.api.file(ctx, name, t.head, spec.MaxFileSize)
		switch {
		case err != nil && found: // too large
			rv.problems = append(rv.problems, spec.Problem{File: name, Message: err.Error()})
			continue
		case err != nil:
			return rv, err
		case !found:
			continue // renamed away meanwhile; the next push re-reviews
		}
		sub, err := spec.Parse(name, data)
		var probs spec.Problems
		if errors.As(err, &probs) {
			rv.problems = append(rv.problems, probs...)
			continue
		}
		if err != nil {
			rv.problems = append(rv.problems, spec.Problem{File: name, Message: err.Error()})
			continue
		}
		if sub.Metadata.Vendor != vendor {
			line, col := keyPos(data, "vendor")
			rv.problems = append(rv.problems, spec.Problem{File: name, Line: line, Col: col, Field: "metadata.vendor",
				Message: fmt.Sprintf("metadata.vendor: %q, but the file is in the folder of vendor %q", sub.Metadata.Vendor, vendor)})
			continue
		}
		if err := sim.CheckSubmission(sub); err != nil { // as the intake: a sim job no runner could run
			line, col := keyPos(data, "sim_profile")
			rv.problems = append(rv.problems, spec.Problem{File: name, Line: line, Col: col, Field: "engine.sim_profile", Message: err.Error()})
			continue
		}
		if b.cfg.Workloads != nil {
			digest, err := b.cfg.Workloads.ResolveDigest(ctx, sub.Benchmark.Workload)
			if err == nil {
				err = sub.PinWorkload(digest)
			}
			if err != nil {
				line, col := keyPos(data, "workload")
				rv.problems = append(rv.problems, spec.Problem{File: name, Line: line, Col: col, Field: "benchmark.workload",
					Message: fmt.Sprintf("benchmark.workload: %q: %v", sub.Benchmark.Workload, err)})
				continue
			}
		}
		rv.subs = append(rv.subs, submission{path: name, sub: sub})
	}
	for v := range vendors {
		rv.vendors = append(rv.vendors, v)
	}
	slices.Sort(rv.vendors)
	rv.trusted, err = b.judgeAuthor(ctx, t, pol, &rv)
	return rv, err
}

// judgeAuthor decides what the author may do with the vendor folders the
// head touches: a maintainer, or someone listed for each of them, is
// trusted; someone listed for another vendor may not submit in its name (a
// problem on each file); anyone else waits for a maintainer's /ok-to-test.
func (b *Bot) judgeAuthor(ctx context.Context, t target, pol *Policy, rv *review) (bool, error) {
	if len(rv.vendors) == 0 {
		return false, nil
	}
	trusted := true
	for _, v := range rv.vendors {
		if _, listed := pol.Vendors[v]; !listed {
			rv.problems = append(rv.problems, spec.Problem{File: firstFileOf(rv, v),
				Message: fmt.Sprintf("vendor %q is not in %s on the default branch: a maintainer adds it first", v, VendorsFile)})
			trusted = false
		}
	}
	isMaint, err := member(ctx, t.api, pol.Maintainers, t.author)
	if err != nil || isMaint {
		return trusted && isMaint, err
	}
	var own []string // the vendors the author is listed for
	for v, m := range pol.Vendors {
		ok, err := member(ctx, t.api, m, t.author)
		if err != nil {
			return false, err
		}
		if ok {
			own = append(own, v)
		}
	}
	slices.Sort(own)
	for _, v := range rv.vendors {
		if slices.Contains(own, v) {
			continue
		}
		trusted = false
		if _, listed := pol.Vendors[v]; listed && len(own) > 0 {
			rv.problems = append(rv.problems, spec.Problem{File: firstFileOf(rv, v),
				Message: fmt.Sprintf("@%s submits for %s, not for %q: a pull request may only touch its author's vendor folders", t.author, strings.Join(own, ", "), v)})
		}
	}
	return trusted, nil
}

// firstFileOf names a file of vendor v's folder that the review saw.
func firstFileOf(rv *review, v string) string {
	prefix := SubmissionsDir + "/" + v + "/"
	for _, s := range rv.subs {
		if strings.HasPrefix(s.path, prefix) {
			return s.path
		}
	}
	for _, p := range rv.problems {
		if strings.HasPrefix(p.File, prefix) {
			return p.File
		}
	}
	return prefix
}

// keyPos finds the first line whose text starts with key: (a best effort
// for problems the spec parser does not place).
func keyPos(data []byte, key string) (line, col int) {
	for i, l := range bytes.Split(data, []byte("\n")) {
		trimmed := bytes.TrimLeft(l, " \t")
		if bytes.HasPrefix(trimmed, []byte(key+":")) {
			return i + 1, len(l) - len(trimmed) + 1
		}
	}
	return 1, 1
}

// annotations places each problem on its file's line and column.
func annotations(probs []spec.Problem) []*github.CheckRunAnnotation {
	out := make([]*github.CheckRunAnnotation, 0, len(probs))
	for _, p := range probs {
		line := max(p.Line, 1)
		a := &github.CheckRunAnnotation{
			Path: github.String(p.File), StartLine: github.Int(line), EndLine: github.Int(line),
			AnnotationLevel: github.String("failure"), Message: github.String(clip(p.Message, 64<<10)),
			Title: github.String(clip(firstNonEmpty(p.Field, "agentwatt validate"), 255)),
		}
		if p.Col > 0 {
			a.StartColumn, a.EndColumn = github.Int(p.Col), github.Int(p.Col)
		}
		out = append(out, a)
	}
	return out
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
