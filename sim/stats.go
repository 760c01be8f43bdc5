package sim

// Stats is the body of GET /sim/v1/stats: the engine's counters since start.
// Every value describes the simulation, not hardware.
type Stats struct {
	Simulated bool   `json:"simulated"`
	Profile   string `json:"profile"`
	// FrameworkVersion is the version the sim plays (Config.FrameworkVersion).
	FrameworkVersion string `json:"framework_version,omitempty"`
	// Requests counts chat requests received (including rejected ones).
	Requests uint64 `json:"requests"`
	Running  int    `json:"running"`
	Waiting  int    `json:"waiting"`
	Finished uint64 `json:"finished"`
	// Aborted counts requests cancelled by their client or by a fault.
	Aborted         uint64 `json:"aborted"`
	Preemptions     uint64 `json:"preemptions"`
	PromptTokens    uint64 `json:"prompt_tokens"`
	CachedTokens    uint64 `json:"cached_tokens"`
	GeneratedTokens uint64 `json:"generated_tokens"`
	Steps           uint64 `json:"steps"`
	// VirtualNS is the engine's virtual clock; BusyVirtualNS the part of it
	// spent in steps.
	VirtualNS     int64 `json:"virtual_ns"`
	BusyVirtualNS int64 `json:"busy_virtual_ns"`
	// KVBlocksCapacity is 0 when unlimited.
	KVBlocksCapacity int         `json:"kv_blocks_capacity"`
	KVBlocksUsed     int         `json:"kv_blocks_used"`
	CachedBlocks     int         `json:"prefix_cache_blocks"`
	Evictions        uint64      `json:"prefix_cache_evictions"`
	Faults           FaultCounts `json:"faults"`
}

// FaultCounts counts injected faults.
type FaultCounts struct {
	ServerErrors     uint64 `json:"server_errors"`
	MidStreamErrors  uint64 `json:"mid_stream_errors"`
	Stalls           uint64 `json:"stalls"`
	IgnoredMinTokens uint64 `json:"ignored_min_tokens"`
	OracleAnswers    uint64 `json:"oracle_answers"`
	Crashed          bool   `json:"crashed"`
}
