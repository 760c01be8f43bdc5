package publish

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"time"
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
// with the retraction (reason, who, how, when) added. The history entry is
// written first, then results.json in one replace, then the site.
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
	var keep []Result
	var gone *Result
	for i, h := range cur.History {
		if h.Job == id {
			gone = &cur.History[i]
			continue
		}
		keep = append(keep, h)
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
	next := merge(&Leaderboard{History: keep}, nil, r.At)
	if next.Results == nil {
		next.Results = []Result{}
	}
	if next.History == nil {
		next.History = []Result{}
	}
	if b, err = json.MarshalIndent(next, "", "  "); err != nil {
		return nil, err
	}
	if err := store.PutBytes(ctx, ResultsKey, append(b, '\n'), "application/json"); err != nil {
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
	if err := PublishSite(ctx, store, next); err != nil {
		return nil, err
	}
	return next, nil
}
