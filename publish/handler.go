package publish

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/rs/zerolog"
)

// SiteHandler serves the leaderboard beside the control plane's API:
//
//	GET /api/results, /results.json   published/results.json (an empty board before the first publication)
//	GET /results.csv                  its latest results as CSV
//	GET /, /index.html                the leaderboard page, rendered from it
//	GET /results/{job}/{attempt}.html a published result's page
//	GET /method.html                  the method, from the rules file
//	GET /runs/{job}/{attempt}/{file...}  a published bundle's file (evidence.go)
//	GET /site.js, /site.css, /uPlot…  the pages' scripts and styles (SiteAssets)
//
// Every page carries SiteCSP: the pages run only the site's own scripts.
type SiteHandler struct {
	store SiteStore
	log   zerolog.Logger

	mu    sync.Mutex
	pages map[string][]byte // rendered result pages, by job, attempt and publication time
}

// maxCachedPages bounds the result pages kept rendered. A page reads the
// bundle's power file; a published bundle never changes, so a page is
// rendered once per publication and served from memory after.
const maxCachedPages = 256

// NewSiteHandler serves the publication in store.
func NewSiteHandler(store SiteStore, log zerolog.Logger) *SiteHandler {
	return &SiteHandler{store: store, log: log}
}

// Register adds the routes to mux.
func (h *SiteHandler) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/results", h.results)
	mux.HandleFunc("GET /runs/{job}/{attempt}/{file...}", h.evidence)
	mux.HandleFunc("GET /{$}", h.page)
	mux.HandleFunc("GET /index.html", h.page)
	mux.HandleFunc("GET /leaderboard", h.page)
	mux.HandleFunc("GET /results/{job}/{page}", h.result)
	mux.HandleFunc("GET /method.html", h.method)
	mux.HandleFunc("GET /results.json", h.download)
	mux.HandleFunc("GET /results.csv", h.download)
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

// result serves GET /results/{job}/{attempt}.html.
func (h *SiteHandler) result(w http.ResponseWriter, r *http.Request) {
	job := r.PathValue("job")
	a, ok := strings.CutSuffix(r.PathValue("page"), ".html")
	attempt, okA := parseAttempt(a)
	if !ok || !okA || !validJob(job) {
		http.NotFound(w, r)
		return
	}
	lb, err := LoadResults(r.Context(), h.store)
	if err != nil {
		h.log.Error().Err(err).Msg("load results")
		http.Error(w, "results unavailable", http.StatusServiceUnavailable)
		return
	}
	key := fmt.Sprintf("%s/%d@%d", job, attempt, lb.UpdatedAt.UnixNano())
	h.mu.Lock()
	html, ok := h.pages[key]
	h.mu.Unlock()
	if ok {
		siteHeaders(w, "text/html; charset=utf-8")
		_, _ = w.Write(html)
		return
	}
	html, err = renderResult(r.Context(), h.store, lb, job, attempt, serverLinks(2))
	if err == nil {
		h.mu.Lock()
		if h.pages == nil || len(h.pages) >= maxCachedPages {
			h.pages = map[string][]byte{}
		}
		h.pages[key] = html
		h.mu.Unlock()
	}
	if errors.Is(err, errNoPage) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		h.log.Error().Err(err).Msg("render result")
		http.Error(w, "render failed", http.StatusInternalServerError)
		return
	}
	siteHeaders(w, "text/html; charset=utf-8")
	_, _ = w.Write(html)
}

func (h *SiteHandler) method(w http.ResponseWriter, _ *http.Request) {
	html, err := renderMethod(serverLinks(0))
	if err != nil {
		h.log.Error().Err(err).Msg("render method")
		http.Error(w, "render failed", http.StatusInternalServerError)
		return
	}
	siteHeaders(w, "text/html; charset=utf-8")
	_, _ = w.Write(html)
}

// download serves results.json and results.csv.
func (h *SiteHandler) download(w http.ResponseWriter, r *http.Request) {
	lb, err := LoadResults(r.Context(), h.store)
	if err != nil {
		h.log.Error().Err(err).Msg("load results")
		http.Error(w, "results unavailable", http.StatusServiceUnavailable)
		return
	}
	js, csv, err := Downloads(lb)
	if err != nil {
		h.log.Error().Err(err).Msg("downloads")
		http.Error(w, "render failed", http.StatusInternalServerError)
		return
	}
	if strings.HasSuffix(r.URL.Path, ".csv") {
		siteHeaders(w, "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="results.csv"`)
		_, _ = w.Write(csv)
		return
	}
	siteHeaders(w, "application/json")
	_, _ = w.Write(js)
}
