package retest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/agentwatt/agentwatt/blob"
	"github.com/agentwatt/agentwatt/publish"
)

// Store is what the watcher reads of the publication.
type Store interface {
	publish.PublishStore
	List(ctx context.Context, prefix string) ([]blob.Info, error)
}

var _ Store = (*blob.Store)(nil)

// published is the latest publication of one configuration.
type published struct {
	Config  string
	Job     string
	Version string
	Date    time.Time
}

// publishedConfigs returns the latest published job of every configuration
// (results.json's latest result per config, whatever its tier), leaving
// out a configuration whose most recent publication was retracted: a
// retraction puts the config's previous result back on the leaderboard,
// but that result is not what its vendor last stood behind.
func publishedConfigs(ctx context.Context, store Store, hist *historyCache) ([]published, error) {
	lb, err := publish.LoadResults(ctx, store)
	if err != nil {
		return nil, err
	}
	latest := map[string]published{}
	var order []string
	for _, r := range lb.Results {
		cur, ok := latest[r.Config]
		if !ok {
			order = append(order, r.Config)
		}
		if !ok || r.Date.After(cur.Date) {
			latest[r.Config] = published{Config: r.Config, Job: r.Job, Version: r.FrameworkVersion, Date: r.Date}
		}
	}
	if len(order) == 0 {
		return nil, nil
	}
	retracted, err := hist.retractions(ctx, store)
	if err != nil {
		return nil, err
	}
	out := make([]published, 0, len(order))
	for _, c := range order {
		p := latest[c]
		if at, ok := retracted[c]; ok && !at.Before(p.Date) {
			continue
		}
		out = append(out, p)
	}
	return out, nil
}

// historyEntry is the part of a published/history/ entry read here.
type historyEntry struct {
	ApprovedAt time.Time `json:"approved_at"`
	Results    []struct {
		Config string `json:"config"`
	} `json:"results"`
	Retracted *struct {
		At time.Time `json:"at"`
	} `json:"retracted"`
}

// historyCache keeps the history entries read, by key and ETag: an entry
// is written once and rewritten only by a retraction, so a poll reads only
// the entries that are new or changed since the last.
type historyCache struct {
	mu      sync.Mutex
	entries map[string]cachedEntry
}

type cachedEntry struct {
	etag  string
	entry historyEntry
}

// retractions maps each configuration to the approval time of its most
// recently approved retracted publication.
func (h *historyCache) retractions(ctx context.Context, store Store) (map[string]time.Time, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	infos, err := store.List(ctx, publish.HistoryPrefix)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", publish.HistoryPrefix, err)
	}
	next := make(map[string]cachedEntry, len(infos))
	out := map[string]time.Time{}
	for _, in := range infos {
		if !strings.HasSuffix(in.Key, ".json") {
			continue
		}
		c, ok := h.entries[in.Key]
		if !ok || in.ETag == "" || c.etag != in.ETag {
			data, err := store.GetBytes(ctx, in.Key, 64<<20)
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", in.Key, err)
			}
			c = cachedEntry{etag: in.ETag}
			if err := json.Unmarshal(data, &c.entry); err != nil {
				return nil, fmt.Errorf("%s: %w", in.Key, err)
			}
		}
		next[in.Key] = c
		if c.entry.Retracted == nil {
			continue
		}
		for _, r := range c.entry.Results {
			if at, ok := out[r.Config]; !ok || c.entry.ApprovedAt.After(at) {
				out[r.Config] = c.entry.ApprovedAt
			}
		}
	}
	h.entries = next
	return out, nil
}
