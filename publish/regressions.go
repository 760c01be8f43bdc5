package publish

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/agentwatt/agentwatt/blob"
	"github.com/agentwatt/agentwatt/internal/termtext"
	"github.com/agentwatt/agentwatt/metrics"
	"github.com/agentwatt/agentwatt/spec"
)

// RegressionsKey is published/regressions.json: every regression and
// improvement between framework versions in the published history.
const RegressionsKey = PublishedPrefix + "regressions.json"

// RegressionsSchemaVersion is the version of published/regressions.json.
const RegressionsSchemaVersion = 1

// Change is a result's change against the latest earlier published result
// of its config and tier at a different framework version, when it is
// flagged (metrics.VersionChange).
type Change struct {
	Kind                metrics.ChangeKind `json:"kind"`
	Change              float64            `json:"change"` // (this − previous) / previous, of Agents/MW
	PreviousVersion     string             `json:"previous_version"`
	PreviousJob         string             `json:"previous_job"`
	PreviousAttempt     int                `json:"previous_attempt"`
	PreviousAgentsPerMW float64            `json:"previous_agents_per_mw"`
	Threshold           float64            `json:"threshold"` // the rules' regression.threshold
	Spread              float64            `json:"spread"`    // the results' spread (0: one run each)
}

// Regression is one entry of published/regressions.json: a regression or
// an improvement, with both sides.
type Regression struct {
	// ID is stable for the pair (config, tier, both jobs): whoever files an
	// issue for an entry files it once.
	ID        string             `json:"id"`
	Kind      metrics.ChangeKind `json:"kind"`
	Config    string             `json:"config"`
	Tier      string             `json:"tier"`
	Change    float64            `json:"change"`
	Threshold float64            `json:"threshold"`
	Spread    float64            `json:"spread"`
	Date      time.Time          `json:"date"` // when the current result was published
	Previous  RegressionRun      `json:"previous"`
	Current   RegressionRun      `json:"current"`
}

// RegressionRun is one side of a Regression.
type RegressionRun struct {
	Job              string    `json:"job"`
	Attempt          int       `json:"attempt"`
	FrameworkVersion string    `json:"framework_version"`
	AgentsPerMW      float64   `json:"agents_per_mw"`
	MaxAgents        int       `json:"max_agents"`
	Date             time.Time `json:"date"`
	Bundle           string    `json:"bundle"`         // s3:// URL of the bundle
	Verdict          string    `json:"verdict"`        // s3:// URL of verdict.json
	Page             string    `json:"page,omitempty"` // the result page, below the site's root
}

// Regressions is published/regressions.json.
type Regressions struct {
	SchemaVersion int          `json:"schema_version"`
	UpdatedAt     time.Time    `json:"updated_at"`
	Regressions   []Regression `json:"regressions"` // oldest first, regressions and improvements
}

// previousOf is the index in hist (publication order) of the result that
// hist[i] is compared with: the latest earlier one of the same config and
// tier at a different framework version, judged alike (comparable); -1
// when there is none.
func previousOf(hist []Result, i int) int {
	r := hist[i]
	for j := i - 1; j >= 0; j-- {
		h := hist[j]
		if h.Config == r.Config && h.Tier == r.Tier && h.FrameworkVersion != r.FrameworkVersion && comparable(h, r) {
			return j
		}
	}
	return -1
}

// comparable: two results were judged alike — same rules and profile, same
// workload, same power boundary, both simulated or both not. Anything else
// is a different benchmark, not a different version.
func comparable(a, b Result) bool {
	return a.RulesVersion == b.RulesVersion && a.Profile == b.Profile && a.WorkloadDigest == b.WorkloadDigest &&
		a.PowerBoundary == b.PowerBoundary && a.Simulated == b.Simulated
}

// spreadOf is the relative spread of Agents/MW that a comparison of a and
// b must exceed besides the threshold: the larger of the two results'
// (max − min) / median of Agents/MW across their repeats
// (metrics.Spread.Relative); 0 for results of one run.
func spreadOf(a, b Result) float64 { return max(relativeSpread(a), relativeSpread(b)) }

func relativeSpread(r Result) float64 {
	if r.AgentsPerMWSpread == nil {
		return 0
	}
	return r.AgentsPerMWSpread.Relative()
}

// annotate sets every result's Change from the history before it (hist is
// in publication order). Changes are derived, never stored state: a
// retraction re-derives them, so a result whose previous version was
// retracted is compared with the one before that (or with none).
func annotate(hist []Result) {
	thresholds := map[string]float64{}
	thresholdOf := func(version string) (float64, bool) {
		if t, ok := thresholds[version]; ok {
			return t, t > 0
		}
		r, err := spec.LoadRules(version)
		if err != nil {
			thresholds[version] = 0
			return 0, false // results judged by rules this binary lacks are not compared
		}
		thresholds[version] = r.Regression.Threshold
		return r.Regression.Threshold, true
	}
	for i := range hist {
		hist[i].Change = nil
		j := previousOf(hist, i)
		if j < 0 {
			continue
		}
		prev, cur := hist[j], hist[i]
		threshold, ok := thresholdOf(cur.RulesVersion)
		if !ok {
			continue
		}
		spread := spreadOf(prev, cur)
		change, kind, ok := metrics.VersionChange(prev.AgentsPerMW, cur.AgentsPerMW, threshold, spread)
		if !ok || kind == "" {
			continue
		}
		hist[i].Change = &Change{Kind: kind, Change: change, PreviousVersion: prev.FrameworkVersion, PreviousJob: prev.Job,
			PreviousAttempt: prev.Attempt, PreviousAgentsPerMW: prev.AgentsPerMW, Threshold: threshold, Spread: spread}
	}
}

// regressionsOf lists the flagged changes of an annotated leaderboard.
func regressionsOf(lb *Leaderboard) *Regressions {
	out := &Regressions{SchemaVersion: RegressionsSchemaVersion, UpdatedAt: lb.UpdatedAt, Regressions: []Regression{}}
	for _, r := range lb.History {
		c := r.Change
		if c == nil {
			continue
		}
		var prev *Result
		for i, h := range lb.History {
			if h.Job == c.PreviousJob && h.Attempt == c.PreviousAttempt && h.Tier == r.Tier {
				prev = &lb.History[i]
			}
		}
		if prev == nil {
			continue // annotate found it in this history
		}
		out.Regressions = append(out.Regressions, Regression{ID: regressionID(r.Config, r.Tier, prev.Job, r.Job), Kind: c.Kind,
			Config: r.Config, Tier: r.Tier, Change: c.Change, Threshold: c.Threshold, Spread: c.Spread, Date: r.Date,
			Previous: runOf(*prev), Current: runOf(r)})
	}
	return out
}

func runOf(r Result) RegressionRun {
	run := RegressionRun{Job: r.Job, Attempt: r.Attempt, FrameworkVersion: r.FrameworkVersion, AgentsPerMW: r.AgentsPerMW,
		MaxAgents: r.MaxAgents, Date: r.Date, Bundle: r.Bundle, Verdict: r.Verdict}
	if validJob(r.Job) && r.Attempt > 0 {
		run.Page = ResultPath(r.Job, r.Attempt)
	}
	return run
}

// regressionID names a comparison: hex sha256 of config, tier and both
// jobs, so that vendor strings never reach the id.
func regressionID(config, tier, prevJob, job string) string {
	sum := sha256.Sum256([]byte(config + "\x00" + tier + "\x00" + prevJob + "\x00" + job))
	return hex.EncodeToString(sum[:16])
}

// putRegressions replaces published/regressions.json with lb's changes, in
// one PUT. The bidi and control characters encoding/json leaves raw are
// written as \u escapes (the same JSON value), so the file reads true in a
// terminal or a browser's raw view.
func putRegressions(ctx context.Context, store PublishStore, lb *Leaderboard) error {
	b, err := json.MarshalIndent(regressionsOf(lb), "", "  ")
	if err != nil {
		return err
	}
	if err := store.PutBytes(ctx, RegressionsKey, append(termtext.JSON(b), '\n'), "application/json"); err != nil {
		return fmt.Errorf("publish regressions: %w", err)
	}
	return nil
}

// LoadRegressions reads published/regressions.json; none yet is an empty
// list.
func LoadRegressions(ctx context.Context, store PublishStore) (*Regressions, error) {
	data, err := store.GetBytes(ctx, RegressionsKey, 64<<20)
	if errors.Is(err, blob.ErrNotFound) {
		return &Regressions{SchemaVersion: RegressionsSchemaVersion, Regressions: []Regression{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", RegressionsKey, err)
	}
	var r Regressions
	if err := json.NewDecoder(bytes.NewReader(data)).Decode(&r); err != nil {
		return nil, fmt.Errorf("%s: %w", RegressionsKey, err)
	}
	if r.SchemaVersion != RegressionsSchemaVersion {
		return nil, fmt.Errorf("%s: schema_version %d, want %d", RegressionsKey, r.SchemaVersion, RegressionsSchemaVersion)
	}
	return &r, nil
}
