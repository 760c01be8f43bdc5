package verifier

import (
	"encoding/json"
	"net/http"

	"github.com/rs/zerolog"
)

// SiteHandler serves the leaderboard beside the control plane's API:
//
//	GET /api/results   published/results.json (an empty board before the first publication)
//	GET /              the leaderboard page, rendered from it
type SiteHandler struct {
	store PublishStore
	log   zerolog.Logger
}

// NewSiteHandler serves the publication in store.
func NewSiteHandler(store PublishStore, log zerolog.Logger) *SiteHandler {
	return &SiteHandler{store: store, log: log}
}

// Register adds the routes to mux.
func (h *SiteHandler) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/results", h.results)
	mux.HandleFunc("GET /{$}", h.page)
	mux.HandleFunc("GET /leaderboard", h.page)
}

func (h *SiteHandler) results(w http.ResponseWriter, r *http.Request) {
	lb, err := LoadResults(r.Context(), h.store)
	if err != nil {
		h.log.Error().Err(err).Msg("load results")
		http.Error(w, "results unavailable", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(lb)
}

func (h *SiteHandler) page(w http.ResponseWriter, r *http.Request) {
	lb, err := LoadResults(r.Context(), h.store)
	if err != nil {
		h.log.Error().Err(err).Msg("load results")
		http.Error(w, "results unavailable", http.StatusServiceUnavailable)
		return
	}
	html, err := RenderSite(lb)
	if err != nil {
		h.log.Error().Err(err).Msg("render site")
		http.Error(w, "render failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src 'self' data:")
	_, _ = w.Write(html)
}
