package publish

import (
	"context"
	"errors"
	"io"
	"net/http"
	"path"
	"strconv"
	"strings"

	"github.com/agentwatt/agentwatt/blob"
	"github.com/agentwatt/agentwatt/bundle"
)

// SiteStore is what the site's handler needs from object storage: the
// publication, and the bundles it links to, streamed.
type SiteStore interface {
	PublishStore
	Get(ctx context.Context, key string) (io.ReadCloser, error)
}

var _ SiteStore = (*blob.Store)(nil)

// evidenceCSP is the policy of a served bundle file: nothing in it may run,
// even if a browser were talked into rendering it.
const evidenceCSP = "default-src 'none'; sandbox"

// maxManifest bounds the manifest the route reads to learn a bundle's files.
const maxManifest = 4 << 20

// validJob reports whether job may name a bundle on the evidence route: the
// queue's ids (32 hex digits) and the test ids, letters, digits, '_' and
// '-', at most 64 bytes — never '.', '/', '%' or anything else a key or a
// path could be built from.
func validJob(job string) bool {
	if job == "" || len(job) > 64 || job[0] == '-' {
		return false
	}
	for i := 0; i < len(job); i++ {
		c := job[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// parseAttempt accepts a positive attempt number in its one canonical
// spelling.
func parseAttempt(s string) (int, bool) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || strconv.Itoa(n) != s {
		return 0, false
	}
	return n, true
}

// isPublished reports whether job's attempt has a published result (latest
// or in its history): the only bundles the route serves.
func isPublished(lb *Leaderboard, job string, attempt int) bool {
	for _, rs := range [][]Result{lb.Results, lb.History} {
		for _, r := range rs {
			if r.Job == job && r.Attempt == attempt {
				return true
			}
		}
	}
	return false
}

// evidenceContentType is what a bundle file is served as: JSON as JSON,
// the rest as bytes to download. Nothing is served as HTML.
func evidenceContentType(name string) (ctype string, attachment bool) {
	switch {
	case strings.HasSuffix(name, ".json"):
		return "application/json", false
	case strings.HasSuffix(name, ".jsonl"):
		return "text/plain; charset=utf-8", false
	case strings.HasSuffix(name, ".zst"):
		return "application/zstd", true
	}
	return "application/octet-stream", true
}

// evidence serves GET /runs/{job}/{attempt}/{file...}: a file of a published
// bundle, streamed from the store. The job and attempt must be those of a
// published result; the file must be the manifest, its envelope, the
// verdict, or a file the manifest lists. Anything else is 404, the same
// answer as a missing file, so the route tells nothing about what else the
// bucket holds. A file may be nested only as bundle.ValidName allows (a
// runner group member's power/<member>.jsonl.zst).
func (h *SiteHandler) evidence(w http.ResponseWriter, r *http.Request) {
	job, file := r.PathValue("job"), r.PathValue("file")
	attempt, ok := parseAttempt(r.PathValue("attempt"))
	if !ok || !validJob(job) || !(bundle.ValidName(file) || file == bundle.ManifestFile || file == bundle.EnvelopeFile || file == bundle.VerdictFile) {
		http.NotFound(w, r)
		return
	}
	ctx := r.Context()
	lb, err := LoadResults(ctx, h.store)
	if err != nil {
		h.log.Error().Err(err).Msg("load results")
		http.Error(w, "results unavailable", http.StatusServiceUnavailable)
		return
	}
	if !isPublished(lb, job, attempt) {
		http.NotFound(w, r)
		return
	}
	if bundle.ValidName(file) {
		data, err := h.store.GetBytes(ctx, bundle.Key(job, attempt, bundle.ManifestFile), maxManifest)
		if err != nil {
			h.evidenceError(w, r, err)
			return
		}
		m, err := bundle.DecodeManifest(bundle.ManifestFile, data)
		if err != nil {
			h.log.Error().Err(err).Str("job", job).Int("attempt", attempt).Msg("read published manifest")
			http.Error(w, "manifest unreadable", http.StatusInternalServerError)
			return
		}
		if _, ok := m.File(file); !ok {
			http.NotFound(w, r)
			return
		}
	}
	rc, err := h.store.Get(ctx, bundle.Key(job, attempt, file))
	if err != nil {
		h.evidenceError(w, r, err)
		return
	}
	defer rc.Close()
	ctype, attachment := evidenceContentType(file)
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Security-Policy", evidenceCSP)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if attachment {
		w.Header().Set("Content-Disposition", `attachment; filename="`+path.Base(file)+`"`)
	}
	if _, err := io.Copy(w, rc); err != nil && !errors.Is(err, context.Canceled) {
		h.log.Warn().Err(err).Str("job", job).Int("attempt", attempt).Str("file", file).Msg("stream evidence")
	}
}

func (h *SiteHandler) evidenceError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, blob.ErrNotFound) {
		http.NotFound(w, r)
		return
	}
	h.log.Error().Err(err).Msg("read evidence")
	http.Error(w, "evidence unavailable", http.StatusServiceUnavailable)
}
