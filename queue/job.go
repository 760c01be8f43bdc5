package queue

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"regexp"
	"strings"
	"time"
)

// Job is the record of one job in the jobs KV bucket: the source of truth for
// its state, attempt and history.
type Job struct {
	ID             string          `json:"id"`
	State          State           `json:"state"`
	Attempt        int             `json:"attempt"` // 0 until a runner first takes it
	Pool           string          `json:"pool"`
	Vendor         string          `json:"vendor"`
	Name           string          `json:"name"`
	Profile        string          `json:"profile,omitempty"`
	SpecDigest     string          `json:"spec_digest"`
	Trigger        string          `json:"trigger"`
	Workload       string          `json:"workload,omitempty"`
	WorkloadDigest string          `json:"workload_digest,omitempty"`
	Spec           json.RawMessage `json:"spec,omitempty"`
	Runner         string          `json:"runner,omitempty"` // runner of the current attempt
	Reason         string          `json:"reason,omitempty"` // reason of the last transition
	SubmittedBy    string          `json:"submitted_by,omitempty"`
	RetryOf        string          `json:"retry_of,omitempty"`   // the failed/canceled job this one re-runs
	RetriedAs      string          `json:"retried_as,omitempty"` // the job that re-runs this one
	// RetestOf is the published job a retest derives from (the retest
	// watcher, bots/retest): the same configuration on a new framework
	// release or on schedule.
	RetestOf string `json:"retest_of,omitempty"`
	// PullRequest is the pull request the submission came from (the GitHub
	// bot); nil for the API.
	PullRequest *PullRequest `json:"pull_request,omitempty"`
	// Seq is the AGENTWATT_JOBS sequence of the message that carries the job
	// (0 before the first dispatch is recorded). A worker drops a message
	// whose sequence is not this one: it is a stale duplicate.
	Seq uint64 `json:"seq,omitempty"`
	// Deliveries is how many times the server had delivered that message
	// when the current attempt took it; the sweeper dead-letters a job whose
	// lease is lost once this reaches MaxDeliver.
	Deliveries uint64       `json:"deliveries,omitempty"`
	History    []Transition `json:"history"`
	CreatedAt  time.Time    `json:"created_at"`
	UpdatedAt  time.Time    `json:"updated_at"`
	// Revision is the KV revision the record was read at; compare-and-set
	// updates use it.
	Revision uint64 `json:"-"`
}

// Transition is one entry of a job's history.
type Transition struct {
	From    State     `json:"from,omitempty"` // empty for the record's creation
	To      State     `json:"to"`
	At      time.Time `json:"at"`
	By      string    `json:"by,omitempty"`
	Reason  string    `json:"reason,omitempty"`
	Attempt int       `json:"attempt"`
}

// NewJob is what intake knows about a job before it is queued.
type NewJob struct {
	Vendor string
	Name   string
	Pool   string // <accelerator>x<count> or sim
	// Spec is the canonical spec JSON with the workload pinned to its digest;
	// SpecDigest is its digest ("sha256:…"), computed by the caller.
	Spec           json.RawMessage
	SpecDigest     string
	Trigger        string // what caused this run: "submit:…", "retest:vllm-0.9.1", …
	Workload       string
	WorkloadDigest string
	Profile        string
	Held           bool   // start held; a maintainer releases it
	By             string // who submitted; defaults to Vendor
	PullRequest    *PullRequest
	RetestOf       string // the published job this retest derives from
}

// PullRequest is where a pull-request submission came from: the repository,
// the pull request, the commit its file was read at and the file.
type PullRequest struct {
	Repo    string `json:"repo"`    // owner/name
	RepoID  int64  `json:"repo_id"` // GitHub's id of the repository
	Number  int    `json:"number"`
	HeadSHA string `json:"head_sha"`
	Path    string `json:"path"` // the submission file, e.g. submissions/acme/h100.yaml
	Author  string `json:"author"`
	// Installation is the GitHub App installation that reports on it.
	Installation int64 `json:"installation"`
}

var shaRe = regexp.MustCompile(`^[0-9a-f]{40}$`)

func (p *PullRequest) validate() error {
	switch {
	case p == nil:
		return nil
	case !strings.Contains(p.Repo, "/") || len(p.Repo) > 140:
		return invalidf("pull request repository %q: want owner/name", p.Repo)
	case p.Number <= 0:
		return invalidf("pull request number %d: want > 0", p.Number)
	case !shaRe.MatchString(p.HeadSHA):
		return invalidf("pull request head %q: want a 40-hex commit SHA", p.HeadSHA)
	}
	return nil
}

// Filter selects jobs for List. Empty fields match everything.
type Filter struct {
	State  State
	Vendor string
	Pool   string
}

func (f Filter) match(j *Job) bool {
	return (f.State == "" || j.State == f.State) &&
		(f.Vendor == "" || j.Vendor == f.Vendor) &&
		(f.Pool == "" || j.Pool == f.Pool)
}

// JobID derives a job's id from its spec digest and trigger: the same spec under
// the same trigger is the same job. 128 bits of sha256, hex.
func JobID(specDigest, trigger string) string {
	h := sha256.New()
	h.Write([]byte("agentwatt/job/v1\x00"))
	h.Write([]byte(specDigest))
	h.Write([]byte{0})
	h.Write([]byte(trigger))
	return hex.EncodeToString(h.Sum(nil)[:16])
}

var (
	// poolRe: a pool is one subject token: lower-case letters, digits, '-', '_'.
	poolRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	// labelRe: vendor, maintainer and runner names, DNS-label style.
	labelRe = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	// jobIDRe: what JobID produces.
	jobIDRe = regexp.MustCompile(`^[0-9a-f]{32}$`)
)

// ValidPool reports whether pool can name a pool (a subject token and a
// consumer name).
func ValidPool(pool string) bool { return poolRe.MatchString(pool) }

// ValidName reports whether name can name a vendor, a maintainer or a
// runner key: a DNS label (lower-case letters, digits, '-'). A job record
// carries its vendor's name, so package accounts registers only names
// that pass it.
func ValidName(name string) bool { return labelRe.MatchString(name) }

func checkJobID(id string) error {
	if !jobIDRe.MatchString(id) {
		return invalidf("job id %q: want 32 hex digits", id)
	}
	return nil
}

func (nj NewJob) validate() error {
	switch {
	case !labelRe.MatchString(nj.Vendor):
		return invalidf("vendor %q: want a DNS label", nj.Vendor)
	case nj.Name == "":
		return invalidf("name is empty")
	case !ValidPool(nj.Pool):
		return invalidf("pool %q: want lower-case letters, digits, '-' or '_'", nj.Pool)
	case nj.SpecDigest == "":
		return invalidf("spec digest is empty")
	case nj.Trigger == "":
		return invalidf("trigger is empty")
	case len(nj.Spec) > 0 && !json.Valid(nj.Spec):
		return invalidf("spec is not valid JSON")
	case nj.RetestOf != "" && !jobIDRe.MatchString(nj.RetestOf):
		return invalidf("retest of %q: want a job id (32 hex digits)", nj.RetestOf)
	}
	return nj.PullRequest.validate()
}

// apply checks to against the table, records the transition and sets the
// state. It is the one place a record's state changes.
func (j *Job) apply(to State, by, reason string, now time.Time) error {
	if err := checkTransition(j.ID, j.State, to); err != nil {
		return err
	}
	j.History = append(j.History, Transition{From: j.State, To: to, At: now, By: by, Reason: reason, Attempt: j.Attempt})
	j.State = to
	j.Reason = reason
	return nil
}

func (j *Job) clone() *Job {
	c := *j
	c.History = append([]Transition(nil), j.History...)
	if j.PullRequest != nil {
		pr := *j.PullRequest
		c.PullRequest = &pr
	}
	return &c
}
