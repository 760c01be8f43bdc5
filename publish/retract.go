package publish

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"slices"
	"time"

	"github.com/agentwatt/agentwatt/blob"
	"github.com/agentwatt/agentwatt/internal/termtext"
)

// Retraction is who withdrew a published job, how they proved it, when and
// why.
type Retraction struct {
	By     string    `json:"by"`
	Via    Via       `json:"via"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// Retract takes a published job off the leaderboard: its results leave
// published/results.json (latest and history, so the previous result of
// the same config becomes the latest again), its result page is replaced
// by a notice, and its entry under published/history/ keeps the results
// with the retraction (reason, who, how, when) added; its results are
// listed in published/retractions.json, for the site's runs of the config.
// The history entry and retractions.json are written first, then
// results.json in one compare-and-swap, then regressions.json (without
// the job's comparisons; a later result compared with it is compared with
// the one before instead), then the site.
//
// The job record keeps its state (published): the queue has no state after
// published, so the retraction lives in the publication.
func Retract(ctx context.Context, store PublishStore, id string, r Retraction) (*Leaderboard, error) {
	if r.By == "" {
		return nil, fmt.Errorf("retract %s: who retracts is required", id)
	}
	if r.Reason == "" {
		return nil, fmt.Errorf("retract %s: a reason is required", id)
	}
	if err := r.Via.Validate(); err != nil {
		return nil, fmt.Errorf("retract %s: %w", id, err)
	}
	if r.At.IsZero() {
		r.At = time.Now()
	}
	r.At = r.At.UTC()
	cur, err := LoadResults(ctx, store)
	if err != nil {
		return nil, err
	}
	var gone *Result
	for i, h := range cur.History {
		if h.Job == id {
			gone = &cur.History[i]
			break
		}
	}
	if gone == nil {
		return nil, fmt.Errorf("retract %s: %w", id, ErrNotPublished)
	}
	histKey := historyKey(id, gone.Date)
	data, err := store.GetBytes(ctx, histKey, 64<<20)
	if err != nil {
		return nil, fmt.Errorf("retract %s: history entry: %w", id, err)
	}
	var entry map[string]any
	if err := json.Unmarshal(data, &entry); err != nil {
		return nil, fmt.Errorf("retract %s: %s: %w", id, histKey, err)
	}
	entry["retracted"] = r
	b, err := json.MarshalIndent(entry, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := store.PutBytes(ctx, histKey, append(b, '\n'), "application/json"); err != nil {
		return nil, fmt.Errorf("retract %s: history: %w", id, err)
	}
	var gones []Result
	for _, h := range cur.History {
		if h.Job == id {
			gones = append(gones, h)
		}
	}
	if err := addRetracted(ctx, store, gones, r); err != nil {
		return nil, fmt.Errorf("retract %s: %w", id, err)
	}
	next, err := updateResults(ctx, store, func(cur *Leaderboard) (*Leaderboard, error) {
		var keep []Result
		for _, h := range cur.History {
			if h.Job != id {
				keep = append(keep, h)
			}
		}
		next := merge(&Leaderboard{History: keep}, nil, r.At)
		if next.Results == nil {
			next.Results = []Result{}
		}
		if next.History == nil {
			next.History = []Result{}
		}
		return next, nil
	})
	if err != nil {
		return nil, fmt.Errorf("retract %s: results: %w", id, err)
	}
	if validJob(id) {
		notice := fmt.Sprintf("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Retracted result</title></head>"+
			"<body><h1>Result retracted</h1><p>Job %s was retracted on %s by %s: %s</p><p><a href=\"../../index.html\">Leaderboard</a></p></body></html>\n",
			html.EscapeString(id), r.At.Format("2006-01-02 15:04 UTC"), html.EscapeString(r.By), html.EscapeString(r.Reason))
		if err := store.PutBytes(ctx, SitePrefix+ResultPath(id, gone.Attempt), []byte(notice), "text/html; charset=utf-8"); err != nil {
			return nil, fmt.Errorf("retract %s: site: %w", id, err)
		}
	}
	return publishDerived(ctx, store, next)
}

// RetractionsKey is published/retractions.json: the results of every
// retracted job, with the retraction; the site marks them in a config's
// runs. results.json no longer names them.
const RetractionsKey = PublishedPrefix + "retractions.json"

// RetractionsSchemaVersion is the version of published/retractions.json.
const RetractionsSchemaVersion = 1

// Retractions is published/retractions.json.
type Retractions struct {
	SchemaVersion int               `json:"schema_version"`
	Retracted     []RetractedResult `json:"retracted"` // in order of retraction
}

// RetractedResult is a result taken off the leaderboard, and why.
type RetractedResult struct {
	Result     Result     `json:"result"`
	Retraction Retraction `json:"retraction"`
}

// LoadRetractions reads published/retractions.json; none yet is an empty
// list.
func LoadRetractions(ctx context.Context, store PublishStore) (*Retractions, error) {
	r, _, err := loadRetractions(ctx, store)
	return r, err
}

// loadRetractions is LoadRetractions with the file's ETag ("" when there
// is none).
func loadRetractions(ctx context.Context, store PublishStore) (*Retractions, string, error) {
	data, etag, err := store.GetBytesVersion(ctx, RetractionsKey, 64<<20)
	if errors.Is(err, blob.ErrNotFound) {
		return &Retractions{SchemaVersion: RetractionsSchemaVersion, Retracted: []RetractedResult{}}, "", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("read %s: %w", RetractionsKey, err)
	}
	var r Retractions
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, "", fmt.Errorf("%s: %w", RetractionsKey, err)
	}
	if r.SchemaVersion != RetractionsSchemaVersion {
		return nil, "", fmt.Errorf("%s: schema_version %d, want %d", RetractionsKey, r.SchemaVersion, RetractionsSchemaVersion)
	}
	return &r, etag, nil
}

// addRetracted lists rs as retracted by r in retractions.json (one
// conditional PUT, redone on a newer file if another retraction landed
// meanwhile); a retraction tried again after a failure lists them once.
func addRetracted(ctx context.Context, store PublishStore, rs []Result, r Retraction) error {
	for try := 1; ; try++ {
		cur, etag, err := loadRetractions(ctx, store)
		if err != nil {
			return err
		}
		for _, x := range rs {
			x.Change = nil // no comparison stands for a retracted result
			if !slices.ContainsFunc(cur.Retracted, func(y RetractedResult) bool {
				return y.Result.Job == x.Job && y.Result.Attempt == x.Attempt && y.Result.Tier == x.Tier
			}) {
				cur.Retracted = append(cur.Retracted, RetractedResult{Result: x, Retraction: r})
			}
		}
		b, err := json.MarshalIndent(cur, "", "  ")
		if err != nil {
			return err
		}
		err = store.PutBytesIf(ctx, RetractionsKey, append(termtext.JSON(b), '\n'), "application/json", ifUnchanged(etag))
		if errors.Is(err, blob.ErrPrecondition) && try < casTries {
			continue
		}
		if err != nil {
			return fmt.Errorf("retractions: %w", err)
		}
		return nil
	}
}
