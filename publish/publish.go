package publish

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/agentwatt/agentwatt/blob"
	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/metrics"
	"github.com/agentwatt/agentwatt/queue"
	"github.com/agentwatt/agentwatt/verifier"
	"github.com/agentwatt/agentwatt/verifyd"
)

// Object keys of the publication, under PublishedPrefix.
const (
	PublishedPrefix = "published/"
	ResultsKey      = PublishedPrefix + "results.json"
	RunnersKey      = PublishedPrefix + "runners.json"
	HistoryPrefix   = PublishedPrefix + "history/"
	SitePrefix      = PublishedPrefix + "site/"
	SiteIndexKey    = SitePrefix + "index.html"
)

// ResultsSchemaVersion is the version of published/results.json.
const ResultsSchemaVersion = 1

// PublishStore is what publication needs from object storage.
type PublishStore interface {
	GetBytes(ctx context.Context, key string, limit int64) ([]byte, error)
	PutBytes(ctx context.Context, key string, b []byte, contentType string) error
	// GetBytesVersion and PutBytesIf make results.json and
	// retractions.json compare-and-swap objects, so that two maintainers
	// (or the bot and a maintainer) approving or retracting at once lose
	// neither change.
	GetBytesVersion(ctx context.Context, key string, limit int64) ([]byte, string, error)
	PutBytesIf(ctx context.Context, key string, b []byte, contentType string, cond blob.Condition) error
	URL(key string) string
}

var _ PublishStore = (*blob.Store)(nil)

// Result is one published result: one tier of one approved job.
type Result struct {
	Config           string  `json:"config"` // vendor/name/model/system/framework: a retest of it appends to its history
	Job              string  `json:"job"`
	Attempt          int     `json:"attempt"`
	Vendor           string  `json:"vendor"`
	Name             string  `json:"name"`
	Model            string  `json:"model"`
	System           string  `json:"system"` // accelerator × count
	Pool             string  `json:"pool"`
	Framework        string  `json:"framework"`
	FrameworkVersion string  `json:"framework_version"`
	Tier             string  `json:"tier"`
	MinDecodeTPS     float64 `json:"min_decode_tps"`
	MaxTTFTS         float64 `json:"max_ttft_s"`
	MaxAgents        int     `json:"max_agents"`
	AgentsPerMW      float64 `json:"agents_per_mw"`
	AgentsPerGPU     float64 `json:"agents_per_gpu"`
	OutputTokensPerS float64 `json:"output_tokens_per_s"`
	JoulesPerToken   float64 `json:"joules_per_token"`
	AvgPowerW        float64 `json:"avg_power_w"`
	GPUs             int     `json:"gpus"`
	PowerBoundary    string  `json:"power_boundary"`
	// Deployment is "external" for an engine its operator deployed and the
	// runner only drove (the verdict's, from the job's spec).
	Deployment     string    `json:"deployment,omitempty"`
	RulesVersion   string    `json:"rules_version"`
	Profile        string    `json:"profile"`
	WorkloadName   string    `json:"workload_name"`
	WorkloadDigest string    `json:"workload_digest"`
	Accuracy       float64   `json:"accuracy"`
	Date           time.Time `json:"date"`
	ApprovedBy     string    `json:"approved_by"`
	ApprovedVia    Via       `json:"approved_via,omitempty"`   // how the approver proved who they are
	VerdictSHA256  string    `json:"verdict_sha256,omitempty"` // hex sha256 of the verdict.json approved
	Bundle         string    `json:"bundle"`                   // s3:// URL of the bundle
	Verdict        string    `json:"verdict"`                  // s3:// URL of verdict.json
	VerifyCommand  string    `json:"verify_command"`
	Simulated      bool      `json:"simulated"`
	// Hardware: an official-profile, non-simulated result; the others are
	// badged on the site.
	Hardware bool `json:"hardware"`
	// Repeats is the windows measured at N_max (benchmark.repeats), 0 for
	// a run of one; AgentsPerMWSpread and MetShareSpread are the spread of
	// Agents/MW and of the tier's met share over them, from the verdict
	// (recomputed). AgentsPerMW stays the confirmation window's.
	Repeats           int             `json:"repeats,omitempty"`
	AgentsPerMWSpread *metrics.Spread `json:"agents_per_mw_spread,omitempty"`
	MetShareSpread    *metrics.Spread `json:"met_share_spread,omitempty"`
	// Change: a regression or an improvement against the previous
	// framework version of the config (regressions.go); derived from the
	// history whenever it changes.
	Change *Change `json:"change,omitempty"`
}

// Leaderboard is published/results.json: the latest result of every config and
// tier, and the history of every config.
type Leaderboard struct {
	SchemaVersion int       `json:"schema_version"`
	UpdatedAt     time.Time `json:"updated_at"`
	Results       []Result  `json:"results"`
	History       []Result  `json:"history"` // every published result, oldest first
}

// Approval is who approved a job, how they proved it, when and why.
type Approval struct {
	By   string // the authenticated name: a maintainer, a GitHub login, "agentwatt demo"
	Via  Via
	Note string
	At   time.Time
	// VerdictSHA256 is the hex sha256 of the verdict.json approved; Approve
	// sets it from the bytes it checked.
	VerdictSHA256 string
}

// PublishInput is one approved job.
type PublishInput struct {
	Job      *queue.Job
	Verdict  *bundle.Verdict
	Approval Approval
	// Runners are the enrolled keys to publish as runners.json; nil leaves
	// it as it is.
	Runners *verifyd.Runners
	// Local allows publishing simulated and non-official results (badged);
	// the production publisher refuses them as hardware results.
	Local bool
}

// jobSpec is the part of the submission publication shows.
type jobSpec struct {
	Metadata struct {
		Vendor string `json:"vendor"`
		Name   string `json:"name"`
	} `json:"metadata"`
	Model struct {
		ID string `json:"id"`
	} `json:"model"`
	System struct {
		Accelerator  string `json:"accelerator"`
		Accelerators int    `json:"accelerators"`
	} `json:"system"`
	Framework struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	} `json:"framework"`
}

// ResultsOf turns a verified job into its published results, one per
// confirmed tier.
func ResultsOf(in PublishInput, bucketURL func(key string) string) ([]Result, error) {
	v, j := in.Verdict, in.Job
	if v == nil || !v.Verified() || v.Results == nil {
		return nil, fmt.Errorf("%w: job %s has no verified verdict", ErrNotPublishable, j.ID)
	}
	// What the result is comes from the job's record — its pool and
	// profile — never from the bundle's claims; verification bound the two,
	// and a verdict that disagrees with the record is not published.
	rec := verifier.TermsOf(verifyd.JobOf(j))
	if v.Simulated != rec.Simulated || v.Profile != rec.Profile || v.Job != j.ID {
		return nil, fmt.Errorf("%w: the verdict (job %s, profile %q, simulated=%v) is not the job record's (job %s, profile %q, pool %s)",
			ErrNotPublishable, v.Job, v.Profile, v.Simulated, j.ID, rec.Profile, j.Pool)
	}
	hardware := rec.Profile == "official" && !rec.Simulated
	if !hardware && !in.Local {
		return nil, fmt.Errorf("%w: job %s is %s-profile, pool %s: only official, non-simulated results are published as hardware", ErrNotPublishable, j.ID, rec.Profile, j.Pool)
	}
	var sp jobSpec
	if len(j.Spec) > 0 {
		_ = json.Unmarshal(j.Spec, &sp) // a record without a spec publishes what the job record has
	}
	vendor, name := firstOf(sp.Metadata.Vendor, j.Vendor), firstOf(sp.Metadata.Name, j.Name)
	model := firstOf(sp.Model.ID, v.Results.Model)
	system := j.Pool
	if sp.System.Accelerator != "" {
		system = fmt.Sprintf("%s×%d", sp.System.Accelerator, sp.System.Accelerators)
	}
	fw, fwv := firstOf(sp.Framework.Name, "unknown"), sp.Framework.Version
	prefix := bundle.Prefix(v.Job, v.Attempt)
	bundleURL := bucketURL(prefix)
	var out []Result
	for _, t := range v.Results.Tiers {
		if !t.Confirmed || t.MaxAgents == 0 {
			continue
		}
		res := Result{
			Config: strings.Join([]string{vendor, name, model, system, fw}, "/"),
			Job:    v.Job, Attempt: v.Attempt, Vendor: vendor, Name: name, Model: model, System: system, Pool: j.Pool,
			Framework: fw, FrameworkVersion: fwv, Tier: t.Tier, MinDecodeTPS: t.MinDecodeTPS, MaxTTFTS: t.MaxTTFTS,
			MaxAgents: t.MaxAgents, AgentsPerMW: t.AgentsPerMW, AgentsPerGPU: t.AgentsPerGPU, OutputTokensPerS: t.OutputTokensPerS,
			JoulesPerToken: t.JoulesPerToken, AvgPowerW: t.AvgPowerW, GPUs: v.Results.GPUs, PowerBoundary: v.Results.PowerBoundary,
			Deployment:   v.Results.Deployment,
			RulesVersion: v.RulesVersion, Profile: rec.Profile, WorkloadName: v.WorkloadName, WorkloadDigest: v.WorkloadDigest,
			Accuracy: v.Results.Accuracy, Date: in.Approval.At.UTC(), ApprovedBy: in.Approval.By,
			ApprovedVia: in.Approval.Via, VerdictSHA256: in.Approval.VerdictSHA256,
			Bundle: bundleURL, Verdict: bucketURL(prefix + bundle.VerdictFile),
			VerifyCommand: "agentwatt verify " + bundleURL, Simulated: rec.Simulated, Hardware: hardware,
		}
		if rs := t.Repeats; rs != nil {
			ms := rs.MetShare
			res.Repeats, res.MetShareSpread, res.AgentsPerMWSpread = len(rs.Probes), &ms, rs.AgentsPerMW
		}
		out = append(out, res)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: job %s has no confirmed tier", ErrNotPublishable, j.ID)
	}
	return out, nil
}

// Publish adds an approved job's results to the publication: it writes
// the new objects first (the job's history entry, its submission,
// runners.json), then
// switches published/results.json — one object, replaced in one
// conditional PUT (updateResults: a concurrent approval or retraction is
// merged, never overwritten) — then writes what derives from it
// (publishDerived: regressions.json and the site). A reader sees the old or
// the new results, never a mix; a retest of the same config appends to
// that config's history.
func Publish(ctx context.Context, store PublishStore, in PublishInput) (*Leaderboard, error) {
	add, err := ResultsOf(in, store.URL)
	if err != nil {
		return nil, err
	}
	at := in.Approval.At.UTC()
	entry, err := json.MarshalIndent(map[string]any{"job": in.Job.ID, "attempt": in.Verdict.Attempt,
		"approved_by": in.Approval.By, "approved_via": in.Approval.Via, "verdict_sha256": in.Approval.VerdictSHA256, "note": in.Approval.Note, "approved_at": at, "results": add}, "", "  ")
	if err != nil {
		return nil, err
	}
	histKey := historyKey(in.Job.ID, at)
	if err := store.PutBytes(ctx, histKey, append(entry, '\n'), "application/json"); err != nil {
		return nil, fmt.Errorf("publish history: %w", err)
	}
	if len(in.Job.Spec) > 0 {
		if sub, err := submissionOf(in.Job.ID, in.Job.Spec); err == nil {
			b, _ := json.MarshalIndent(sub, "", "  ")
			if err := store.PutBytes(ctx, SubmissionsPrefix+in.Job.ID+".json", append(b, '\n'), "application/json"); err != nil {
				return nil, fmt.Errorf("publish submission: %w", err)
			}
		}
	}
	if in.Runners != nil {
		if err := PutRunners(ctx, store, in.Runners); err != nil {
			return nil, err
		}
	}
	next, err := updateResults(ctx, store, func(cur *Leaderboard) (*Leaderboard, error) {
		return merge(cur, add, at), nil
	})
	if err != nil {
		return nil, fmt.Errorf("publish results: %w", err)
	}
	return publishDerived(ctx, store, next)
}

// casTries bounds the compare-and-swap loops on one published object;
// each lost race means another publication landed, so running out takes
// that many publications within one of ours.
const casTries = 20

// updateResults replaces published/results.json by change(current) as one
// compare-and-swap: the PUT is conditional on the ETag read, and when
// another approval or retraction replaced the file meanwhile, change is
// applied again to the newer file. change must be a pure function of its
// input (merge is).
func updateResults(ctx context.Context, store PublishStore, change func(cur *Leaderboard) (*Leaderboard, error)) (*Leaderboard, error) {
	for try := 1; ; try++ {
		cur, etag, err := loadResults(ctx, store)
		if err != nil {
			return nil, err
		}
		next, err := change(cur)
		if err != nil {
			return nil, err
		}
		b, err := json.MarshalIndent(next, "", "  ")
		if err != nil {
			return nil, err
		}
		err = store.PutBytesIf(ctx, ResultsKey, append(b, '\n'), "application/json", ifUnchanged(etag))
		if errors.Is(err, blob.ErrPrecondition) && try < casTries {
			continue
		}
		if err != nil {
			return nil, err
		}
		return next, nil
	}
}

// ifUnchanged is the condition that the object is still the one read with
// etag ("" when there was none).
func ifUnchanged(etag string) blob.Condition {
	if etag == "" {
		return blob.Condition{IfAbsent: true}
	}
	return blob.Condition{IfMatch: etag}
}

// publishDerived writes what derives from results.json — regressions.json
// (a failure there is mended by the next publication) and the site — from
// lb, then reads results.json again: if another publication replaced it
// meanwhile (whose own site may have been written before ours), it derives
// again from the newer file, so the last one to finish leaves the site of
// the newest results.
func publishDerived(ctx context.Context, store PublishStore, lb *Leaderboard) (*Leaderboard, error) {
	for try := 1; ; try++ {
		if err := putRegressions(ctx, store, lb); err != nil {
			return nil, err
		}
		if err := PublishSite(ctx, store, lb); err != nil {
			return nil, err
		}
		cur, _, err := loadResults(ctx, store)
		if err != nil {
			return nil, err
		}
		if try >= casTries || sameResults(cur, lb) {
			return lb, nil
		}
		lb = cur
	}
}

// sameResults reports whether a and b publish the same results.
func sameResults(a, b *Leaderboard) bool {
	x, errA := json.Marshal(a)
	y, errB := json.Marshal(b)
	return errA == nil && errB == nil && bytes.Equal(x, y)
}

// PutRunners writes published/runners.json: on every approval, and when a
// key is revoked (`agentwatt runner revoke`), so that offline verification
// learns of the revocation without waiting for the next approval.
func PutRunners(ctx context.Context, store PublishStore, r *verifyd.Runners) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := store.PutBytes(ctx, RunnersKey, append(b, '\n'), "application/json"); err != nil {
		return fmt.Errorf("publish runners: %w", err)
	}
	return nil
}

func historyKey(job string, approved time.Time) string {
	return fmt.Sprintf("%s%s-%s.json", HistoryPrefix, approved.UTC().Format("2006-01-02"), job)
}

// RunnersFile reads the runners.json published in store: where
// `agentwatt verify` finds the enrolled keys of an s3:// bundle
// (verifyd.KeySources.Published).
func RunnersFile(store interface {
	GetBytes(ctx context.Context, key string, limit int64) ([]byte, error)
}) func(ctx context.Context) ([]byte, error) {
	return func(ctx context.Context) ([]byte, error) {
		data, err := store.GetBytes(ctx, RunnersKey, 16<<20)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", RunnersKey, err)
		}
		return data, nil
	}
}

// LoadResults reads published/results.json; none yet is an empty set.
func LoadResults(ctx context.Context, store PublishStore) (*Leaderboard, error) {
	r, _, err := loadResults(ctx, store)
	return r, err
}

// loadResults is LoadResults with the file's ETag ("" when there is none).
func loadResults(ctx context.Context, store PublishStore) (*Leaderboard, string, error) {
	data, etag, err := store.GetBytesVersion(ctx, ResultsKey, 256<<20)
	if errors.Is(err, blob.ErrNotFound) {
		return &Leaderboard{SchemaVersion: ResultsSchemaVersion, Results: []Result{}, History: []Result{}}, "", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("read %s: %w", ResultsKey, err)
	}
	var r Leaderboard
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&r); err != nil {
		return nil, "", fmt.Errorf("%s: %w", ResultsKey, err)
	}
	if r.SchemaVersion != ResultsSchemaVersion {
		return nil, "", fmt.Errorf("%s: schema_version %d, want %d", ResultsKey, r.SchemaVersion, ResultsSchemaVersion)
	}
	return &r, etag, nil
}

// merge appends add to the history and makes it the latest result of its
// config and tier, and derives every result's Change. Republishing the
// same job replaces its own entries.
func merge(cur *Leaderboard, add []Result, at time.Time) *Leaderboard {
	next := &Leaderboard{SchemaVersion: ResultsSchemaVersion, UpdatedAt: at}
	same := func(a, b Result) bool { return a.Job == b.Job && a.Tier == b.Tier }
	for _, h := range cur.History {
		if !slices.ContainsFunc(add, func(r Result) bool { return same(r, h) }) {
			next.History = append(next.History, h)
		}
	}
	next.History = append(next.History, add...)
	slices.SortStableFunc(next.History, func(a, b Result) int { return a.Date.Compare(b.Date) })
	annotate(next.History)
	latest := map[string]Result{}
	var order []string
	for _, h := range next.History {
		k := h.Config + "\x00" + h.Tier
		if _, ok := latest[k]; !ok {
			order = append(order, k)
		}
		latest[k] = h
	}
	for _, k := range order {
		next.Results = append(next.Results, latest[k])
	}
	slices.SortStableFunc(next.Results, func(a, b Result) int {
		if c := strings.Compare(a.Model, b.Model); c != 0 {
			return c
		}
		if c := strings.Compare(a.Tier, b.Tier); c != 0 {
			return c
		}
		switch {
		case a.AgentsPerMW > b.AgentsPerMW:
			return -1
		case a.AgentsPerMW < b.AgentsPerMW:
			return 1
		}
		return 0
	})
	return next
}

func firstOf(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// AgentsPerMWText is Agents/MW as the site shows it: the median and the
// spread over the repeats, "median (min–max)", or the one figure.
func (r Result) AgentsPerMWText() string {
	if s := r.AgentsPerMWSpread; s != nil && r.Repeats > 1 {
		return fmt.Sprintf("%s (%s–%s)", num(s.Median), num(s.Min), num(s.Max))
	}
	return num(r.AgentsPerMW)
}
