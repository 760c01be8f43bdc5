package retest

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Report is what one RunOnce did.
type Report struct {
	Releases    []SeenRelease `json:"releases"`     // new releases (and first-poll baselines)
	NotModified []string      `json:"not_modified"` // frameworks GitHub answered 304 for
	Queued      []Queued      `json:"queued"`
	Pending     []Pending     `json:"pending"`  // retests waiting for their image or for room in the vendor's queue
	Deferred    []string      `json:"deferred"` // scheduled retests left for a later poll (the vendor's queue is full)
	Refused     []string      `json:"refused"`
	Approved    []string      `json:"approved,omitempty"` // retests published by --auto-approve
	Errors      []string      `json:"errors"`
}

// SeenRelease is a release a poll found.
type SeenRelease struct {
	Framework string `json:"framework"`
	Tag       string `json:"tag"`
	Version   string `json:"version,omitempty"`
	Baseline  bool   `json:"baseline,omitempty"` // the first poll's newest release: nothing retested
	Refused   string `json:"refused,omitempty"`
}

// Queued is a retest job.
type Queued struct {
	Job     string `json:"job"`
	Trigger string `json:"trigger"`
	Of      string `json:"of"`
	Image   string `json:"image"`
	Created bool   `json:"created"` // false: the job existed (the same retest queued before)
}

// Print writes the report for a person, one line an item.
func (r *Report) Print(w io.Writer) {
	for _, s := range r.Releases {
		switch {
		case s.Baseline:
			fmt.Fprintf(w, "baseline  %s %s (first poll: nothing retested)\n", s.Framework, printable(s.Tag))
		case s.Refused != "":
			fmt.Fprintf(w, "refused   %s: %s\n", s.Framework, s.Refused)
		default:
			fmt.Fprintf(w, "release   %s %s\n", s.Framework, s.Version)
		}
	}
	for _, f := range r.NotModified {
		fmt.Fprintf(w, "unchanged %s (304)\n", f)
	}
	for _, q := range r.Queued {
		note := ""
		if !q.Created {
			note = " (already queued)"
		}
		fmt.Fprintf(w, "queued    %s %s of %s image %s%s\n", q.Job, q.Trigger, q.Of, q.Image, note)
	}
	for _, p := range r.Pending {
		what := "image " + p.Image + " not resolved"
		if p.Image == "" || strings.Contains(p.LastError, ErrQueuedFull.Error()) {
			what = "waiting"
		}
		fmt.Fprintf(w, "pending   %s@%s of %s: %s (%d tries, next %s): %s\n",
			p.Framework, p.Version, p.Of, what, p.Tries, p.NextTry.Format(time.RFC3339), p.LastError)
	}
	for _, d := range r.Deferred {
		fmt.Fprintf(w, "deferred  %s\n", d)
	}
	for _, s := range r.Refused {
		fmt.Fprintf(w, "refused   %s\n", s)
	}
	for _, j := range r.Approved {
		fmt.Fprintf(w, "approved  %s (--auto-approve)\n", j)
	}
	for _, e := range r.Errors {
		fmt.Fprintf(w, "error     %s\n", e)
	}
}
