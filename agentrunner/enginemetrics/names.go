package enginemetrics

import "github.com/agentwatt/agentwatt/metrics"

// Names maps a serving framework (the submission's engine.framework) to the
// metric names scraped from it. The sim serves vLLM's names. vLLM's are
// counters (acceptance = Δaccepted/Δdraft tokens over a window, see
// metrics.SpecAcceptance); SGLang's are gauges of the last batch, recorded
// as read.
var Names = map[string][]string{
	"vllm":   {metrics.SpecDrafts, metrics.SpecDraftTokens, metrics.SpecAcceptedTokens},
	"sim":    {metrics.SpecDrafts, metrics.SpecDraftTokens, metrics.SpecAcceptedTokens},
	"sglang": {"sglang:spec_accept_length", "sglang:spec_accept_rate"},
}

// NamesFor returns the names for framework, or nil when none are known.
func NamesFor(framework string) []string { return Names[framework] }
