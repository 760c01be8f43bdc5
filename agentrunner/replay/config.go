package replay

import (
	"github.com/agentwatt/agentwatt/bundle"

	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/agentrunner/loadgen"
	"github.com/agentwatt/agentwatt/metrics"
	"github.com/agentwatt/agentwatt/spec"
	"github.com/agentwatt/agentwatt/workload"
)

// History modes: what the assistant turns of a replayed history are.
const (
	// HistoryRecorded replays the trace's own assistant turns (its text or
	// blocks), so that every prompt matches the trace exactly. The default.
	HistoryRecorded = bundle.HistoryRecorded
	// HistoryLive replaces them with what the server answered (live.go);
	// allowed only for workloads whose trajectories are all literal text.
	// The prompts then differ from the trace, and a turn's
	// target_prompt_tokens is counted from the request actually sent.
	HistoryLive = bundle.HistoryLive
)

// Config configures a Runner. Every benchmark number comes from Rules and
// Profile; the rest says what to run against and where results go.
type Config struct {
	// Endpoint is the server's base URL (http://host:port, a trailing /v1
	// accepted). Model is the model name; "" asks /v1/models.
	Endpoint string
	Model    string
	// APIKey is sent as a bearer token when set; AffinityHeader, when set,
	// names a header that carries each request's session id (e.g.
	// "X-Session-ID"), for routers with session affinity.
	APIKey         string
	AffinityHeader string

	// Workload is what the agents replay.
	Workload *workload.Workload
	// Rules and Profile hold every number; Profile must be one of Rules'.
	Rules   *spec.Rules
	Profile *spec.Profile
	// Tiers are the tier ids searched or judged; empty: every rules tier.
	Tiers []string
	// MaxAgents, when > 0, is the most agents a search probes or a fixed
	// run may judge (`--max-agents`), below the profile's max_agents and
	// the engine's reported sequence limit.
	MaxAgents int
	// Repeats is the windows a search measures each confirmed tier in at
	// its N_max (benchmark.repeats): the confirmation window and Repeats −
	// 1 repeat probes (bundle.PurposeRepeat). 0 or 1: none.
	Repeats int
	// MemoryBudget is the memory, in bytes, the agents may use: an N whose
	// agents would need more (BytesPerAgent) is not probed. 0:
	// DefaultMemoryBudget.
	MemoryBudget int64
	// Seed makes the trajectory order, start turns, sessions, salts and the
	// chunk-timing sample reproducible.
	Seed uint64
	// History is HistoryRecorded (default) or HistoryLive.
	History string
	// Template is the server's chat-template overhead, used for each
	// request's target_prompt_tokens (workload.TargetPromptTokens).
	Template workload.ChatTemplate

	// Clock is the run's clock, shared with whatever else times the run (the
	// runner's power sampler); zero: a clock started by New.
	Clock loadgen.Clock
	// Recorder receives every request record as it completes (an *Output
	// writes requests.jsonl.zst); nil: records are only evaluated.
	Recorder Recorder
	// Log receives progress and problems.
	Log zerolog.Logger
	// Progress, when set, is called about four times a second while probes
	// run, from one goroutine.
	Progress func(Progress)
	// Events, when set, is called at each probe's window start and end and
	// when a probe has been evaluated, from one goroutine, in order. The
	// runner's power sampler uses the window marks to cut energy windows.
	Events func(Event)
}

// Recorder receives request records; it must be safe for concurrent use.
type Recorder interface {
	Record(r *metrics.Request) error
}

// Validate checks the configuration; an error names the field. It changes
// nothing: a zero Tiers, History or MemoryBudget means the default, which
// New fills (withDefaults).
func (c *Config) Validate() error {
	var errs []string
	if c.Endpoint == "" {
		errs = append(errs, "endpoint is required")
	}
	if c.Workload == nil || len(c.Workload.Trajectories) == 0 {
		errs = append(errs, "a workload with at least one trajectory is required")
	}
	if c.Rules == nil {
		errs = append(errs, "rules are required")
	}
	if c.Profile == nil {
		errs = append(errs, "a rules profile is required")
	}
	if c.Rules != nil {
		for _, id := range c.Tiers {
			if _, ok := c.Rules.Tier(id); !ok {
				errs = append(errs, fmt.Sprintf("tier %q is not in rules %s (known: %s)", id, c.Rules.Version, strings.Join(c.Rules.TierIDs(), ", ")))
			}
		}
		if len(slices.Compact(slices.Sorted(slices.Values(c.Tiers)))) != len(c.Tiers) {
			errs = append(errs, "tiers repeat")
		}
	}
	switch c.History {
	case "", HistoryRecorded:
	case HistoryLive:
		if c.Workload != nil {
			if err := checkLiveHistory(c.Workload); err != nil {
				errs = append(errs, err.Error())
			}
		}
	default:
		errs = append(errs, fmt.Sprintf("history %q: want %s or %s", c.History, HistoryRecorded, HistoryLive))
	}
	if c.MaxAgents < 0 {
		errs = append(errs, fmt.Sprintf("max agents %d must not be negative", c.MaxAgents))
	}
	if c.Repeats < 0 || c.Repeats > spec.MaxRepeats {
		errs = append(errs, fmt.Sprintf("repeats %d: want 1 to %d", c.Repeats, spec.MaxRepeats))
	}
	if c.MemoryBudget < 0 {
		errs = append(errs, fmt.Sprintf("memory budget %d must not be negative", c.MemoryBudget))
	}
	if c.Template.PerRequest < 0 || c.Template.PerMessage < 0 || c.Template.PerToolCall < 0 {
		errs = append(errs, "chat template token counts must not be negative")
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %s", ErrConfig, strings.Join(errs, "; "))
	}
	return nil
}

// withDefaults is c with its zero fields defaulted: every rules tier,
// HistoryRecorded, DefaultMemoryBudget. c must be valid.
func (c Config) withDefaults() Config {
	if len(c.Tiers) == 0 {
		c.Tiers = c.Rules.TierIDs()
	}
	if c.History == "" {
		c.History = HistoryRecorded
	}
	if c.MemoryBudget == 0 {
		c.MemoryBudget = DefaultMemoryBudget()
	}
	if c.Repeats == 0 {
		c.Repeats = spec.DefaultRepeats
	}
	return c
}

// tiers returns the searched tiers as metrics tiers, in Config order.
func (c *Config) tiers() []metrics.Tier {
	out := make([]metrics.Tier, 0, len(c.Tiers))
	for _, id := range c.Tiers {
		t, _ := c.Rules.Tier(id)
		out = append(out, metrics.TierOf(t))
	}
	return out
}

// stallTimeout aborts a request that receives nothing for this long: the
// profile's longest window, past which a probe is inconclusive anyway.
func (c *Config) stallTimeout() time.Duration { return c.Profile.MaxWindow.Duration }

// maxRequestTime cuts a request, however steadily its events come, at twice
// the profile's longest window: a probe waits for its window's requests,
// and a server streaming empty events forever must not hold it open.
func (c *Config) maxRequestTime() time.Duration { return 2 * c.Profile.MaxWindow.Duration }
