package sim

import (
	"math"
	"net/http"
	"strconv"

	"github.com/agentwatt/agentwatt/metrics"
)

// SpecDraftTokens is how many tokens the simulated draft proposes per
// decode step of a sequence when speculative decoding is on.
const SpecDraftTokens = 3

// The vLLM v1 speculative-decoding counters the sim serves at GET /metrics
// (Prometheus text), under vLLM's names so a runner scrapes it as it would
// vLLM.
const (
	MetricSpecDrafts         = metrics.SpecDrafts
	MetricSpecDraftTokens    = metrics.SpecDraftTokens
	MetricSpecAcceptedTokens = metrics.SpecAcceptedTokens
)

// SpecCounters are the speculative-decoding counters since start, derived
// deterministically from the generated tokens: one draft of
// SpecDraftTokens per generated token, and floor(draft tokens × SpecAccept)
// accepted, so Δaccepted/Δdraft is SpecAccept to within a few tokens over
// any window.
type SpecCounters struct {
	Drafts, DraftTokens, AcceptedTokens uint64
}

func specCounters(generated uint64, accept float64) SpecCounters {
	draft := generated * SpecDraftTokens
	return SpecCounters{Drafts: generated, DraftTokens: draft, AcceptedTokens: uint64(math.Floor(float64(draft) * accept))}
}

// Spec returns the speculative-decoding counters; ok is false when the
// config has no speculative decoding (SpecAccept 0).
func (s *Server) Spec() (c SpecCounters, ok bool) {
	if s.cfg.SpecAccept == 0 {
		return SpecCounters{}, false
	}
	return specCounters(s.eng.counters().GeneratedTokens, s.cfg.SpecAccept), true
}

// handleMetrics serves Prometheus text: the speculative-decoding counters
// when they are on, otherwise an empty body (vLLM without a draft model
// has no such series either).
func (s *Server) handleMetrics(w http.ResponseWriter, _ *http.Request) {
	s.abortIfCrashed()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	c, ok := s.Spec()
	if !ok {
		return
	}
	var b []byte
	label := `{model_name="` + s.cfg.Profile.Name + `",engine="0"} `
	for _, m := range []struct {
		name string
		v    uint64
	}{{MetricSpecDrafts, c.Drafts}, {MetricSpecDraftTokens, c.DraftTokens}, {MetricSpecAcceptedTokens, c.AcceptedTokens}} {
		b = append(b, "# TYPE "...)
		b = append(b, m.name...)
		b = append(b, " counter\n"...)
		b = append(b, m.name...)
		b = append(b, label...)
		b = strconv.AppendUint(b, m.v, 10)
		b = append(b, ".0\n"...)
	}
	_, _ = w.Write(b)
}
