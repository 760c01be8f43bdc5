package publish

import (
	"encoding/json"
	"net/http"

	"github.com/rs/zerolog"
)

// SiteHandler serves the leaderboard beside the control plane's API:
//
//	GET /api/results   published/results.json (an empty board before the first publication)
//	GET /              the leaderboard page, rendered from it
//	GET /site.js, /site.css   the page's script and style (SiteAssets)
//
// Every answer carries SiteCSP: the page runs only site.js.
type SiteHandler struct {
	store SiteStore
	log   zerolog.Logger
}

// NewSiteHandler serves the publication in store.
func NewSiteHandler(store SiteStore, log zerolog.Logger) *SiteHandler {
	return &SiteHandler{store: store, log: log}
}

// Register adds the routes to mux.
func (h *SiteHandler) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/results", h.results)
	mux.HandleFunc("GET /runs/{job}/{attempt}/{file}", h.evidence)
	mux.HandleFunc("GET /{$}", h.page)
	mux.HandleFunc("GET /leaderboard", h.page)
	for _, a := range SiteAssets() {
		mux.HandleFunc("GET /"+a.Name, func(w http.ResponseWriter, _ *http.Request) {
			siteHeaders(w, a.ContentType)
			_, _ = w.Write(a.Data)
		})
	}
}

// siteHeaders sets the content type and the strict policy of every answer.
func siteHeaders(w http.ResponseWriter, contentType string) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Security-Policy", SiteCSP+"; frame-ancestors 'none'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
}

func (h *SiteHandler) results(w http.ResponseWriter, r *http.Request) {
	lb, err := LoadResults(r.Context(), h.store)
	if err != nil {
		h.log.Error().Err(err).Msg("load results")
		http.Error(w, "results unavailable", http.StatusServiceUnavailable)
		return
	}
	siteHeaders(w, "application/json")
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
	siteHeaders(w, "text/html; charset=utf-8")
	_, _ = w.Write(html)
}
